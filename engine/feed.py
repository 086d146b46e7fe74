"""The change feed: every plugin record change, reload outcome, mode change and plugin error,
in order, each with a sequence number.

Publishers call :meth:`Feed.publish` (cheap, never blocks). Subscribers get a bounded queue:
a slow one loses changes (counted in ``dropped``, and ``gap`` is set so it knows to re-read
``status``) and never slows the daemon. :meth:`Feed.subscribe` with ``since`` replays what the
feed still holds after that sequence number (at least the last ``keep`` changes), or says
``gap=True`` when it no longer holds them.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KEEP = 2000  # changes kept for replay; the protocol promises at least 1,000
QUEUE = 1000  # per subscriber


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    time: float
    kind: str  # "plugin", "plugin_error", "reload", "mode", "counters", ...
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "time": self.time, "kind": self.kind, "data": self.data}


@dataclass(eq=False)
class Subscription:
    feed: Feed
    replay: list[Change]
    gap: bool
    _queue: queue.Queue[Change] = field(default_factory=lambda: queue.Queue(QUEUE))
    dropped: int = 0
    closed: bool = False

    def get(self, timeout: float | None = None) -> Change | None:
        """The next change, or None after ``timeout`` seconds (or once closed)."""
        if self.replay:
            return self.replay.pop(0)
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _offer(self, change: Change) -> None:
        try:
            self._queue.put_nowait(change)
        except queue.Full:
            self.dropped += 1
            self.gap = True

    def close(self) -> None:
        self.closed = True
        self.feed._unsubscribe(self)


class Feed:
    def __init__(self, keep: int = KEEP) -> None:
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._last = 0
        self._recent: deque[Change] = deque(maxlen=keep)
        self._subs: list[Subscription] = []
        self.listeners: list[Callable[[Change], None]] = []  # in-process, called outside the lock

    @property
    def seq(self) -> int:
        """The sequence number of the newest change (0 before the first)."""
        return self._last

    def publish(self, kind: str, data: dict[str, Any]) -> Change:
        with self._lock:
            change = Change(next(self._seq), time.time(), kind, data)
            self._last = change.seq
            self._recent.append(change)
            subs = list(self._subs)
        for sub in subs:
            sub._offer(change)
        for listener in list(self.listeners):
            try:
                listener(change)
            except Exception:  # a listener's fault is its own
                pass
        return change

    def subscribe(self, since: int | None = None) -> Subscription:
        """Changes after ``since`` (replayed from memory), then every new one."""
        with self._lock:
            replay: list[Change] = []
            gap = False
            if since is not None and since < self._last:
                replay = [c for c in self._recent if c.seq > since]
                oldest = self._recent[0].seq if self._recent else self._last + 1
                gap = since + 1 < oldest
            sub = Subscription(self, replay, gap)
            self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"seq": self._last, "held": len(self._recent), "subscribers": len(self._subs)}
