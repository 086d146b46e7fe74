"""``midi``: send messages to declared output ports; SysEx only when the grant says so."""

from __future__ import annotations

from typing import Any, ClassVar

from ..grants import grant_command
from .base import Capability, plain, require_str

_CHANNEL = ("channel", 0, 15)
#: message type -> (field, low, high) it takes; every field is required.
MESSAGE_FIELDS: dict[str, tuple[tuple[str, int, int], ...]] = {
    "note_on": (_CHANNEL, ("note", 0, 127), ("velocity", 0, 127)),
    "note_off": (_CHANNEL, ("note", 0, 127), ("velocity", 0, 127)),
    "control_change": (_CHANNEL, ("control", 0, 127), ("value", 0, 127)),
    "program_change": (_CHANNEL, ("program", 0, 127)),
    "pitchwheel": (_CHANNEL, ("pitch", -8192, 8191)),
    "aftertouch": (_CHANNEL, ("value", 0, 127)),
    "polytouch": (_CHANNEL, ("note", 0, 127), ("value", 0, 127)),
    "song_select": (("song", 0, 127),),
    "songpos": (("pos", 0, 16383),),
    "start": (),
    "stop": (),
    "continue": (),
    "clock": (),
    "reset": (),
    "sysex": (),
}
MAX_SYSEX = 4096


def validate_message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise TypeError("a MIDI message is a dict such as {'type': 'note_on', 'note': 60, ...}")
    message = plain(message)
    kind = message.get("type")
    if kind not in MESSAGE_FIELDS:
        raise ValueError(f"unknown MIDI message type {kind!r}")
    out: dict[str, Any] = {"type": kind}
    fields = MESSAGE_FIELDS[kind]
    expected = {"type"} | {f[0] for f in fields} | ({"data"} if kind == "sysex" else set())
    extra = set(message) - expected
    if extra:
        raise ValueError(f"{kind} does not take {', '.join(sorted(extra))}")
    for name, low, high in fields:
        value = message.get(name, 0 if name in ("channel", "velocity") else None)
        if type(value) is not int or not low <= value <= high:
            raise ValueError(f"{kind}.{name} must be an integer from {low} to {high}")
        out[name] = value
    if kind == "sysex":
        data = message.get("data")
        if (
            not isinstance(data, list)
            or len(data) > MAX_SYSEX
            or not all(type(b) is int and 0 <= b <= 127 for b in data)
        ):
            raise ValueError(f"sysex data must be a list of at most {MAX_SYSEX} integers 0-127")
        out["data"] = data
    return out


class MidiCapability(Capability):
    obj_name = "midi"
    capability = "midi"
    methods: ClassVar[frozenset[str]] = frozenset({"send", "ports"})

    def send(self, port: Any, message: Any) -> None:
        name = require_str(port, "port", 256)
        grants = self.ctx.grants
        if name in grants.deny.ports:
            raise self.deny("send", name, "port is explicitly denied")
        if name not in grants.allow.ports:
            raise self.deny("send", name, f"port is {self.scope_hint('ports')}")
        clean = validate_message(message)
        if clean["type"] == "sysex" and (not grants.allow.sysex or grants.deny.sysex):
            raise self.deny(
                "send",
                name,
                f"SysEx was not granted; the user grants it with: {grant_command(self.ctx.plugin, 'midi', {'sysex': True})}",
            )
        self.ctx.services.midi_send(name, clean)
        self.audit("send", "allowed", name, clean["type"])

    def ports(self) -> list[str]:
        grants = self.ctx.grants
        return [
            p for p in self.ctx.services.midi_output_ports() if p in grants.allow.ports and p not in grants.deny.ports
        ]
