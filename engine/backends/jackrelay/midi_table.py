"""The compiled MIDI-only table: what the relay answers inside the JACK cycle, built from the
engine's own compiled mapping table.

A key is (status kind, channel, number) in one mode, globals already merged in (the engine's
``ModeTable`` holds them). It is answered in the cycle only when every mapping the engine would
consult for it is a plain Note or CC trigger (no device filter, no timing trigger sharing the
note or an encoder sharing the CC) whose action is SendMidi, or a Sequence of them, to a port
the relay owns. Anything else goes to the engine; a key whose engine-side mappings may send
MIDI or change the mode sets an order barrier (see relay.c), so no relayed answer can overtake
an answer the engine still owes.

The bytes built here mirror ``engine/actions/midi.py`` field for field (which fields a left-out
value takes from the event, through which curve); ``tests/engine/test_jackrelay_table.py``
checks every answer against the engine's own output.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from midimon.config.models import (
    Action,
    CCTrigger,
    ConditionalAction,
    ModeChangeAction,
    NoteTrigger,
    RepeatAction,
    SendMidiAction,
    SequenceAction,
)
from midimon.engine.table import Bound, ModeTable, Table

FORWARD, BARRIER, ANSWER = 0, 1, 2
K_NOTE_ON, K_NOTE_OFF, K_CC = 0, 1, 2
KEYS_PER_MODE = 3 * 16 * 128
OTHER_PER_MODE = 8
NO_MODE = 0xFFFFFFFF
MAX_OUTS_PER_KEY = 255

ENTRY = struct.Struct("<BBHI")  # what, n, pad, first: relay.c's entry_t
OUT = struct.Struct("<HBB3sBBBHH")  # port, len, dyn, b[3], lo, hi, pad, lut, pad2: out_t

PortIndex = Callable[[str | None], int | None]


def send_midis(action: Action) -> list[SendMidiAction] | None:
    """The SendMidi messages of an action whose whole effect is MIDI out, in order; else None."""
    match action:
        case SendMidiAction():
            return None if action.message_type == "SysEx" else [action]
        case SequenceAction():
            out: list[SendMidiAction] = []
            for sub in action.actions:
                got = send_midis(sub)
                if got is None:
                    return None
                out += got
            return out
    return None


def may_order(action: Action) -> bool:
    """Whether an action can send MIDI or change the mode: then later answers must wait for it."""
    match action:
        case SendMidiAction() | ModeChangeAction():
            return True
        case SequenceAction():
            return any(may_order(a) for a in action.actions)
        case RepeatAction():
            return may_order(action.action)
        case ConditionalAction():
            return any(a is not None and may_order(a) for a in (action.then_action, action.else_action))
    return False


def relay_answers(b: Bound) -> bool:
    """The engine's question for an event the relay answered: is this mapping's effect the
    relay's answer (so it must not be sent again)?"""
    return (
        isinstance(b.trigger, NoteTrigger | CCTrigger) and b.trigger.device is None and send_midis(b.action) is not None
    )


def curve_lut(curve: Callable[[int], int]) -> bytes:
    """The engine's ``velocity_out``: the curve for 1..127, 0 stays 0 (loop.py's context)."""
    return bytes([0] + [max(0, min(127, int(curve(v)))) for v in range(1, 128)])


IDENTITY = bytes(range(128))


