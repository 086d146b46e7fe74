"""Start worker processes without forking the (threaded) daemon.

Workers come from multiprocessing's *forkserver*: a small single-threaded server process,
started once by fork+exec (safe in a threaded parent), that imports the sandbox up front and
then forks one child per worker on request. Forking a threaded daemon directly can deadlock the
child on a lock another thread held; spawn is safe but pays a full interpreter start and import
per worker. Measured in benchmarks/bench_sandbox.py and docs/performance.md ("Sandbox").
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import socket
import threading
from typing import Any

from .channel import Channel

_PRELOAD = ["midimon.sandbox.worker_main"]
_lock = threading.Lock()
_context: Any = None


def prepare(method: str = "forkserver") -> None:
    """Start the forkserver now. The daemon calls this early, before it starts threads of its
    own, so the first plugin does not pay for it; calling it later is still safe."""
    global _context
    with _lock:
        if _context is not None:
            return
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(_PRELOAD)
            multiprocessing.forkserver.ensure_running()
        _context = ctx


class WorkerProcess:
    """One live worker: its process and the host's end of its socket."""

    def __init__(self, limits_data: dict[str, Any], max_message_bytes: int) -> None:
        prepare()
        host_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        from . import worker_main  # noqa: F401  (importable target for the forkserver)
        self.process = _context.Process(target=worker_main.run, args=(child_sock, limits_data),
                                        name="midimon-plugin-worker", daemon=True)
        try:
            self.process.start()
        finally:
            child_sock.close()
        self.pid: int = int(self.process.pid or 0)
        self.channel = Channel(host_sock, max_message_bytes)

    def alive(self) -> bool:
        return self.process.is_alive()

    def exit_description(self) -> str:
        self.process.join(timeout=1.0)
        code = self.process.exitcode
        if code is None:
            return "still running"
        if code < 0:
            import signal
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = {"SIGKILL": "killed (out of memory, or stopped by the host)",
                    "SIGXCPU": "CPU time limit reached", "SIGSEGV": "crashed"}.get(name, name)
            return f"{name}: {hint}"
        return f"exit code {code}"

    def kill(self, wait: float = 1.0) -> None:
        """SIGKILL: a plugin stuck in C code or in ``finally:`` cannot delay it."""
        try:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(timeout=wait)
        except (OSError, ValueError, AssertionError):
            pass
        self.channel.close()
        try:
            self.process.close()
        except ValueError:
            pass  # still running after wait: the forkserver reaps it when it dies
