"""SendMidi: one message built per action, with the event's dynamics filled in at run time.

A SendMidi action's message is built (and validated by mido) once; what the incoming event
decides (a left-out velocity, value, pressure or bend) is filled in by a cheap copy. Building
and checking a fresh mido message was half the cost of a SendMidi.
"""

from __future__ import annotations

import functools
from typing import Any

import mido

from midimon.engine.events import to_mido_kwargs

# mido field -> how to read it from the action context when the action leaves it out
_DYNAMIC = {
    ("NoteOn", "velocity"): lambda ctx: _clamp(ctx.get("velocity_out", 100)),
    ("CC", "value"): lambda ctx: _clamp(ctx.get("value") or 0),
    ("Aftertouch", "value"): lambda ctx: _clamp(ctx.get("velocity_out") or ctx.get("value") or 0),
    ("PolyAftertouch", "value"): lambda ctx: _clamp(ctx.get("velocity_out") or ctx.get("value") or 0),
    # a left-out bend passes the incoming one through, like velocity and value
    ("PitchBend", "pitch"): lambda ctx: _clamp_pitch(ctx.get("pitch") or 0),
}
_LEFT_OUT = {
    "NoteOn": "velocity",
    "CC": "value",
    "Aftertouch": "pressure",
    "PolyAftertouch": "pressure",
    "PitchBend": "pitch",
}


@functools.lru_cache(maxsize=4096)
def template(action) -> tuple[mido.Message, tuple]:
    """(the message with placeholders, the (field, reader) pairs to fill per event)."""
    fields = {
        "channel": action.channel,
        "note": action.note,
        "controller": action.controller,
        "program": action.program,
        "data": action.data,
        "pitch": action.pitch or 0,
        "velocity": action.velocity if action.velocity is not None else 0,
        "value": action.value if action.value is not None else 0,
        "pressure": action.pressure if action.pressure is not None else 0,
    }
    mtype, kwargs = to_mido_kwargs(action.message_type, fields)
    dynamic = []
    left_out = _LEFT_OUT.get(action.message_type)
    if left_out is not None and getattr(action, left_out) is None:
        mido_field = {"pressure": "value"}.get(left_out, left_out)
        dynamic.append((mido_field, _DYNAMIC[(action.message_type, mido_field)]))
    return mido.Message(mtype, **kwargs), tuple(dynamic)


def message_for(action, ctx: dict) -> mido.Message:
    try:
        msg, dynamic = template(action)
    except TypeError:  # a model holding a list (SysEx data) cannot be a cache key
        msg, dynamic = template.__wrapped__(action)
    if not dynamic:
        return msg
    # mido's copy() re-validates every field (twice); the readers already clamp the one field
    # that changes, so fill it in directly
    new = msg.__class__.__new__(msg.__class__)
    state = vars(new)
    state.update(vars(msg))
    for name, read in dynamic:
        state[name] = read(ctx)
    return new


def _clamp(v: Any) -> int:
    try:
        return max(0, min(127, int(v)))
    except (TypeError, ValueError):
        return 0


def _clamp_pitch(v: Any) -> int:
    try:
        return max(-8192, min(8191, int(v)))
    except (TypeError, ValueError):
        return 0