def _message(a: SendMidiAction, b: Bound, kind: int, curve: bytes) -> tuple[int, bytes, int, bytes | None]:
    """(len, 3 bytes, dyn byte, lut or None) for one SendMidi answering a note-on or a CC."""
    ch = a.channel
    match a.message_type:
        case "NoteOn":
            if a.velocity is not None:
                return 3, bytes([0x90 | ch, a.note or 0, a.velocity]), 0, None
            return 3, bytes([0x90 | ch, a.note or 0, 0]), 2, curve
        case "NoteOff":
            return 3, bytes([0x80 | ch, a.note or 0, a.velocity or 0]), 0, None
        case "CC":
            if a.value is not None:
                return 3, bytes([0xB0 | ch, a.controller or 0, a.value]), 0, None
            if kind == K_CC:  # the event's raw value: midi.py reads ctx["value"], not the curve
                return 3, bytes([0xB0 | ch, a.controller or 0, 0]), 2, IDENTITY
            return 3, bytes([0xB0 | ch, a.controller or 0, 0]), 0, None  # a note has no value: 0
        case "ProgramChange":
            return 2, bytes([0xC0 | ch, a.program or 0, 0]), 0, None
        case "PitchBend":
            v = (a.pitch or 0) + 8192  # a note or CC carries no bend: a left-out pitch is 0
            return 3, bytes([0xE0 | ch, v & 0x7F, v >> 7]), 0, None
        case "Aftertouch":
            if a.pressure is not None:
                return 2, bytes([0xD0 | ch, a.pressure, 0]), 0, None
            return 2, bytes([0xD0 | ch, 0, 0]), 1, curve
        case "PolyAftertouch":
            if a.pressure is not None:
                return 3, bytes([0xA0 | ch, a.note or 0, a.pressure]), 0, None
            return 3, bytes([0xA0 | ch, a.note or 0, 0]), 2, curve
    raise ValueError(f"no in-cycle form for {a.message_type}")


@dataclass(frozen=True)
class CompiledTable:
    modes: tuple[str, ...]
    entries: bytes
    other: bytes
    outs: bytes
    nouts: int
    luts: bytes
    nluts: int
    answered: int  # keys answered in the cycle, over all modes
    barriers: int  # keys that set an order barrier

    @property
    def nbytes(self) -> int:
        return len(self.entries) + len(self.other) + len(self.outs) + len(self.luts)

    def mode_index(self, mode: str | None) -> int:
        return self.modes.index(mode) if mode in self.modes else NO_MODE


class _Builder:
    """Builds one table; what depends on a mapping alone (its messages, whether it may need a
    barrier) is worked out once per mapping, not once per channel."""

    def __init__(self, port_index: PortIndex) -> None:
        self.port_index = port_index
        self.outs: list[bytes] = []
        self.luts: dict[bytes, int] = {}
        self.answered = 0
        self.barriers = 0
        self._msgs: dict[tuple[int, int], list[tuple[int, int, bytes, int, bytes | None]] | None] = {}
        self._order: dict[int, bool] = {}
        self._curves: dict[int, bytes] = {}

    def lut(self, table: bytes) -> int:
        return self.luts.setdefault(table, len(self.luts))

    def orders(self, b: Bound) -> bool:
        got = self._order.get(id(b))
        if got is None:
            got = self._order[id(b)] = may_order(b.action)
        return got

    def messages(self, b: Bound, kind: int) -> list[tuple[int, int, bytes, int, bytes | None]] | None:
        """(port, len, bytes, dyn, lut) per message of a mapping the relay can answer; else None."""
        key = (id(b), kind)
        if key in self._msgs:
            return self._msgs[key]
        out: list[tuple[int, int, bytes, int, bytes | None]] | None = None
        sends = send_midis(b.action) if relay_answers(b) else None
        if sends is not None:
            ports = [self.port_index(a.port) for a in sends]
            if None not in ports:
                out = []
                for a, port in zip(sends, ports, strict=True):
                    n, data, dyn, lut = _message(a, b, kind, self._curve(b))
                    out.append((port or 0, n, data, dyn, lut))
        self._msgs[key] = out
        return out

    def _curve(self, b: Bound) -> bytes:
        got = self._curves.get(id(b.curve))
        if got is None:
            got = self._curves[id(b.curve)] = curve_lut(b.curve)
        return got

    def key(self, kind: int, binds: list[Bound], blockers: list[Bound], lo_hi: Callable[[Bound], tuple[int, int]]):
        """The entry for one key: ``binds`` fire on it, ``blockers`` (timing triggers, encoders)
        share it and keep it for the engine."""
        if not binds and not blockers:
            return _FORWARD
        msgs: list[bytes] = []
        answer = not blockers
        for b in binds if answer else ():
            got = self.messages(b, kind)
            if got is None:
                answer = False
                break
            lo, hi = lo_hi(b)
            for port, n, data, dyn, lut in got:
                msgs.append(OUT.pack(port, n, dyn, data, lo, hi, 0, 0 if lut is None else self.lut(lut), 0))
        if answer and 0 < len(msgs) <= MAX_OUTS_PER_KEY:
            first = len(self.outs)
            self.outs += msgs
            self.answered += 1
            return ENTRY.pack(ANSWER, len(msgs), 0, first)
        if any(self.orders(b) for b in binds) or any(self.orders(b) for b in blockers):
            self.barriers += 1
            return _BARRIER
        return _FORWARD


