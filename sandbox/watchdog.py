"""One thread that fires callbacks at deadlines: the host's backstop for a call's wall deadline.

A capability handler honours the call's remaining time itself (non-blocking pipes, a total read
deadline, a connect deadline), but a deadline is a promise about the worker: whatever the host
is doing on its behalf, the worker is stopped when its call's time is up. One shared thread with
a heap, not a ``threading.Timer`` per call: calls come at poll rates.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("midimon.sandbox")


class Watchdog:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, callback: Callable[[], None]) -> int:
        """Call ``callback`` (on the watchdog thread) at ``time.monotonic()`` ``deadline``."""
        with self._cond:
            token = next(self._ids)
            self._callbacks[token] = callback
            heapq.heappush(self._heap, (deadline, token))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="midimon-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()
            return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._callbacks.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][1] not in self._callbacks:
                    heapq.heappop(self._heap)  # disarmed
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, token = self._heap[0]
                left = deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(self._heap)
                callback = self._callbacks.pop(token, None)
            if callback is not None:
                try:
                    callback()
                except Exception:  # one plugin's kill failing must not stop the others' deadlines
                    log.debug("watchdog callback failed", exc_info=True)


WATCHDOG = Watchdog()
