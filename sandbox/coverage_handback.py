"""Coverage of worker-side code, for ``scripts/coverage`` only: workers hand their data back.

A worker cannot write a file (Landlock, RLIMIT_FSIZE 0) and the host ends it with SIGKILL, so
coverage's own data file can never exist for it. When, and only when, the host process is
itself measured by coverage and ``MIDIMON_COVERAGE_WORKERS=1`` is set (``scripts/coverage`` does
both), the zygote is started with ``--coverage``: it measures itself, and each worker it forks
gets one extra socket back to the zygote. The worker sends its data there as it ends by itself,
or when the zygote asks (SIGUSR1) just before the SIGKILL; the zygote, which may write files,
saves it beside the other data files for ``coverage combine``.

A normal run never gets here: the zygote has no ``--coverage`` flag, so a worker keeps exactly
the same descriptors, signal handlers and confinement.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
from typing import Any

FLAG = "--coverage"
ENV = "MIDIMON_COVERAGE_WORKERS"
_HEADER = struct.Struct("!Q")
_WAIT = 1.0  # seconds the zygote waits for a worker's data before the SIGKILL

_cov: Any = None  # the zygote's (and, inherited, each worker's) coverage.Coverage
_data_file: str | None = None
_child_sock: socket.socket | None = None  # in a worker: its end of the socket to the zygote
_parents: dict[int, socket.socket] = {}  # in the zygote: worker pid -> its socket


# -- host ------------------------------------------------------------------------------------------
def zygote_args() -> list[str]:
    """Extra zygote arguments: ``--coverage SETTINGS`` in a measured coverage run, else none."""
    if os.environ.get(ENV) != "1" or "coverage" not in sys.modules:
        return []
    import coverage

    current = coverage.Coverage.current()
    if current is None:
        return []
    settings = {
        "config_file": current.config.config_file,
        "data_file": os.path.abspath(current.config.data_file),
    }
    return [FLAG, json.dumps(settings)]


# -- zygote ----------------------------------------------------------------------------------------
def start_zygote(argv: list[str]) -> list[str]:
    """Start measuring the zygote if ``argv`` says so; returns ``argv`` without the flag."""
    global _cov, _data_file
    if FLAG not in argv:
        return argv
    i = argv.index(FLAG)
    settings = json.loads(argv[i + 1])
    import sqlite3.dump  # noqa: F401  (a confined worker cannot import it when it sends its data)

    import coverage

    # in memory only: a worker inherits this object and must never open a data file
    _cov = coverage.Coverage(data_file=None, config_file=settings["config_file"] or True)
    _data_file = settings["data_file"]
    _cov.start()
    return argv[:i] + argv[i + 2 :]


def before_fork() -> tuple[socket.socket, socket.socket] | None:
    """In the zygote, before forking a worker: the socket pair that will carry its data."""
    if _cov is None:
        return None
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    child.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    parent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    return parent, child


def after_fork(pid: int, pair: tuple[socket.socket, socket.socket] | None) -> None:
    """Both sides of the fork: the zygote keeps one end, the worker the other."""
    global _child_sock
    if pair is None:
        return
    parent, child = pair
    if pid == 0:  # the worker: its own end only, and a way to be asked
        parent.close()
        for other in _parents.values():
            other.close()
        _parents.clear()
        _child_sock = child
        signal.signal(signal.SIGUSR1, lambda _sig, _frame: flush())
    else:
        child.close()
        _parents[pid] = parent


def collect(pid: int, wait: float = _WAIT) -> None:
    """In the zygote, before the SIGKILL: ask the worker for its data, then save what came.

    A worker that ended by itself sent its data on the way out (or crashed: then the socket is
    just closed); a signal to a zombie does nothing. One stuck in C code cannot answer: after
    ``wait`` seconds its data is given up."""
    parent = _parents.pop(pid, None)
    if parent is None:
        return
    try:
        try:
            os.kill(pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass
        parent.settimeout(wait)
        blob = _read_blob(parent)
    except OSError:
        blob = None
    finally:
        parent.close()
    if blob:
        try:
            _save(blob)
        except Exception as exc:  # never let coverage take the zygote down
            print(f"midimon coverage: a worker's data was lost: {exc}", file=sys.stderr)


def save_zygote() -> None:
    """At the zygote's exit: its own data (its imports, its loop)."""
    if _cov is None:
        return
    _cov.stop()
    _save(_cov.get_data().dumps())


def _read_blob(sock: socket.socket) -> bytes | None:
    head = _recv_exactly(sock, _HEADER.size)
    if head is None:
        return None
    (size,) = _HEADER.unpack(head)
    return _recv_exactly(sock, size)


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(size - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _save(blob: bytes) -> None:
    import coverage

    data = coverage.CoverageData(no_disk=True)
    data.loads(blob)
    out = coverage.CoverageData(basename=_data_file, suffix=True)
    out.update(data)
    out.write()


# -- worker ----------------------------------------------------------------------------------------
def keep_fds() -> tuple[int, ...]:
    """The descriptor confinement must leave open in a measured worker (none otherwise)."""
    return (_child_sock.fileno(),) if _child_sock is not None else ()


def flush() -> None:
    """In a worker: send what was measured to the zygote, once (at exit or on SIGUSR1)."""
    global _child_sock
    sock, _child_sock = _child_sock, None
    if sock is None or _cov is None:
        return
    try:
        blob = _cov.get_data().dumps()
        sock.sendall(_HEADER.pack(len(blob)) + blob)
    except Exception:  # coverage is best effort; the worker's own work must not notice
        pass
    finally:
        sock.close()
