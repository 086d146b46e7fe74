"""Stateful gesture recognition: presses, holds, double taps, chords, encoders.

The recognizer lives as long as the daemon: its state (held notes, presses waiting to be
resolved, the first tap of a double tap, absolute encoder positions) survives a config reload,
because only the table it is given per event changes.

Rules where triggers overlap on one note (documented in docs/triggers.md):

- A press mapping (Note, VelocityRange) fires on note-on *immediately* when nothing else on
  that note needs to wait. Otherwise it waits for everything that could still claim the press:
  - a LongPress on the note: the press fires on release before the hold time; reaching the
    hold time fires the LongPress instead, and the press never fires;
  - a DoubleTap on the note: the press fires when the double-tap window closes without a
    second tap; a second tap fires the DoubleTap instead;
  - a NoteChord containing the note: the press fires when the chord window closes without
    the chord completing; a completed chord consumes the presses of all its notes.
- A press that completes a chord or a double tap is consumed by it.
- Several LongPress mappings on one note with different durations each fire as their time
  passes during the same hold.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from midimon.config.models import (
    AdvancedSettings,
    AftertouchTrigger,
    CCTrigger,
    DoubleTapTrigger,
    EncoderTurnTrigger,
    LongPressTrigger,
    NoteChordTrigger,
    NoteTrigger,
    PitchBendTrigger,
    PluginTrigger,
    VelocityRangeTrigger,
)
from midimon.engine import events as E
from midimon.engine.table import Bound, ModeTable

# ModeTable files each binding under its trigger's class (table.py), so the triggers read from a
# given index are of that class: the casts below say so to the type checker and cost nothing.

Fire = Callable[[Bound, E.Event, dict], None]
Schedule = Callable[[float, Callable[[], None]], Any]
Cancel = Callable[[Any], None]


class _Press:
    __slots__ = ("event", "binds", "blockers", "dead", "timers", "extra")

    def __init__(self, event: E.Event, binds: list, extra: dict) -> None:
        self.event = event
        self.binds = binds
        self.blockers: set[str] = set()
        self.dead = False
        self.timers: list = []
        self.extra = extra


def _level(b: Bound, velocity: int) -> str:
    t = cast(VelocityRangeTrigger, b.trigger)
    if velocity <= t.soft_max:
        return "soft"
    if velocity <= t.medium_max:
        return "medium"
    return "hard"


def _filter(b: Bound, ev: E.Event) -> bool:
    t = b.trigger
    if t.channel is not None and t.channel != ev.channel:
        return False
    if t.device is not None and ev.device and not _device_matches(t.device, ev.device):
        return False
    return True


def _window_ms(b: Bound, default: int) -> int:
    """A DoubleTap's or NoteChord's own window, or the settings' default."""
    t = cast(DoubleTapTrigger | NoteChordTrigger, b.trigger)
    return t.timeout_ms if t.timeout_ms is not None else default


def _device_matches(wanted: str, device: str) -> bool:
    from midimon.engine.ports import match_port

    return match_port(wanted, [device]) is not None


def decode_steps(encoding: str, value: int, last: int | None) -> int:
    """A relative (or absolute) encoder message -> signed step count (+ clockwise)."""
    if encoding == "twos_complement":
        return value if value < 64 else value - 128
    if encoding == "sign_magnitude":
        return value if value < 64 else -(value - 64)
    if encoding == "binary_offset":
        return value - 64
    return 0 if last is None else value - last  # absolute


