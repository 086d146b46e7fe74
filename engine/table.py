"""Compile a validated config into an immutable mapping table.

The table is what the engine loop consults for every event, so it is indexed for that: per
mode, by note or CC number. Global mappings are merged into every mode's table here, once,
following the precedence rule: a mode mapping hides a global mapping with the *same trigger
kind on the same control* (same note / CC / set of chord notes, channel and device filter).
Different gestures on one control coexist (see docs/triggers.md, "When triggers overlap").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from midimon.config.models import AdvancedSettings, Config, Mapping
from midimon.engine import curves

INLINE_ACTIONS = frozenset({"ModeChange", "SendMidi"})
CHEAP_CONDITIONS = frozenset({"Always", "Never", "TimeRange", "DayOfWeek", "ModeIs", "And", "Or", "Not"})


@dataclass(frozen=True, eq=False)
class Bound:
    """One mapping, compiled."""

    mapping: Mapping
    scope: str  # the mode's name, or "global"
    path: tuple  # key path in the config, for messages
    curve: Callable[[int], int]
    inline: bool  # cheap enough to run on the engine loop itself

    @property
    def trigger(self):
        return self.mapping.trigger

    @property
    def action(self):
        return self.mapping.action

    @functools.cached_property
    def description(self) -> str:
        return self.mapping.description or f"{self.trigger.type} -> {self.action.type}"


@dataclass
class ModeTable:
    press: dict[int, list[Bound]] = field(default_factory=dict)  # Note, VelocityRange
    hold: dict[int, list[Bound]] = field(default_factory=dict)  # LongPress
    double: dict[int, list[Bound]] = field(default_factory=dict)  # DoubleTap
    chord_by_note: dict[int, list[Bound]] = field(default_factory=dict)
    cc: dict[int, list[Bound]] = field(default_factory=dict)
    encoder: dict[int, list[Bound]] = field(default_factory=dict)
    aftertouch: list[Bound] = field(default_factory=list)
    pitchbend: list[Bound] = field(default_factory=list)
    plugin: dict[str, list[Bound]] = field(default_factory=dict)
    count: int = 0

    def add(self, b: Bound) -> None:
        t = b.trigger
        kind = t.type
        self.count += 1
        if kind in ("Note", "VelocityRange"):
            self.press.setdefault(t.note, []).append(b)
        elif kind == "LongPress":
            self.hold.setdefault(t.note, []).append(b)
        elif kind == "DoubleTap":
            self.double.setdefault(t.note, []).append(b)
        elif kind == "NoteChord":
            for n in t.notes:
                self.chord_by_note.setdefault(n, []).append(b)
        elif kind == "CC":
            self.cc.setdefault(t.cc, []).append(b)
        elif kind == "EncoderTurn":
            self.encoder.setdefault(t.cc, []).append(b)
        elif kind == "Aftertouch":
            self.aftertouch.append(b)
        elif kind == "PitchBend":
            self.pitchbend.append(b)
        elif kind == "Plugin":
            self.plugin.setdefault(t.plugin, []).append(b)


@dataclass(frozen=True)
class Table:
    config: Config
    modes: dict[str, ModeTable]
    mode_order: tuple[str, ...]
    settings: AdvancedSettings
    source: str | None = None
    sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mapping_count(self) -> int:
        return sum(len(m.mappings) for m in self.config.modes) + len(self.config.global_mappings)

    def first_mode(self) -> str:
        return self.mode_order[0]


def hide_key(trigger) -> tuple:
    kind = trigger.type
    family = {"Note": "press", "VelocityRange": "press"}.get(kind, kind)
    if kind == "NoteChord":
        control: Any = frozenset(trigger.notes)
    elif kind in ("CC", "EncoderTurn"):
        control = trigger.cc
    elif kind == "Plugin":
        control = (trigger.plugin, trigger.event)
    else:
        control = getattr(trigger, "note", None)
    return (family, control, trigger.channel, trigger.device)


def is_inline(action) -> bool:
    kind = action.type
    if kind in INLINE_ACTIONS:
        return True
    if kind == "Conditional":
        return _cheap(action.condition) and all(
            a is None or is_inline(a) for a in (action.then_action, action.else_action)
        )
    if kind == "Sequence":
        return all(is_inline(a) for a in action.actions)
    return False


def _cheap(cond) -> bool:
    if cond.type not in CHEAP_CONDITIONS:
        return False
    subs = list(getattr(cond, "conditions", None) or [])
    if getattr(cond, "condition", None) is not None:
        subs.append(cond.condition)
    return all(_cheap(c) for c in subs)


def compile_table(config: Config, source: str | None = None, sha256: str = "") -> Table:
    def bind(m: Mapping, scope: str, path: tuple) -> Bound:
        return Bound(m, scope, path, curves.build(m.velocity_curve), is_inline(m.action))

    globals_ = [
        (bind(m, "global", ("global_mappings", j)), hide_key(m.trigger))
        for j, m in enumerate(config.global_mappings)
        if m.enabled
    ]
    modes: dict[str, ModeTable] = {}
    order = config.mode_names()
    mode_models = config.modes or []
    for i, name in enumerate(order):
        table = ModeTable()
        own = (
            []
            if not mode_models
            else [
                bind(m, name, ("modes", i, "mappings", j)) for j, m in enumerate(mode_models[i].mappings) if m.enabled
            ]
        )
        hidden = {hide_key(b.trigger) for b in own}
        for b in own:
            table.add(b)
        for b, key in globals_:
            if key not in hidden:
                table.add(b)
        modes[name] = table
    return Table(config, modes, tuple(order), config.advanced_settings, source, sha256)
