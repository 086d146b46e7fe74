"""``PluginHost``: one plugin, one persistent worker process, seen from the daemon.

The host owns the worker's life: start, calls with a wall deadline, SIGKILL and lazy restart on
timeout or crash, suspension after repeated failures. While a call runs it also serves the
worker's capability requests through the broker. Every failure surfaces as one of the
``SandboxError`` classes with plain fields; nothing here lets a traceback reach a user.

Plugin lifecycle (initialize/execute/poll_events/shutdown, hot reload) is meant to be built on
top: call functions by name with ``call()``, learn what the plugin defines from ``info()``, get
told about fresh workers through ``on_restart``, and reload by building a new host and
swapping references (the store lives in ``data_dir`` and is shared by both).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .audit import AuditLog
from .capabilities import CapabilityBroker
from .channel import ChannelClosed, ChannelTimeout, ProtocolError, encode_message
from .errors import (
    PluginCallError,
    PluginCompileError,
    PluginCrashed,
    PluginLoadError,
    PluginSuspended,
    PluginTimeout,
    SandboxError,
)
from .grants import Grants
from .limits import Limits
from .services import HostServices
from .spawner import WorkerProcess

log = logging.getLogger("midimon.sandbox")
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "print": logging.INFO,
}


class PluginHost:
    def __init__(
        self,
        name: str,
        source: bytes | str,
        filename: str,
        *,
        data_dir: Path | str,
        audit: AuditLog,
        grants: Grants | None = None,
        limits: Limits | None = None,
        services: HostServices | None = None,
        on_restart: Callable[[PluginHost], None] | None = None,
    ) -> None:
        self.name = name
        self.filename = filename
        self.grants = grants or Grants()
        self.limits = limits or Limits()
        # the caller's Home says where both go (Home.data_dir(name), Home.audit)
        self.audit = audit
        self.data_dir = Path(data_dir)
        if isinstance(source, (bytes, bytearray)):
            try:
                self._source = bytes(source).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise PluginCompileError(
                    filename, 1, 1, f"the plugin is not valid UTF-8 text (byte {exc.start})"
                ) from None
        else:
            self._source = source
        if len(self._source.encode("utf-8", "replace")) > self.limits.max_source_bytes:
            raise PluginCompileError(
                filename,
                1,
                1,
                f"the plugin is larger than "
                f"{self.limits.max_source_bytes} bytes; split data out "
                "into the plugin's data folder",
            )
        self._broker = CapabilityBroker(name, self.grants, services or HostServices(), self.data_dir, self.audit)
        self.on_restart = on_restart
        self.logger = logging.getLogger(f"midimon.plugin.{name}")
        #: Recent plugin output for a UI: (level, text) pairs.
        self.recent_logs: deque[tuple[str, str]] = deque(maxlen=200)
        self._lock = threading.RLock()
        self._grants_lock = threading.Lock()  # set_grants only; never held during a call
        self._worker: WorkerProcess | None = None
        self._info: dict[str, Any] | None = None
        self._status = "new"
        self._suspended = False
        self._stopping = False
        self._broken: SandboxError | None = None
        self._counts = {
            "calls": 0,
            "failures": 0,
            "consecutive_failures": 0,
            "timeouts": 0,
            "crashes": 0,
            "restarts": 0,
            "starts": 0,
        }
        self._last_error = ""

    # -- life ----------------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        """Start the worker, compile and run the module top level there. Returns ``info()``."""
        with self._lock:
            if self._worker is not None:
                return dict(self._info or {})
            self.audit.record(
                self.name,
                "*",
                "start",
                "granted",
                "",
                "capabilities: " + (", ".join(sorted(self.grants.capabilities)) or "none"),
            )
            self._spawn_and_load()
            return dict(self._info or {})

    def stop(self, timeout: float = 1.0) -> None:
        """Kill the worker and release the plugin's clients. Runs no plugin code.

        A call running in another thread is given ``timeout`` seconds to finish; after that its
        worker is killed under it and that call raises ``PluginCrashed`` ("stopped by the
        host"), which does not count as a plugin failure.
        """
        self._stopping = True
        locked = self._lock.acquire(timeout=max(0.0, timeout))
        try:
            worker, self._worker = self._worker, None
            if worker is not None:
                worker.kill()
            self._broker.close()
            self._status = "stopped"
        finally:
            self._stopping = False
            if locked:
                self._lock.release()

    def resume(self) -> None:
        """Lift a suspension; the next call starts a fresh worker."""
        with self._lock:
            self._suspended = False
            self._counts["consecutive_failures"] = 0
            if self._status == "suspended":
                self._status = "stopped"

    def set_grants(self, grants: Grants) -> None:
        """Apply new grants to the running worker without restarting it.

        The broker reads the grants at every capability request, so a revoke refuses the next
        request, including a later one in a call that is running now. Safe from any thread;
        it does not wait for a running call (it does not take the call lock).
        """
        if not isinstance(grants, Grants):
            raise TypeError(f"grants must be a Grants value, not {type(grants).__name__}")
        with self._grants_lock:
            old, self.grants = self.grants, grants
            self._broker.set_grants(grants)
        added = sorted(grants.capabilities - old.capabilities)
        removed = sorted(old.capabilities - grants.capabilities)
        detail = "; ".join(
            part
            for part in (
                "added: " + ", ".join(added) if added else "",
                "removed: " + ", ".join(removed) if removed else "",
                "scopes changed"
                if (grants.allow, grants.deny, grants.denied_capabilities)
                != (old.allow, old.deny, old.denied_capabilities)
                else "",
            )
            if part
        )
        self.audit.record(
            self.name,
            "*",
            "set_grants",
            "revoked" if removed else "granted",
            "",
            f"{detail or 'unchanged'}; capabilities now: {', '.join(sorted(grants.capabilities)) or 'none'}",
        )

    def info(self) -> dict[str, Any]:
        with self._lock:
            if self._info is None:
                raise PluginLoadError(f"plugin {self.name!r} has not been started")
            return dict(self._info)

    @property
    def state(self) -> dict[str, Any]:
        """A snapshot of status and counters, read without the call lock.

        ``status`` must never wait on a running call (a poll that sleeps 4.5 s made every
        ``midimon status`` take 4.5 s). Each field is one attribute read, atomic under the GIL;
        the snapshot may mix values from either side of a call that is finishing, which is fine
        for a status display.
        """
        worker = self._worker
        status = "suspended" if self._suspended else self._status
        return {
            "name": self.name,
            "status": status,
            "pid": worker.pid if worker is not None else None,
            "last_error": self._last_error,
            **self._counts.copy(),
        }

    # -- calls ---------------------------------------------------------------------------------
    def call(self, func_name: str, *args: Any, timeout: float | None = None) -> Any:
        """Call a function the plugin defines. Arguments and result are plain data."""
        with self._lock:
            if self._broken is not None:
                raise self._broken
            if self._suspended:
                raise PluginSuspended(self.name, self._counts["consecutive_failures"], self._last_error)
            if self._worker is None:
                if self._status == "new":
                    raise PluginLoadError(f"plugin {self.name!r} has not been started")
                self._restart()
                if self._worker is None:  # on_restart's own call killed the fresh worker
                    raise PluginCrashed(self.name, "the restarted worker failed while being set up again")
            budget = self.limits.call_timeout if timeout is None else float(timeout)
            try:
                frame = encode_message(
                    {"op": "call", "func": str(func_name), "args": list(args)}, self.limits.max_message_bytes
                )
            except ValueError as exc:
                raise TypeError(f"arguments to plugin {self.name!r}: {exc}") from None
            self._counts["calls"] += 1
            reply = self._exchange(frame, time.monotonic() + budget, func_name, budget)
            if reply.get("op") == "return":
                self._counts["consecutive_failures"] = 0
                return reply.get("value")
            error = PluginCallError(
                str(reply.get("type", "Error")),
                str(reply.get("message", "")),
                str(reply.get("file", self.filename)),
                _int(reply.get("line")),
            )
            if reply.get("missing"):
                raise error  # the caller asked for a name the plugin lacks: not its failure
            if error.type_name == "MemoryError":
                if not error.message:
                    error.message = f"out of memory (the limit is {self.limits.memory_bytes // (1024 * 1024)} MiB)"
                    error.args = (str(error),)
                # The worker survived, but a process that ran out of memory is not trusted
                # to be in good shape: start fresh on the next call.
                self._discard_worker()
            self._failed(str(error))
            raise error

    def _exchange(self, frame: bytes, deadline: float, func: str, budget: float) -> dict[str, Any]:
        """Send a request and serve capability requests until the reply, the deadline or death."""
        worker = self._worker
        assert worker is not None
        chan = worker.channel
        try:
            chan.send_raw(frame)
            while True:
                msg = chan.recv(deadline)
                if not isinstance(msg, dict):
                    raise ProtocolError("message is not an object")
                if msg.get("op") == "cap":
                    ok, value = self._broker.handle(
                        msg.get("obj"), msg.get("method"), msg.get("args"), msg.get("kwargs"), deadline
                    )
                    try:
                        chan.send({"op": "cap_ok", "value": value} if ok else {"op": "cap_err", "message": value})
                    except ValueError as exc:
                        chan.send({"op": "cap_err", "message": f"result too large: {exc}"})
                    continue
                self._forward_logs(msg.get("logs"))
                return msg
        except ChannelTimeout:
            self._discard_worker()
            self._counts["timeouts"] += 1
            error: SandboxError = PluginTimeout(self.name, func, budget)
        except (ChannelClosed, ProtocolError) as exc:
            if self._stopping:
                raise PluginCrashed(self.name, "stopped by the host") from None
            detail = worker.exit_description() if isinstance(exc, ChannelClosed) else str(exc)
            self._discard_worker()
            self._counts["crashes"] += 1
            error = PluginCrashed(self.name, detail)
        self._failed(str(error))
        raise error

    # -- internals -----------------------------------------------------------------------------
    def _spawn_and_load(self) -> None:
        self._status = "starting"
        try:
            self._worker = WorkerProcess(self.limits.to_dict(), self.limits.max_message_bytes)
        except OSError as exc:
            self._status = "crashed"
            raise PluginLoadError(f"cannot start a worker for plugin {self.name!r}: {exc}") from None
        self._counts["starts"] += 1
        frame = encode_message(
            {"op": "load", "source": self._source, "filename": self.filename},
            max(self.limits.max_message_bytes, 4 * len(self._source) + 1024),
        )
        try:
            reply = self._exchange(
                frame, time.monotonic() + self.limits.load_timeout, "<module>", self.limits.load_timeout
            )
        except SandboxError as exc:
            self._status = "crashed"
            raise PluginLoadError(str(exc), type(exc).__name__, self.filename) from None
        op = reply.get("op")
        if op == "loaded":
            self._info = reply.get("info") or {}
            self._status = "running"
            return
        self._discard_worker()
        if op == "compile_error":
            error: SandboxError = PluginCompileError(
                self.filename,
                _int(reply.get("lineno")),
                _int(reply.get("col")),
                str(reply.get("message", "")),
                _problems(reply.get("problems")),
            )
            self._broken = error
            self._status = "broken"
        else:
            error = PluginLoadError(
                str(reply.get("message", "")),
                str(reply.get("type", "")),
                str(reply.get("file", self.filename)),
                _int(reply.get("line")),
            )
            self._status = "crashed"
        self._last_error = str(error)
        raise error

    def _restart(self) -> None:
        self._counts["restarts"] += 1
        try:
            self._spawn_and_load()
        except SandboxError as exc:
            self._failed(str(exc))
            raise
        log.info("plugin %s: worker restarted (pid %s)", self.name, self._worker.pid if self._worker else "?")
        if self.on_restart is not None:
            self.on_restart(self)

    def _discard_worker(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None
        if self._status == "running":
            self._status = "restarting"

    def _failed(self, message: str) -> None:
        self._counts["failures"] += 1
        self._counts["consecutive_failures"] += 1
        self._last_error = message
        log.warning("%s", message)
        if self._counts["consecutive_failures"] >= self.limits.max_failures and not self._suspended:
            self._suspended = True
            self._discard_worker()
            self._status = "suspended"
            log.error("plugin %s suspended after %d failures in a row", self.name, self._counts["consecutive_failures"])

    def _forward_logs(self, lines: Any) -> None:
        if not isinstance(lines, list):
            return
        for item in lines:
            if isinstance(item, list) and len(item) == 2:
                level, text = str(item[0]), str(item[1])
                self.recent_logs.append((level, text))
                # Continuation lines are marked, so a plugin cannot forge a line of the
                # daemon's own log by printing a newline.
                self.logger.log(
                    _LEVELS.get(level, logging.INFO),
                    "%s: %s",
                    self.filename,
                    text.rstrip("\n").replace("\n", "\n    | "),
                )

    def __enter__(self) -> PluginHost:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# A worker's reply is untrusted: an escaped worker could send any JSON. Read its fields so that
# a malformed one degrades to a default instead of raising something other than SandboxError.


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else 0


def _problems(value: Any) -> tuple:
    if not isinstance(value, list):
        return ()
    out = []
    for item in value[:50]:
        if isinstance(item, list) and len(item) == 3:
            out.append((_int(item[0]), _int(item[1]), str(item[2])[:500]))
    return tuple(out)