class Recognizer:
    def __init__(self, fire: Fire, schedule: Schedule, cancel: Cancel) -> None:
        self._fire = fire
        self._schedule = schedule
        self._cancel = cancel
        self.settings = AdvancedSettings()  # the table's, handed in with each event
        self.held: dict[tuple, E.Event] = {}
        self._presses: dict[tuple, _Press] = {}
        self._taps: dict[tuple, tuple[float, _Press | None, Any]] = {}
        self._absolute: dict[tuple, int] = {}

    # ------------------------------------------------------------------ entry
    def feed(self, ev: E.Event, table: ModeTable, settings: AdvancedSettings) -> None:
        self.settings = settings
        kind = ev.kind
        if kind == E.NOTE_ON:
            self._note_on(ev, table)
        elif kind == E.NOTE_OFF:
            self._note_off(ev)
        elif kind == E.CC:
            self._cc(ev, table)
        elif kind in (E.AFTERTOUCH, E.POLY_AFTERTOUCH):
            for b in table.aftertouch:
                at = cast(AftertouchTrigger, b.trigger)
                if (
                    (at.note is None or (kind == E.POLY_AFTERTOUCH and at.note == ev.note))
                    and at.pressure_min <= ev.value <= at.pressure_max
                    and _filter(b, ev)
                ):
                    self._fire(b, ev, {})
        elif kind == E.PITCHBEND:
            for b in table.pitchbend:
                pb = cast(PitchBendTrigger, b.trigger)
                if pb.value_min <= ev.value <= pb.value_max and _filter(b, ev):
                    self._fire(b, ev, {})
        elif kind == E.PLUGIN:
            for b in table.plugin.get(ev.device, ()):
                pt = cast(PluginTrigger, b.trigger)
                if pt.event is not None and pt.event != ev.name:
                    continue
                data = ev.data if isinstance(ev.data, dict) else {}
                if all(data.get(k) == v for k, v in pt.match.items()):
                    self._fire(b, ev, {"event": ev.name, "data": ev.data})

    # ------------------------------------------------------------------ notes
    def _note_on(self, ev: E.Event, table: ModeTable) -> None:
        note = ev.note
        key = (ev.device, ev.channel, note)
        self._kill(key)  # a new press of a held key (a missed note-off) replaces the old one
        self.held[key] = ev
        s = self.settings

        doubles = [b for b in table.double.get(note, ()) if _filter(b, ev)]
        if doubles:
            prev = self._taps.pop(key, None)
            if prev is not None:
                first_time, first_press, timer = prev
                window = max(_window_ms(b, s.double_tap_timeout_ms) for b in doubles) / 1000
                self._cancel(timer)
                if first_press is not None:
                    self._drop(first_press)
                if ev.time - first_time <= window:
                    for b in doubles:
                        limit = _window_ms(b, s.double_tap_timeout_ms) / 1000
                        if ev.time - first_time <= limit:
                            self._fire(b, ev, {"gesture": "double_tap"})
                    return

        chords = [b for b in table.chord_by_note.get(note, ()) if _filter(b, ev)]
        if chords and self._chord(ev, chords):
            return

        presses = []
        extra: dict = {}
        for b in table.press.get(note, ()):
            t = cast(NoteTrigger | VelocityRangeTrigger, b.trigger)
            if not (t.velocity_min <= ev.velocity <= t.velocity_max) or not _filter(b, ev):
                continue
            if isinstance(t, VelocityRangeTrigger):
                level = _level(b, ev.velocity)
                if t.level is not None and t.level != level:
                    continue
                extra["level"] = level
            presses.append(b)
        holds = [b for b in table.hold.get(note, ()) if _filter(b, ev)]

        if not (holds or doubles or chords):
            for b in presses:
                self._fire(b, ev, extra)
            return

        press = _Press(ev, presses, extra)
        self._presses[key] = press
        if holds:
            press.blockers.add("release")
            for b in holds:
                hold = cast(LongPressTrigger, b.trigger)
                ms = hold.duration_ms if hold.duration_ms is not None else s.hold_threshold_ms
                press.timers.append(
                    self._schedule(ev.time + ms / 1000, functools.partial(self._hold, key, press, b, ms))
                )
        if doubles:
            press.blockers.add("tap")
            window = max(_window_ms(b, s.double_tap_timeout_ms) for b in doubles) / 1000
            timer = self._schedule(ev.time + window, lambda: self._tap_expired(key, press))
            self._taps[key] = (ev.time, press, timer)
        if chords:
            press.blockers.add("chord")
            window = max(_window_ms(b, s.chord_timeout_ms) for b in chords) / 1000
            press.timers.append(self._schedule(ev.time + window, lambda: self._resolve(press, "chord")))

    def _note_off(self, ev: E.Event) -> None:
        key = (ev.device, ev.channel, ev.note)
        self.held.pop(key, None)
        press = self._presses.pop(key, None)
        if press is not None:
            self._resolve(press, "release")

    def _hold(self, key: tuple, press: _Press, b: Bound, ms: int) -> None:
        if self._presses.get(key) is not press:
            return  # released (or replaced) before the hold time
        if not press.dead:
            press.dead = True  # the hold claims the press: its press mappings never fire
            tap = self._taps.get(key)
            if tap is not None and tap[1] is press:
                self._cancel(tap[2])
                del self._taps[key]
        self._fire(b, press.event, {"gesture": "long_press", "held_ms": ms})

    def _tap_expired(self, key: tuple, press: _Press) -> None:
        tap = self._taps.get(key)
        if tap is not None and tap[1] is press:
            del self._taps[key]
        self._resolve(press, "tap")

    def _resolve(self, press: _Press, blocker: str) -> None:
        press.blockers.discard(blocker)
        if blocker == "release":
            for t in press.timers:
                self._cancel(t)
            press.timers.clear()
        if not press.blockers and not press.dead:
            press.dead = True
            for b in press.binds:
                self._fire(b, press.event, press.extra)

    def _drop(self, press: _Press) -> None:
        press.dead = True
        for t in press.timers:
            self._cancel(t)
        press.timers.clear()

    def _kill(self, key: tuple) -> None:
        old = self._presses.pop(key, None)
        if old is not None:
            self._drop(old)

    def _chord(self, ev: E.Event, chords: list[Bound]) -> bool:
        s = self.settings
        fired = False
        for b in chords:
            t = cast(NoteChordTrigger, b.trigger)
            window = (t.timeout_ms if t.timeout_ms is not None else s.chord_timeout_ms) / 1000
            held = [self.held.get((ev.device, ev.channel, n)) for n in t.notes]
            members = [m for m in held if m is not None]
            if len(members) < len(held):
                continue
            times = [m.time for m in members]
            if max(times) - min(times) > window:
                continue
            for n in t.notes:
                k = (ev.device, ev.channel, n)
                press = self._presses.pop(k, None)
                if press is not None:
                    self._drop(press)
                tap = self._taps.pop(k, None)
                if tap is not None:
                    self._cancel(tap[2])
            velocity = max(m.velocity for m in members)
            self._fire(b, ev, {"gesture": "chord", "notes": list(t.notes), "chord_velocity": velocity})
            fired = True
        return fired

    # ------------------------------------------------------------------ controllers
    def _cc(self, ev: E.Event, table: ModeTable) -> None:
        for b in table.cc.get(ev.control, ()):
            t = cast(CCTrigger, b.trigger)
            if t.value_min <= ev.value <= t.value_max and _filter(b, ev):
                self._fire(b, ev, {})
        encoders = table.encoder.get(ev.control)
        key = (ev.device, ev.channel, ev.control)
        last = self._absolute.get(key)
        self._absolute[key] = ev.value
        if not encoders:
            return
        for b in encoders:
            enc = cast(EncoderTurnTrigger, b.trigger)
            if not _filter(b, ev):
                continue
            steps = decode_steps(enc.encoding, ev.value, last)
            if steps == 0:
                continue
            direction = "Clockwise" if steps > 0 else "CounterClockwise"
            if enc.direction is None or enc.direction == direction:
                self._fire(b, ev, {"steps": abs(steps), "direction": direction})
