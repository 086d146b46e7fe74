"""`midimon learn`: what the user just pressed, as trigger snippets to paste into the config.

A control can send several messages (a pad: note on and note off, plus aftertouch; some
controllers send a CC alongside the note). Every distinct control found is offered; a knob is
told apart as an absolute CC or a relative encoder (and which encoding) from its values.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from midimon.engine import events as E

SMALL = 15  # a relative encoder moves this many steps per message at most


def _toml(trigger: dict[str, Any]) -> str:
    def value(v):
        return f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)

    inner = ", ".join(f"{k} = {value(v)}" for k, v in trigger.items())
    return f"trigger = {{ {inner} }}"


def _with_channel(trigger: dict, channel: int) -> dict:
    if channel:
        trigger["channel"] = channel
    return trigger


def _monotonic_sweep(values: list[int]) -> bool:
    if len(set(values)) < 3:
        return False
    steps = [b - a for a, b in zip(values, values[1:])]
    return all(s >= 0 for s in steps) or all(s <= 0 for s in steps)


def _encoder(values: list[int]) -> tuple[str, list[str]] | None:
    """(encoding, directions) when the values look relative, else None."""
    if not values or _monotonic_sweep(values):
        return None
    if all(1 <= v <= SMALL or 128 - SMALL <= v <= 127 for v in values):
        enc = "twos_complement"
        dirs = {"Clockwise" if v < 64 else "CounterClockwise" for v in values}
    elif all(64 - SMALL <= v <= 64 + SMALL and v != 64 for v in values):
        enc = "binary_offset"
        dirs = {"Clockwise" if v > 64 else "CounterClockwise" for v in values}
    elif all(1 <= v <= SMALL or 65 <= v <= 64 + SMALL for v in values):
        enc = "sign_magnitude"
        dirs = {"Clockwise" if v < 64 else "CounterClockwise" for v in values}
    else:
        return None
    # a single value repeated is relative only if it is small: a button sends 127 or 0
    if len(set(values)) == 1 and len(values) < 2:
        return None
    return enc, sorted(dirs)


def analyse(events: list[E.Event]) -> list[dict[str, Any]]:
    """Group the captured events by control and suggest a trigger for each group."""
    groups: OrderedDict[tuple, list[E.Event]] = OrderedDict()
    for ev in events:
        if ev.kind in (E.NOTE_ON, E.NOTE_OFF):
            key: tuple[str, int, int | None] = ("note", ev.channel, ev.note)
        elif ev.kind == E.CC:
            key = ("cc", ev.channel, ev.control)
        elif ev.kind == E.POLY_AFTERTOUCH:
            key = ("polytouch", ev.channel, ev.note)
        else:
            key = (ev.kind, ev.channel, None)
        groups.setdefault(key, []).append(ev)
    out = []
    for (kind, channel, number), evs in groups.items():
        cand: dict[str, Any] = {"messages": len(evs), "channel": channel}
        if kind == "note":
            vels = [e.velocity for e in evs if e.kind == E.NOTE_ON]
            cand.update(
                kind="note",
                note=number,
                velocities=vels,
                trigger=_with_channel({"type": "Note", "note": number}, channel),
                why="note on" + (" and note off" if any(e.kind == E.NOTE_OFF for e in evs) else ""),
            )
        elif kind == "cc":
            values = [e.value for e in evs]
            enc = _encoder(values)
            cand.update(kind="cc", cc=number, values=values)
            if enc:
                encoding, dirs = enc
                trig = {"type": "EncoderTurn", "cc": number}
                if encoding != "twos_complement":
                    trig["encoding"] = encoding
                cand.update(
                    trigger=_with_channel(trig, channel),
                    why=f"a relative encoder ({encoding}); turned {' and '.join(dirs).lower()}",
                    variants=[
                        _toml(_with_channel({**trig, "direction": d}, channel))
                        for d in ("Clockwise", "CounterClockwise")
                    ],
                )
            elif _monotonic_sweep(values):
                cand.update(
                    trigger=_with_channel({"type": "CC", "cc": number}, channel),
                    why=f"an absolute knob or fader (values {min(values)}..{max(values)})",
                )
            else:
                trig = {"type": "CC", "cc": number}
                if values and max(values) > 0:
                    trig["value_min"] = max(1, min(v for v in values if v > 0))
                cand.update(
                    trigger=_with_channel(trig, channel), why=f"a button sending CC (values {sorted(set(values))})"
                )
        elif kind == "polytouch":
            cand.update(
                kind="polytouch",
                note=number,
                trigger=_with_channel({"type": "Aftertouch", "note": number}, channel),
                why="polyphonic aftertouch",
            )
        elif kind == E.AFTERTOUCH:
            cand.update(
                kind="aftertouch", trigger=_with_channel({"type": "Aftertouch"}, channel), why="channel pressure"
            )
        elif kind == E.PITCHBEND:
            cand.update(
                kind="pitchbend", trigger=_with_channel({"type": "PitchBend"}, channel), why="the pitch bend wheel"
            )
        else:
            cand.update(kind=kind, trigger=None, why=f"{kind} messages cannot trigger a mapping")
        cand["toml"] = _toml(cand["trigger"]) if cand.get("trigger") else None
        out.append(cand)
    return out
