"""Start worker processes without forking the (threaded) daemon: through the zygote.

Options measured (benchmarks/bench_sandbox.py, docs/performance.md "Sandbox"):
- forking the daemon directly: fastest, but a fork of a threaded process can deadlock the child
  on a lock another thread held (logging, allocator, import lock). Not used.
- multiprocessing "spawn": safe, but a fresh interpreter and all imports per worker.
- multiprocessing "forkserver": safe and fast, but it re-imports the daemon's ``__main__``
  module in every child and speaks pickle; a worker must run none of the daemon's code.
- our zygote (``zygote.py``): a single-threaded process started by fork+exec that preloads the
  worker code and forks on request. Chosen: fork speed, nothing of the daemon in the child,
  a JSON control protocol, and pids that stay valid until the host reaps them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

from . import coverage_handback
from .channel import Channel

_BOOT = (
    "import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
    "from midimon.sandbox.zygote import main; main(sys.argv[2:])"
)


#: The only variables of the daemon's environment a worker inherits: locale and time zone.
#: Everything else (tokens, SSH_AUTH_SOCK, DBUS_SESSION_BUS_ADDRESS...) stays in the daemon:
#: ``os.environ.clear()`` in the worker would not erase it from /proc/self/environ, which shows
#: the environment the process was started with.
ZYGOTE_ENV_KEEP = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONHASHSEED")


def zygote_environment() -> dict[str, str]:
    return {k: os.environ[k] for k in ZYGOTE_ENV_KEEP if k in os.environ}


class ZygoteError(OSError):
    """The zygote could not be started or stopped answering."""


class Zygote:
    """Host-side handle of the zygote process. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ctrl: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        #: Bumped at each (re)start: a worker from an earlier zygote must be killed directly.
        self.generation = 0

    def _ensure(self) -> socket.socket:
        if self._ctrl is not None and self._proc is not None and self._proc.poll() is None:
            return self._ctrl
        self._close()
        host_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _BOOT,
                    json.dumps(sys.path),
                    str(zygote_end.fileno()),
                    *coverage_handback.zygote_args(),  # [] except under scripts/coverage
                ],
                pass_fds=(zygote_end.fileno(),),
                stdin=subprocess.DEVNULL,
                close_fds=True,
                env=zygote_environment(),
            )
        except OSError as exc:
            host_end.close()
            raise ZygoteError(f"cannot start the plugin zygote: {exc}") from None
        finally:
            zygote_end.close()
        self._ctrl = host_end
        self.generation += 1
        self._request_locked({"op": "ping"})  # wait until it has imported everything
        return host_end

    def _request_locked(self, request: dict[str, Any], fds: list[int] | None = None) -> dict[str, Any]:
        ctrl = self._ctrl
        assert ctrl is not None
        try:
            socket.send_fds(ctrl, [json.dumps(request).encode()], fds or [])
            data = ctrl.recv(65536)
        except OSError as exc:
            self._close()
            raise ZygoteError(f"plugin zygote stopped answering: {exc}") from None
        if not data:
            self._close()
            raise ZygoteError("plugin zygote exited")
        return json.loads(data)

    def request(
        self, request: dict[str, Any], fds: list[int] | None = None, generation: int | None = None
    ) -> dict[str, Any]:
        """Send one request; with ``generation``, only to that zygote (else ZygoteError)."""
        with self._lock:
            self._ensure()
            if generation is not None and generation != self.generation:
                raise ZygoteError("the zygote that started this worker is gone")
            reply = self._request_locked(request, fds)
            reply["generation"] = self.generation
            return reply

    def start(self) -> None:
        with self._lock:
            self._ensure()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _close(self) -> None:
        if self._ctrl is not None:
            self._ctrl.close()  # EOF makes the zygote kill its workers and exit
            self._ctrl = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            self._close()


_zygote = Zygote()


def prepare() -> None:
    """Start the zygote now. The daemon calls this early, so the first plugin does not wait for
    it; calling it later (or never) is still correct."""
    _zygote.start()


def precompile(source: str, filename: str, max_source_bytes: int) -> bool:
    """Have the zygote compile ``source`` once, for every worker it forks afterwards (code the
    host trusts to compile: an idle first-party plugin). False when it could not."""
    request = {"op": "precompile", "source": source, "filename": filename, "max_source_bytes": max_source_bytes}
    if len(json.dumps(request)) > 60000:  # over the control socket's message size
        return False
    try:
        return bool(_zygote.request(request).get("ok"))
    except ZygoteError:
        return False


def shutdown() -> None:
    """Stop the zygote and every worker it started."""
    _zygote.close()


class WorkerProcess:
    """One live worker: its pid and the host's end of its socket."""

    def __init__(self, limits_data: dict[str, Any], max_message_bytes: int) -> None:
        host_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = _zygote.request({"op": "spawn", "limits": limits_data}, [child_sock.fileno()])
        except ZygoteError:
            host_sock.close()
            raise
        finally:
            child_sock.close()
        self.pid: int = int(reply["pid"])
        self.generation: int = int(reply["generation"])
        self.channel = Channel(host_sock, max_message_bytes)
        self.exitcode: int | None = None
        self._reaped = False

    def kill(self, wait: float = 1.0) -> None:
        """SIGKILL and reap: a plugin stuck in C code or in ``finally:`` cannot delay it."""
        self.channel.close()
        if self._reaped:
            return
        try:
            reply = _zygote.request({"op": "kill", "pid": self.pid}, generation=self.generation)
            self.exitcode = reply.get("exitcode")
        except ZygoteError:
            # The zygote is gone, so the worker was re-parented and cannot be reaped by us;
            # signal it directly (its pid cannot have been reused while it is alive).
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reaped = True

    def exit_description(self) -> str:
        """Reap a worker that died by itself and say why, in words."""
        self.kill()
        code = self.exitcode
        if code is None:
            return "exit status unknown"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = {
                "SIGKILL": "killed, most likely out of memory",
                "SIGXCPU": "CPU time limit reached",
                "SIGSEGV": "crashed",
            }.get(name, name)
            return f"{name}: {hint}"
        return f"exit code {code}"
