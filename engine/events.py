"""Normalised input events.

Everything that can fire a mapping (a MIDI message from any port, an event from a trigger
plugin, a `midimon send` over the control socket) becomes an :class:`Event` before it reaches
the recognizers, so the rest of the engine never knows where it came from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

NOTE_ON = "note_on"
NOTE_OFF = "note_off"
CC = "control_change"
AFTERTOUCH = "aftertouch"  # channel pressure
POLY_AFTERTOUCH = "polytouch"
PITCHBEND = "pitchwheel"
PROGRAM = "program_change"
SYSEX = "sysex"
PLUGIN = "plugin"

KINDS = (NOTE_ON, NOTE_OFF, CC, AFTERTOUCH, POLY_AFTERTOUCH, PITCHBEND, PROGRAM, SYSEX, PLUGIN)


@dataclass(slots=True)
class Event:
    kind: str
    channel: int = 0
    note: int = -1  # note number, for notes and poly aftertouch
    velocity: int = 0
    control: int = -1  # CC number
    value: int = 0  # CC value, pressure, program, or pitch bend as 0..16383 (8192 = centre)
    device: str = ""
    time: float = field(default_factory=time.monotonic)
    name: str = ""  # plugin event name
    data: Any = None  # plugin event data, SysEx bytes
    relayed: bool = False  # the JACK relay already sent this event's MIDI-only answers, in the cycle

    def to_json(self) -> dict:
        out: dict[str, Any] = {"type": self.kind, "device": self.device}
        if self.kind in (NOTE_ON, NOTE_OFF):
            out.update(channel=self.channel, note=self.note, velocity=self.velocity)
        elif self.kind == CC:
            out.update(channel=self.channel, control=self.control, value=self.value)
        elif self.kind == AFTERTOUCH:
            out.update(channel=self.channel, value=self.value)
        elif self.kind == POLY_AFTERTOUCH:
            out.update(channel=self.channel, note=self.note, value=self.value)
        elif self.kind == PITCHBEND:
            out.update(channel=self.channel, value=self.value, pitch=self.value - 8192)
        elif self.kind == PROGRAM:
            out.update(channel=self.channel, program=self.value)
        elif self.kind == SYSEX:
            out.update(data=list(self.data or ()))
        elif self.kind == PLUGIN:
            out.update(plugin=self.device, event=self.name, data=self.data)
        if self.relayed:
            out["relayed"] = True  # answered inside the JACK cycle (docs/platforms.md)
        return out


def from_mido(msg, device: str = "", now: float | None = None) -> Event | None:
    """A mido message -> Event (None for clock, sense and other messages nobody maps)."""
    t = time.monotonic() if now is None else now
    kind = msg.type
    if kind == "note_on":
        if msg.velocity == 0:  # running-status note off
            return Event(NOTE_OFF, msg.channel, msg.note, 0, device=device, time=t)
        return Event(NOTE_ON, msg.channel, msg.note, msg.velocity, device=device, time=t)
    if kind == "note_off":
        return Event(NOTE_OFF, msg.channel, msg.note, msg.velocity, device=device, time=t)
    if kind == "control_change":
        return Event(CC, msg.channel, control=msg.control, value=msg.value, device=device, time=t)
    if kind == "aftertouch":
        return Event(AFTERTOUCH, msg.channel, value=msg.value, device=device, time=t)
    if kind == "polytouch":
        return Event(POLY_AFTERTOUCH, msg.channel, msg.note, value=msg.value, device=device, time=t)
    if kind == "pitchwheel":
        return Event(PITCHBEND, msg.channel, value=msg.pitch + 8192, device=device, time=t)
    if kind == "program_change":
        return Event(PROGRAM, msg.channel, value=msg.program, device=device, time=t)
    if kind == "sysex":
        return Event(SYSEX, data=tuple(msg.data), device=device, time=t)
    return None


def from_fields(kind: str, args: dict[str, Any], device: str = "midimon send") -> Event:
    """Build an event from loose keyword fields (the control socket's `send`).

    Raises ValueError naming the bad field.
    """
    aliases = {
        "note": NOTE_ON,
        "cc": CC,
        "control": CC,
        "pitchbend": PITCHBEND,
        "pitch_bend": PITCHBEND,
        "channel_pressure": AFTERTOUCH,
        "poly_aftertouch": POLY_AFTERTOUCH,
        "program": PROGRAM,
    }
    kind = aliases.get(kind, kind)
    if kind not in KINDS or kind == PLUGIN:
        raise ValueError(
            f"unknown message type {kind!r}; expected one of: {', '.join(k for k in KINDS if k != PLUGIN)}"
        )

    def num(key: str, lo: int, hi: int, default: int | None = None) -> int:
        if key not in args:
            if default is None:
                raise ValueError(f"{kind} needs {key}=")
            return default
        try:
            v = int(args[key])
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be a whole number, got {args[key]!r}") from None
        if not lo <= v <= hi:
            raise ValueError(f"{key} must be from {lo} to {hi}, got {v}")
        return v

    ch = num("channel", 0, 15, 0)
    dev = str(args.get("device", device))
    if kind in (NOTE_ON, NOTE_OFF):
        vel = num("velocity", 0, 127, 100 if kind == NOTE_ON else 0)
        if kind == NOTE_ON and vel == 0:
            kind = NOTE_OFF
        return Event(kind, ch, num("note", 0, 127), vel, device=dev)
    if kind == CC:
        control = num("control", 0, 127) if "control" in args else num("cc", 0, 127)
        return Event(CC, ch, control=control, value=num("value", 0, 127), device=dev)
    if kind == AFTERTOUCH:
        return Event(
            AFTERTOUCH, ch, value=num("value", 0, 127) if "value" in args else num("pressure", 0, 127), device=dev
        )
    if kind == POLY_AFTERTOUCH:
        return Event(POLY_AFTERTOUCH, ch, num("note", 0, 127), value=num("value", 0, 127), device=dev)
    if kind == PITCHBEND:
        if "pitch" in args:
            return Event(PITCHBEND, ch, value=num("pitch", -8192, 8191) + 8192, device=dev)
        return Event(PITCHBEND, ch, value=num("value", 0, 16383), device=dev)
    if kind == PROGRAM:
        return Event(PROGRAM, ch, value=num("program", 0, 127), device=dev)
    data = args.get("data", [])
    if not isinstance(data, list) or not all(isinstance(b, int) and 0 <= b <= 127 for b in data):
        raise ValueError("sysex data must be a list of numbers from 0 to 127")
    return Event(SYSEX, data=tuple(data), device=dev)


def to_mido_kwargs(action_type: str, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Map a SendMidi message_type and its fields to mido's message type and arguments."""
    ch = fields.get("channel", 0)
    if action_type == "NoteOn":
        return "note_on", {"channel": ch, "note": fields["note"], "velocity": fields["velocity"]}
    if action_type == "NoteOff":
        return "note_off", {"channel": ch, "note": fields["note"], "velocity": fields.get("velocity", 0)}
    if action_type == "CC":
        return "control_change", {"channel": ch, "control": fields["controller"], "value": fields["value"]}
    if action_type == "ProgramChange":
        return "program_change", {"channel": ch, "program": fields["program"]}
    if action_type == "PitchBend":
        return "pitchwheel", {"channel": ch, "pitch": fields.get("pitch", 0)}
    if action_type == "Aftertouch":
        return "aftertouch", {"channel": ch, "value": fields["pressure"]}
    if action_type == "PolyAftertouch":
        return "polytouch", {"channel": ch, "note": fields["note"], "value": fields["pressure"]}
    if action_type == "SysEx":
        return "sysex", {"data": list(fields["data"])}
    raise ValueError(f"unknown message_type {action_type!r}")
