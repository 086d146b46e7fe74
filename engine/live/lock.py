"""One daemon per home, and a stale socket from a crash replaced rather than feared.

The lock is an ``flock`` on ``MIDIMON_HOME/midimon.lock``: the kernel drops it when the process
dies, however it dies, so a crash never leaves a lock behind. The socket is different: its file
outlives a crash. A socket file nobody answers on is stale and is removed; one that answers
belongs to a live daemon (perhaps of another home sharing XDG_RUNTIME_DIR), and we refuse.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from midimon.engine.errors import MidimonError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class AlreadyRunning(MidimonError):
    pass


class HomeLock:
    def __init__(self, home: Path) -> None:
        self.path = Path(home) / "midimon.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                try:
                    pid = os.read(fd, 32).decode(errors="replace").strip() or "?"
                finally:
                    os.close(fd)
                raise AlreadyRunning(
                    f"midimon is already running for {self.path.parent} (pid {pid}); "
                    "use `midimon status`, `midimon reload` or `midimon stop`, or set MIDIMON_HOME "
                    "to run a second one on another home"
                ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)  # closing drops the flock
            finally:
                self._fd = None


def socket_answers(path: Path, timeout: float = 1.0) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def clear_stale_socket(path: Path) -> bool:
    """Remove a socket file nobody answers on. Raises AlreadyRunning if somebody does.

    Returns True when a stale file was removed.
    """
    if not os.path.lexists(path):
        return False
    if socket_answers(path):
        raise AlreadyRunning(
            f"another midimon answers on {path}; stop it first (`midimon stop`), or give "
            "this one its own XDG_RUNTIME_DIR"
        )
    os.unlink(path)
    return True