_FORWARD = ENTRY.pack(FORWARD, 0, 0, 0)
_BARRIER = ENTRY.pack(BARRIER, 0, 0, 0)


def _on(ch: int, binds: list[Bound] | tuple[Bound, ...]) -> list[Bound]:
    return [b for b in binds if b.trigger.channel is None or b.trigger.channel == ch]


def _note_range(b: Bound) -> tuple[int, int]:
    t = b.trigger
    assert isinstance(t, NoteTrigger)
    return t.velocity_min, t.velocity_max


def _cc_range(b: Bound) -> tuple[int, int]:
    t = b.trigger
    assert isinstance(t, CCTrigger)
    return t.value_min, t.value_max


def _mode(mt: ModeTable, bld: _Builder) -> tuple[bytes, bytes]:
    keys = [_FORWARD] * KEYS_PER_MODE  # most keys have no mapping: only the others are visited
    for note in set(mt.press) | set(mt.hold) | set(mt.double) | set(mt.chord_by_note):
        press_all = mt.press.get(note, [])
        timing_all = mt.hold.get(note, []) + mt.double.get(note, []) + mt.chord_by_note.get(note, [])
        for ch in range(16):
            press = _on(ch, press_all)
            # a VelocityRange is left to the engine: its levels pass a context the relay cannot
            timing = _on(ch, timing_all)
            notes = [b for b in press if isinstance(b.trigger, NoteTrigger)]
            blockers = timing + [b for b in press if not isinstance(b.trigger, NoteTrigger)]
            keys[(K_NOTE_ON * 16 + ch) * 128 + note] = bld.key(K_NOTE_ON, notes, blockers, _note_range)
            # a release resolves a press waiting on a hold: what fires then may send MIDI
            if timing and any(bld.orders(b) for b in timing + press):
                keys[(K_NOTE_OFF * 16 + ch) * 128 + note] = _BARRIER
    for num in set(mt.cc) | set(mt.encoder):
        cc_all, enc_all = mt.cc.get(num, []), mt.encoder.get(num, [])
        for ch in range(16):
            keys[(K_CC * 16 + ch) * 128 + num] = bld.key(K_CC, _on(ch, cc_all), _on(ch, enc_all), _cc_range)
    other = bytearray(OTHER_PER_MODE)
    if any(bld.orders(b) for b in mt.aftertouch):
        other[0xA - 8] = other[0xD - 8] = BARRIER
    if any(bld.orders(b) for b in mt.pitchbend):
        other[0xE - 8] = BARRIER
    return b"".join(keys), bytes(other)


def compile_midi_table(table: Table, port_index: PortIndex) -> CompiledTable:
    bld = _Builder(port_index)
    entries: list[bytes] = []
    other: list[bytes] = []
    for name in table.mode_order:
        e, o = _mode(table.modes[name], bld)
        entries.append(e)
        other.append(o)
    luts = sorted(bld.luts.items(), key=lambda kv: kv[1])
    return CompiledTable(
        modes=tuple(table.mode_order),
        entries=b"".join(entries),
        other=b"".join(other),
        outs=b"".join(bld.outs),
        nouts=len(bld.outs),
        luts=b"".join(lut for lut, _ in luts),
        nluts=len(luts),
        answered=bld.answered,
        barriers=bld.barriers,
    )
