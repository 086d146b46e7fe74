"""Trigger plugins: ``poll_events()`` on the plugin's schedule, events into the engine.

One thread per trigger plugin, so a slow or stuck plugin never delays another (a stuck call is
ended by the sandbox's deadline). Each tick takes the plugin's *current* version, so a reload
takes effect on the next tick. Events become ``Event(PLUGIN, device=<plugin>, name=<event>,
data=<dict>)`` and go through the same recognizers and mappings as MIDI.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from midimon.sandbox.errors import PluginCallError
from midimon.sandbox.text import printable

from .runtime import Runtime

log = logging.getLogger("midimon.plugins")
MAX_EVENTS_PER_POLL = 256


def plugin_event(plugin: str, item: Any) -> tuple[str | None, dict[str, Any], str]:
    """One item of ``poll_events()``: (event name or None to drop it, data, problem or "").

    Two shapes: ours, ``{"event", "data"}``, and the plan's ``PluginEvent``, ``{"plugin_name",
    "event_type", "data", "timestamp"}``. An event always comes from the plugin that returned
    it: a ``plugin_name`` naming another plugin is ignored (and reported), never obeyed. The
    ``timestamp`` is accepted and not used: the engine stamps events on arrival, one clock.
    """
    if not isinstance(item, dict):
        return None, {}, f"expected {{'event': str, 'data': dict}}, got {item!r:.80}"
    name = item.get("event", item.get("event_type"))
    if not isinstance(name, str) or not name:
        return (
            None,
            {},
            f"expected {{'event': str, 'data': dict}} or {{'event_type': str, 'data': dict}}, got {item!r:.80}",
        )
    data = item.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, {}, "'data' must be a dict"
    claimed = item.get("plugin_name")
    if claimed is not None and claimed != plugin:
        return (
            name,
            data,
            f"plugin_name {str(claimed)[:64]!r} ignored: a plugin speaks only for itself (sent as {plugin!r})",
        )
    return name, data, ""


#: one event a trigger plugin produced: (plugin, event name, data)
PluginEvent = tuple[str, str, dict[str, Any]]


def to_events(plugin: str, value: Any) -> tuple[list[PluginEvent], list[str]]:
    """Check what ``poll_events()`` returned; bad items are reported, good ones kept."""
    events: list[PluginEvent] = []
    problems: list[str] = []
    if value is None:
        return events, problems
    if not isinstance(value, list):
        return events, [f"poll_events() must return a list, not {type(value).__name__}"]
    for i, item in enumerate(value[:MAX_EVENTS_PER_POLL]):
        name, data, problem = plugin_event(plugin, item)
        if problem:
            problems.append(f"item {i}: {problem}")
        if name is not None:
            events.append((plugin, name, data))
    if len(value) > MAX_EVENTS_PER_POLL:
        problems.append(f"{len(value) - MAX_EVENTS_PER_POLL} events dropped (at most {MAX_EVENTS_PER_POLL} per poll)")
    return events, problems


class Poller:
    def __init__(
        self,
        runtime: Runtime,
        name: str,
        submit: Callable[[str, str, dict[str, Any]], None],
        gate: Callable[[], bool] = lambda: True,
    ) -> None:
        self.runtime = runtime
        self.gate = gate  # polls wait until events have somewhere to go (the engine runs)
        self.after_tick: Callable[[], None] = lambda: None
        self.name = name
        self.submit = submit
        self.polls = 0
        self.events = 0
        self.errors = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"midimon-trigger-{name}", daemon=True)

    def start(self) -> Poller:
        self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        interval = 0.05
        while not self._stop.is_set():
            started = time.monotonic()
            version = self.runtime.active.get(self.name)
            # a version whose initialize() failed does not run (the record shows the error)
            if version is None or version.decl.kind != "trigger" or version.init_error or not self.gate():
                self._stop.wait(interval)
                continue
            interval = version.decl.poll_interval_ms / 1000
            self.tick()
            self.after_tick()
            self._stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def tick(self) -> int:
        try:
            version = self.runtime.acquire(self.name)
        except Exception as exc:
            self._error(str(exc))
            return 0
        if version is None:
            return 0
        try:
            value = version.host.call("poll_events")
        except PluginCallError as exc:
            # the plugin's own exception: the host logged it (escaped, within the plugin's output
            # budget) or, for a refused capability, the manager did; a second line here would let
            # a plugin that raises a new message every poll flood the log past that budget
            self._error(str(exc), logged=True)
            return 0
        except Exception as exc:  # busy, suspended, timed out...: the daemon's words, once each
            self._error(str(exc))
            return 0
        finally:
            version.leave()
        self.polls += 1
        events, problems = to_events(self.name, value)
        for p in problems:
            # what the plugin returned is quoted in these: its words, so its budget and marking
            message = f"{version.decl.name}: {p}"
            repeated = printable(message) == self.last_error  # the same problem every poll: said once
            self._error(message, logged=True)
            if not repeated:
                version.host.log_plugin_text(f"poll_events: {p}")
        for plugin, event, data in events:
            self.submit(plugin, event, data)
        self.events += len(events)
        return len(events)

    def _error(self, message: str, *, logged: bool = False) -> None:
        """Count a failed poll; ``logged``: its text was logged where the plugin's budget applies."""
        self.errors += 1
        message = printable(message)  # shown in status and the UI: never a control character
        if not logged and message != self.last_error:  # the same failure every 50 ms: once
            log.warning("trigger plugin %s: %s", self.name, message)
        self.last_error = message

    def to_json(self) -> dict[str, Any]:
        return {"polls": self.polls, "events": self.events, "errors": self.errors, "last_error": self.last_error}
