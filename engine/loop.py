"""The engine loop: one thread that owns event order, timers, the mode and the table.

Back-end threads only call :meth:`Engine.submit` (enqueue). Everything that can block runs
on the action pool, so a slow action never delays the next event. A config reload is a
single reference swap done on this thread between two events (:meth:`Engine.swap_table`).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from midimon.engine import events as E
from midimon.engine.recognizer import Recognizer
from midimon.engine.stats import Stats
from midimon.engine.table import Bound, Table

log = logging.getLogger("midimon.engine")

_STOP = object()


class _Timer:
    __slots__ = ("when", "fn", "cancelled")

    def __init__(self, when: float, fn: Callable[[], None]) -> None:
        self.when, self.fn, self.cancelled = when, fn, False


class Engine:
    def __init__(
        self,
        table: Table,
        runner=None,
        *,
        mode: str | None = None,
        pool_size: int = 16,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self.runner = runner
        self.clock = clock
        self.mode = mode if mode in table.modes else table.first_mode()
        self.stats = Stats()
        self.recognizer = Recognizer(self._fire, self._schedule, self._cancel)
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._timers: list = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="midimon-action")
        self.event_listeners: list[Callable[[E.Event], None]] = []
        self.mode_listeners: list[Callable[[str, str], None]] = []
        self.fire_listeners: list[Callable[[Bound, E.Event, dict], None]] = []
        #: for an event the JACK relay answered in the cycle: is this mapping's effect that
        #: answer (it is then counted and shown as fired, but its MIDI is not sent again)?
        self.relay_answers: Callable[[Bound], bool] | None = None

    # ------------------------------------------------------------------ thread-safe entry points
    def submit(self, ev: E.Event) -> None:
        self._q.put(ev)

    def call_soon(self, fn: Callable[[], Any]) -> None:
        self._q.put(fn)

    def call_and_wait(self, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Run ``fn`` on the loop between two events and return its result."""
        if self.on_loop() or self._thread is None:
            return fn()
        done = threading.Event()
        box: list = [None, None]

        def task():
            try:
                box[0] = fn()
            except BaseException as exc:  # handed back to the caller's thread
                box[1] = exc
            done.set()

        self._q.put(task)
        if not done.wait(timeout):
            raise TimeoutError("the engine loop did not answer in time")
        if box[1] is not None:
            raise box[1]
        return box[0]

    def swap_table(self, table: Table) -> str:
        """Install a new table between two events. Returns the mode now active."""

        def swap() -> str:
            old_mode = self.mode
            self.table = table
            if self.mode not in table.modes:
                self.mode = table.first_mode()
                log.warning("mode %r is gone from the new config; switched to %r", old_mode, self.mode)
                for listener in self.mode_listeners:
                    listener(old_mode, self.mode)
            return self.mode

        return self.call_and_wait(swap)

    def set_mode(self, name: str) -> str:
        """Switch mode by name, or 'next' / 'previous' (wrapping). Returns the new mode.

        Raises ValueError for a mode that does not exist.
        """

        def switch() -> str:
            return self._set_mode(name)

        return self.call_and_wait(switch)

    def on_loop(self) -> bool:
        return self._thread is None or threading.get_ident() == self._thread.ident

    # ------------------------------------------------------------------ loop
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="midimon-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._q.put(_STOP)
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        get, timers = self._q.get, self._timers
        while True:
            timeout = None
            if timers:
                timeout = max(0.0, timers[0][0] - self.clock())
            try:
                item = get(timeout=timeout)
            except queue.Empty:
                item = None
            if timers:
                self.run_timers(self.clock())
            if item is None:
                continue
            if item is _STOP:
                return
            try:
                if type(item) is E.Event:
                    self.process(item)
                else:
                    item()
            except Exception:  # the loop must survive anything
                log.exception("internal error while handling %r", item)

    def process(self, ev: E.Event) -> None:
        """Handle one event on the calling thread (the loop, or a test driving it directly)."""
        self.stats.event()
        for listener in self.event_listeners:
            try:
                listener(ev)
            except Exception:
                log.exception("event listener failed")
        self.recognizer.feed(ev, self.table.modes[self.mode], self.table.settings)

    def run_timers(self, now: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            _when, _seq, timer = heapq.heappop(timers)
            if not timer.cancelled:
                try:
                    timer.fn()
                except Exception:
                    log.exception("internal error in a timer")

    def _schedule(self, when: float, fn: Callable[[], None]) -> _Timer:
        timer = _Timer(when, fn)
        heapq.heappush(self._timers, (when, next(self._seq), timer))
        return timer

    @staticmethod
    def _cancel(timer: _Timer | None) -> None:
        if timer is not None:
            timer.cancelled = True

    # ------------------------------------------------------------------ firing
    def _fire(self, b: Bound, ev: E.Event, extra: dict) -> None:
        ctx = self.context(b, ev, extra)
        self.stats.fired()
        for listener in self.fire_listeners:
            try:
                listener(b, ev, ctx)
            except Exception:
                log.exception("fire listener failed")
        if self.runner is None:
            return
        if ev.relayed and self.relay_answers is not None and self.relay_answers(b):
            return
        if b.inline:
            self.runner.run_logged(b.action, ctx)
        else:
            self._pool.submit(self.runner.run_logged, b.action, ctx)

    def context(self, b: Bound, ev: E.Event, extra: dict) -> dict:
        is_note = ev.kind in (E.NOTE_ON, E.NOTE_OFF)
        velocity = ev.velocity if is_note else ev.value
        ctx = {
            "trigger": b.trigger.type,
            "description": b.description,
            "mapping": b.path,
            "mode": self.mode,
            # the plan's TriggerContext.current_mode: the mode's index in the config
            "current_mode": self.table.mode_order.index(self.mode) if self.mode in self.table.mode_order else None,
            "device": ev.device,
            "channel": ev.channel,
            "note": ev.note if ev.note >= 0 else None,
            "velocity": ev.velocity if is_note else None,
            "velocity_out": b.curve(velocity) if velocity > 0 else velocity,
            "cc": ev.control if ev.control >= 0 else None,
            "value": None if is_note else ev.value,
            "timestamp": time.time(),
            "event_time": ev.time,
        }
        if ev.kind == E.PITCHBEND:
            ctx["pitch"] = ev.value - 8192
        ctx.update(extra)
        return ctx

    def _set_mode(self, name: str) -> str:
        order = self.table.mode_order
        old = self.mode
        low = name.lower()
        if low in ("next", "previous") and name not in self.table.modes:
            i = order.index(old)
            i = (i + (1 if low == "next" else -1)) % len(order)
            new = order[i]
        elif name in self.table.modes:
            new = name
        else:
            raise ValueError(f"there is no mode named {name!r} (modes: {', '.join(order)})")
        self.mode = new
        if new != old:
            log.info("mode: %s -> %s", old, new)
            for listener in self.mode_listeners:
                try:
                    listener(old, new)
                except Exception:
                    log.exception("mode listener failed")
        return new

    def set_mode_bounded(self, name: str, wrap: bool) -> str:
        """ModeChange's next/previous without wrapping stops at the ends."""
        order = self.table.mode_order
        low = name.lower()
        if not wrap and low in ("next", "previous") and name not in self.table.modes:
            i = order.index(self.mode)
            if (low == "next" and i == len(order) - 1) or (low == "previous" and i == 0):
                return self.mode
        return self._set_mode(name)
