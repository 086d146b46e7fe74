"""The zygote: a single-threaded process that forks plugin workers on the host's request.

Started once by fork+exec (``subprocess``, safe from a threaded daemon), it imports everything a
worker needs, then waits on its control socket. For each request it forks: the child becomes a
worker on the socket the host passed along (SCM_RIGHTS); the zygote answers with the pid.

The zygote never reaps a worker on its own: a dead worker stays a zombie until the host asks for
``kill`` (SIGKILL, then waitpid). So the pid the host holds can never be recycled under it, and
the host can never make the zygote signal a process that is not one of its workers. When the
host goes away (control socket EOF) the zygote kills its workers and exits.
"""

from __future__ import annotations

import gc
import json
import os
import random
import signal
import socket
import sys
from typing import Any

from . import coverage_handback

MAX_CONTROL_MESSAGE = 65536


def _serve(ctrl: socket.socket) -> None:
    from . import worker_main  # preload: every worker starts with this already imported

    if os.geteuid() == 0:
        # Workers of a root daemon leave root (privileges.py) and may then be unable to read a
        # standard library under /root: import the codecs once here (about 90 ms, 5 MB shared).
        from .privileges import preload_codecs

        preload_codecs()

    # Work every worker would repeat, done once here and inherited by fork: the Landlock ABI
    # and a ruleset holding the read rules (sysconfig's paths, checked and opened), the last
    # capability number, the seccomp program, libc's handle (confine.Prepared). Each worker
    # still applies every step to itself.
    from . import confine

    confine.prepare()

    # Move everything imported so far out of the collector's reach: a forked worker's first
    # collection would otherwise touch (and so copy) every page of the preloaded modules.
    gc.collect()
    gc.freeze()
    children: set[int] = set()
    try:
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(ctrl, MAX_CONTROL_MESSAGE, 4)
            except InterruptedError:
                continue
            if not data:
                break
            request = json.loads(data)
            op = request.get("op")
            if op == "spawn" and len(fds) == 1:
                pair = coverage_handback.before_fork()  # None unless scripts/coverage runs
                pid = os.fork()
                coverage_handback.after_fork(pid, pair)
                if pid == 0:  # the worker
                    code = 70
                    try:
                        ctrl.close()
                        os.setsid()  # out of the daemon's terminal process group
                        random.seed()  # else every worker would share the zygote's sequence
                        worker_main.run(socket.socket(fileno=fds[0]), request.get("limits", {}))
                        code = 0
                    finally:
                        os._exit(code)
                os.close(fds[0])
                children.add(pid)
                reply: dict[str, Any] = {"pid": pid}
            elif op == "kill":
                pid = int(request.get("pid", 0))
                reply = {"pid": pid, "exitcode": None}
                if pid in children:
                    coverage_handback.collect(pid)
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    _, status = os.waitpid(pid, 0)
                    children.discard(pid)
                    reply["exitcode"] = os.waitstatus_to_exitcode(status)
            elif op == "precompile":  # code the host trusts to compile (its own plugins)
                for fd in fds:
                    os.close(fd)
                reply = {"ok": _precompile(request)}
            elif op == "ping":
                reply = {"pid": os.getpid(), "workers": len(children)}
            else:
                for fd in fds:
                    os.close(fd)
                reply = {"error": f"bad request {op!r}"}
            ctrl.send(json.dumps(reply).encode())
    finally:
        for pid in children:
            coverage_handback.collect(pid, wait=0.2)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass


def _precompile(request: dict[str, Any]) -> bool:
    """Compile in a throwaway child and keep only the code object (``precompiled.py``)."""
    from . import precompiled

    source, filename = str(request.get("source", "")), str(request.get("filename", ""))
    if precompiled.known(source, filename):
        return True
    limit = int(request.get("max_source_bytes", 512 * 1024))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compile, write, go (it never runs plugin code)
        code = 70
        try:
            os.close(r)
            with os.fdopen(w, "wb") as out:
                out.write(precompiled.compile_marshal(source, filename, limit))
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0 and precompiled.put(source, filename, data)


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    argv = coverage_handback.start_zygote(argv)
    ctrl = socket.socket(fileno=int(argv[0]))
    try:
        _serve(ctrl)
    finally:
        coverage_handback.save_zygote()
    sys.exit(0)
