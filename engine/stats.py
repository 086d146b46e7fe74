"""Counters for `midimon status`: events, actions, failures, events per second."""

from __future__ import annotations

import collections
import threading
import time


class Stats:
    def __init__(self) -> None:
        self.started = time.time()
        self.events = 0
        self.actions_fired = 0
        self.actions_failed = 0
        self._window: collections.deque = collections.deque(maxlen=64)
        self._lock = threading.Lock()
        self.recent_errors: collections.deque = collections.deque(maxlen=20)

    def event(self) -> None:
        self.events += 1
        second = int(time.monotonic())
        w = self._window
        if w and w[-1][0] == second:
            w[-1][1] += 1
        else:
            w.append([second, 1])

    def fired(self) -> None:
        self.actions_fired += 1

    def failed(self, message: str) -> None:
        """An action failed."""
        with self._lock:
            self.actions_failed += 1
            self.recent_errors.append({"time": time.time(), "message": message})

    def error(self, message: str) -> None:
        """Something other than an action went wrong (a reload, a plugin load)."""
        with self._lock:
            self.recent_errors.append({"time": time.time(), "message": message})

    def events_per_second(self) -> float:
        now = int(time.monotonic())
        recent = [n for s, n in list(self._window) if now - 5 <= s < now]
        return sum(recent) / 5.0

    def restore(self, data: dict) -> None:
        self.events = int(data.get("events", 0))
        self.actions_fired = int(data.get("actions_fired", 0))
        self.actions_failed = int(data.get("actions_failed", 0))
        for e in data.get("recent_errors", [])[-20:]:
            if isinstance(e, dict):
                self.recent_errors.append(e)

    def to_json(self) -> dict:
        return {
            "events": self.events,
            "actions_fired": self.actions_fired,
            "actions_failed": self.actions_failed,
            "events_per_second": self.events_per_second(),
            "recent_errors": list(self.recent_errors),
        }
