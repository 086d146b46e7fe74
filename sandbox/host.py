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

import base64
import contextlib
import logging
import marshal
import os
import signal
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
    PluginBusy,
    PluginCallError,
    PluginCompileError,
    PluginCrashed,
    PluginLoadError,
    PluginSuspended,
    PluginTimeout,
    SandboxError,
)
from .grants import Grants
from .limits import Limits, RateBudget
from .services import HostServices
from .spawner import WorkerProcess
from .text import printable
from .watchdog import WATCHDOG

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
        #: calls running or waiting for the call lock (the max_pending_calls budget)
        self._slots = _Pending()
        #: bumped by stop(): a call that was waiting when its host stopped does not restart it
        self._generation = 0
        self._output = RateBudget(self.limits.log_lines_per_second, self.limits.log_bytes_per_second)
        self._memory_mb = 0.0
        self._memory_warned = False
        self._rx_window = 0.0  # start of the receive budget's current second
        self._rx_bytes = 0
        self._worker: WorkerProcess | None = None
        #: the plugin's code as compiled here by the policy (marshal), for a lazy start's worker
        self._code: bytes | None = None
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
            "busy": 0,  # calls refused by the max_pending_calls budget
            "suppressed_lines": 0,  # output lines over the output budget
            "throttled": 0,  # waits imposed by the receive budget
        }
        self._last_error = ""

    # -- life ----------------------------------------------------------------------------------
    def start(self, *, lazy: bool = False, compile_now: bool = True) -> dict[str, Any]:
        """Start the worker, compile and run the module top level there. Returns ``info()``.

        With ``lazy``, only compile here (a mistake is found now, with its line, as always)
        and fork the worker at the first call, which then pays for it (a few ms) and runs
        ``on_restart`` first, as after a crash. A batch of new plugins is ready at once, and a
        plugin nobody calls costs no process. ``info()`` is ``{}`` until then: the caller has
        the plugin's static declarations. ``compile_now=False`` (code the caller trusts to
        compile: midimon's own plugins) has the zygote compile it instead, once, for the worker
        that later runs it, so the daemon does not load RestrictedPython (about 3-5 MiB).
        """
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
            if lazy and not compile_now:
                # the zygote compiles it now, off the first call's path, for whichever worker
                # later runs it (best effort: a worker that finds nothing compiles it itself)
                from . import spawner

                spawner.precompile(self._source, self.filename, self.limits.max_source_bytes)
                self._status = "idle"
                return {}
            if lazy:
                from .policy import compile_plugin_cached  # RestrictedPython: only when used

                try:
                    compiled = compile_plugin_cached(
                        self._source, self.filename, max_source_bytes=self.limits.max_source_bytes
                    )
                except PluginCompileError as exc:
                    self._broken = exc
                    self._status = "broken"
                    self._last_error = str(exc)
                    raise
                # handed to the worker with the source, so its first call does not transform
                # the plugin again (RestrictedPython: about 16 ms per 100 lines)
                self._code = marshal.dumps(compiled.code)
                self._status = "idle"
                return {}
            self._spawn_and_load()
            return dict(self._info or {})

    def wake(self) -> None:
        """Fork an idle (lazily started) worker now, as its first call would, ``on_restart``
        included: for a caller that knows the plugin is about to be used. A no-op otherwise."""
        with self._lock:
            if self._worker is None and self._status == "idle" and not self._suspended:
                self._restart()

    def stop(self, timeout: float = 1.0) -> None:
        """Kill the worker and release the plugin's clients. Runs no plugin code.

        A call running in another thread is given ``timeout`` seconds to finish; after that its
        worker is killed under it and that call raises ``PluginCrashed`` ("stopped by the
        host"), which does not count as a plugin failure.
        """
        self._stopping = True
        self._generation += 1
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
            "pending_calls": self._slots.count,
            "memory_mb": round(self._memory_mb, 1),
            "memory_warning": self._memory_warning_text(),
            "denials": self._broker.denials,
        }

    def on_denied(self, listener: Callable[[str, str], None] | None) -> None:
        """Be told (capability, what was asked) at each refused capability request."""
        self._broker.on_denied = listener

    # -- calls ---------------------------------------------------------------------------------
    def call(self, func_name: str, *args: Any, timeout: float | None = None) -> Any:
        """Call a function the plugin defines. Arguments and result are plain data.

        At most ``limits.max_pending_calls`` calls run or wait at once (and
        ``max_pending_calls_all`` across plugins); one more waits ``busy_wait`` for room, then is
        refused (``PluginBusy``), and a waiting call gives up when its own deadline passes, so a
        stuck plugin never holds more than that many of the caller's threads.
        """
        budget = self.limits.call_timeout if timeout is None else float(timeout)
        generation = self._generation
        # A slot of the plugin's budget, then one of the shared budget; each waited for at most
        # ``busy_wait`` (a fast plugin's burst drains in that time, a stuck one's does not).
        grace = min(budget, self.limits.busy_wait)
        if not self._slots.enter(self.limits.max_pending_calls, grace):
            self._counts["busy"] += 1
            raise PluginBusy(self.name, self._slots.count)
        try:
            if not _ALL.enter(self.limits.max_pending_calls_all, grace):
                self._counts["busy"] += 1
                raise PluginBusy(self.name, _ALL.count, everyone=True)
            try:
                if not self._lock.acquire(timeout=budget):
                    self._counts["busy"] += 1
                    raise PluginBusy(self.name, self._slots.count - 1, budget)
                try:
                    if generation != self._generation:
                        raise PluginCrashed(self.name, "stopped by the host")
                    return self._call_locked(func_name, args, budget)
                finally:
                    self._lock.release()
            finally:
                _ALL.leave()
        finally:
            self._slots.leave()

    def _call_locked(self, func_name: str, args: tuple[Any, ...], budget: float) -> Any:
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
        try:
            frame = encode_message(
                {"op": "call", "func": str(func_name), "args": list(args)}, self.limits.max_message_bytes
            )
        except ValueError as exc:
            raise TypeError(f"arguments to plugin {self.name!r}: {exc}") from None
        self._counts["calls"] += 1
        denials = self._broker.denials
        reply = self._exchange(frame, time.monotonic() + budget, func_name, budget)
        self._check_memory()
        if reply.get("op") == "return":
            self._counts["consecutive_failures"] = 0
            return reply.get("value")
        error = PluginCallError(
            _text(reply.get("type", "Error"), 100),
            _text(reply.get("message", "")),
            _text(reply.get("file", self.filename), 300),
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
        if self._broker.denials != denials:
            # a refused capability ended the call: the plugin needs a grant, it did not
            # fail, so this never counts towards a suspension
            self._last_error = str(error)
            raise error
        self._failed(str(error))
        raise error

    def _exchange(self, frame: bytes, deadline: float, func: str, budget: float) -> dict[str, Any]:
        """Send a request and serve capability requests until the reply, the deadline or death."""
        worker = self._worker
        assert worker is not None
        chan = worker.channel
        # The backstop: whatever the host is doing for the worker when the time is up (a
        # capability that overstays), the worker is stopped; the call then ends as a timeout.
        fired: list[bool] = []

        def expire() -> None:
            # Only the signal here (the call's thread closes the channel and reaps the worker
            # when it sees the end of it); the zygote has not reaped it, so the pid is its own.
            fired.append(True)
            with contextlib.suppress(OSError):
                os.kill(worker.pid, signal.SIGKILL)

        token = WATCHDOG.arm(deadline + 0.25, expire)
        try:
            return self._serve(worker, chan, frame, deadline, func, budget, fired)
        finally:
            WATCHDOG.disarm(token)

    def _serve(
        self, worker: WorkerProcess, chan: Any, frame: bytes, deadline: float, func: str, budget: float, fired: list
    ) -> dict[str, Any]:
        try:
            chan.send_raw(frame)
            while True:
                msg = chan.recv(deadline)
                if not isinstance(msg, dict):
                    raise ProtocolError("message is not an object")
                self._throttle(chan.last_size, deadline)
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
        except (ChannelClosed, ProtocolError, OSError) as exc:
            if self._stopping:
                raise PluginCrashed(self.name, "stopped by the host") from None
            if fired:
                self._discard_worker()
                self._counts["timeouts"] += 1
                error = PluginTimeout(self.name, func, budget)
                self._failed(str(error))
                raise error from None
            detail = worker.exit_description() if isinstance(exc, ChannelClosed) else _text(exc, 300)
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
        request: dict[str, Any] = {"op": "load", "source": self._source, "filename": self.filename}
        if self._code is not None:  # compiled here by the policy already (a lazy start)
            request["code"] = base64.b64encode(self._code).decode("ascii")
        frame = encode_message(
            request,
            max(self.limits.max_message_bytes, 4 * len(self._source) + 2 * len(self._code or b"") + 1024),
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
            info = reply.get("info")
            info = dict(info) if isinstance(info, dict) else {}
            # the plugin's own words, shown in the log ("plugin x: version V active") and the CLI
            for key in ("description", "version"):
                if isinstance(info.get(key), str):
                    info[key] = _text(info[key], 500)
            self._info = info
            self._status = "running"
            return
        self._discard_worker()
        if op == "compile_error":
            error: SandboxError = PluginCompileError(
                self.filename,
                _int(reply.get("lineno")),
                _int(reply.get("col")),
                _text(reply.get("message", "")),
                _problems(reply.get("problems")),
            )
            self._broken = error
            self._status = "broken"
        else:
            error = PluginLoadError(
                _text(reply.get("message", "")),
                _text(reply.get("type", ""), 100),
                _text(reply.get("file", self.filename), 300),
                _int(reply.get("line")),
            )
            self._status = "crashed"
        self._last_error = str(error)
        raise error

    def _restart(self) -> None:
        first = self._status == "idle"  # a lazy start's first call: not a restart
        if not first:
            self._counts["restarts"] += 1
        try:
            self._spawn_and_load()
        except SandboxError as exc:
            self._failed(str(exc))
            raise
        if not first:
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
        # an error text is the plugin's words too: it counts against the same output budget,
        # so a plugin that fails every other poll with a new message cannot flood the log
        lost_lines, lost_bytes = self._output.roll()
        if lost_lines:
            self._suppressed(lost_lines, lost_bytes)
        if self._output.take([message]):
            log.warning("%s", message)
        if self._counts["consecutive_failures"] >= self.limits.max_failures and not self._suspended:
            self._suspended = True
            self._discard_worker()
            self._status = "suspended"
            log.error("plugin %s suspended after %d failures in a row", self.name, self._counts["consecutive_failures"])

    def _forward_logs(self, lines: Any) -> None:
        """The worker's print/log output of one call, into the daemon's log within the budget.

        Each item is one record; its continuation lines are marked ``    | `` and every control
        or bidi character is escaped, so nothing a plugin prints reads as a line of the daemon's
        own log. Past the lines/bytes-per-second budget, lines are counted, then reported."""
        lost_lines, lost_bytes = self._output.roll()
        if lost_lines:
            self._suppressed(lost_lines, lost_bytes)
        if not isinstance(lines, list):
            return
        for item in lines:
            if not (isinstance(item, list) and len(item) == 2):
                continue
            level = str(item[0]) if str(item[0]) in _LEVELS else "info"
            shown = printable(item[1], keep_newlines=True)
            # recent_logs is a bounded ring for a UI; only the log file needs the rate budget
            self.recent_logs.append((level, shown))
            parts = self._output.take(shown.rstrip("\n").split("\n"))
            if parts:
                self.logger.log(_LEVELS[level], "%s: %s", self.filename, "\n    | ".join(parts))

    def log_plugin_text(self, text: str, level: int = logging.WARNING) -> bool:
        """Log text the plugin caused that another part reports (a trigger's bad poll result):
        the same budget, escaping and ``    | `` marking as its own output; False when over."""
        lost_lines, lost_bytes = self._output.roll()
        if lost_lines:
            self._suppressed(lost_lines, lost_bytes)
        parts = self._output.take(printable(text, keep_newlines=True).rstrip("\n").split("\n"))
        if parts:
            self.logger.log(level, "%s: %s", self.filename, "\n    | ".join(parts))
        return bool(parts)

    def _throttle(self, size: int, deadline: float) -> None:
        """The receive budget: past ``received_bytes_per_second``, wait for the next second
        (never past the call's deadline) before serving the worker again."""
        now = time.monotonic()
        if now - self._rx_window >= 1.0:
            self._rx_window, self._rx_bytes = now, 0
        self._rx_bytes += size
        if self._rx_bytes > self.limits.received_bytes_per_second:
            self._counts["throttled"] += 1
            time.sleep(max(0.0, min(self._rx_window + 1.0, deadline) - now))
            self._rx_window, self._rx_bytes = time.monotonic(), 0

    def _suppressed(self, lines: int, size: int) -> None:
        self._counts["suppressed_lines"] += lines
        log.warning(
            "plugin %s: %d lines (%d bytes) of output suppressed (budget: %d lines, %d bytes a second)",
            self.name,
            lines,
            size,
            self.limits.log_lines_per_second,
            self.limits.log_bytes_per_second,
        )

    # -- memory ----------------------------------------------------------------------------------
    def _check_memory(self) -> None:
        """Read the worker's size after a call; warn once per crossing of the ratio.

        The size is the address space (what RLIMIT_AS, the memory limit, counts), not the
        resident set: a worker reaches its limit by its address space."""
        worker = self._worker
        if worker is None:
            return
        try:
            with open(f"/proc/{worker.pid}/statm", "rb") as f:
                pages = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return  # not Linux, or the worker just went
        self._memory_mb = pages * _PAGE / (1024 * 1024)
        limit_mb = self.limits.memory_bytes / (1024 * 1024)
        over = self._memory_mb >= limit_mb * self.limits.memory_warning_ratio
        if over and not self._memory_warned:
            log.warning("plugin %s: %s", self.name, self._memory_warning_text(force=True))
        self._memory_warned = over

    def _memory_warning_text(self, force: bool = False) -> str | None:
        if not (force or self._memory_warned):
            return None
        limit_mb = self.limits.memory_bytes / (1024 * 1024)
        return (
            f"worker uses {self._memory_mb:.0f} MiB, over {self.limits.memory_warning_ratio:.0%} of its "
            f"{limit_mb:.0f} MiB limit (raise it with: midimon plugins limits {self.name} --memory-mb N)"
        )

    def __enter__(self) -> PluginHost:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# A worker's reply is untrusted: an escaped worker could send any JSON. Read its fields so that
# a malformed one degrades to a default instead of raising something other than SandboxError.


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Pending:
    """A count of calls running or waiting, bounded by the caller's limit; ``enter`` waits up to
    ``grace`` seconds for room."""

    def __init__(self) -> None:
        self.count = 0
        self._cond = threading.Condition()

    def enter(self, limit: int, grace: float) -> bool:
        with self._cond:
            if not self._cond.wait_for(lambda: self.count < limit, timeout=max(0.0, grace)):
                return False
            self.count += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self.count -= 1
            self._cond.notify()


#: Calls running or waiting across every plugin of this process: with each plugin held to
#: ``max_pending_calls``, several stuck plugins together could still hold every action thread of
#: the engine (16); this keeps ``max_pending_calls_all`` (12) as the most they take together.
_ALL = _Pending()


def _text(value: Any, limit: int = 2000) -> str:
    """A worker-supplied string made safe for one log line: controls, newlines and bidi
    overrides escaped (so an exception message cannot forge a daemon log line), bounded."""
    return printable(str(value)[:limit])


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else 0


def _problems(value: Any) -> tuple:
    if not isinstance(value, list):
        return ()
    out = []
    for item in value[:50]:
        if isinstance(item, list) and len(item) == 3:
            out.append((_int(item[0]), _int(item[1]), _text(item[2], 500)))
    return tuple(out)
