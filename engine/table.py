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

from midimon.config.models import (
    Action,
    AdvancedSettings,
    AftertouchTrigger,
    AlwaysCondition,
    AndCondition,
    CCTrigger,
    Condition,
    ConditionalAction,
    Config,
    DayOfWeekCondition,
    DoubleTapTrigger,
    EncoderTurnTrigger,
    LongPressTrigger,
    Mapping,
    ModeChangeAction,
    ModeIsCondition,
    NeverCondition,
    NotCondition,
    NoteChordTrigger,
    NoteTrigger,
    OrCondition,
    PitchBendTrigger,
    PluginTrigger,
    SendMidiAction,
    SequenceAction,
    TimeRangeCondition,
    Trigger,
    VelocityRangeTrigger,
)
from midimon.engine import curves

#: actions cheap enough to run on the engine loop itself
INLINE_ACTIONS = (ModeChangeAction, SendMidiAction)
#: conditions that look at nothing slow (no process list, no window system)
CHEAP_CONDITIONS = (
    AlwaysCondition,
    NeverCondition,
    TimeRangeCondition,
    DayOfWeekCondition,
    ModeIsCondition,
    AndCondition,
    OrCondition,
    NotCondition,
)


@dataclass(frozen=True, eq=False)
class Bound:
    """One mapping, compiled."""

    mapping: Mapping
    scope: str  # the mode's name, or "global"
    path: tuple  # key path in the config, for messages
    curve: Callable[[int], int]
    inline: bool  # cheap enough to run on the engine loop itself

    @property
    def trigger(self) -> Trigger:
        return self.mapping.trigger

    @property
    def action(self) -> Action:
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
        self.count += 1
        match b.trigger:
            case NoteTrigger(note=note) | VelocityRangeTrigger(note=note):
                self.press.setdefault(note, []).append(b)
            case LongPressTrigger(note=note):
                self.hold.setdefault(note, []).append(b)
            case DoubleTapTrigger(note=note):
                self.double.setdefault(note, []).append(b)
            case NoteChordTrigger(notes=notes):
                for n in notes:
                    self.chord_by_note.setdefault(n, []).append(b)
            case CCTrigger(cc=cc):
                self.cc.setdefault(cc, []).append(b)
            case EncoderTurnTrigger(cc=cc):
                self.encoder.setdefault(cc, []).append(b)
            case AftertouchTrigger():
                self.aftertouch.append(b)
            case PitchBendTrigger():
                self.pitchbend.append(b)
            case PluginTrigger(plugin=plugin):
                self.plugin.setdefault(plugin, []).append(b)


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


def hide_key(trigger: Trigger) -> tuple:
    """What a mode mapping must share with a global one to hide it: gesture, control, filters."""
    control: Any
    match trigger:
        case NoteTrigger(note=note) | VelocityRangeTrigger(note=note):
            family, control = "press", note  # a velocity range is a press of the same note
        case NoteChordTrigger(notes=notes):
            family, control = "NoteChord", frozenset(notes)
        case CCTrigger(cc=cc) | EncoderTurnTrigger(cc=cc):
            family, control = trigger.type, cc
        case PluginTrigger(plugin=plugin, event=event):
            family, control = "Plugin", (plugin, event)
        case LongPressTrigger(note=note) | DoubleTapTrigger(note=note) | AftertouchTrigger(note=note):
            family, control = trigger.type, note  # a channel aftertouch has no note: None
        case PitchBendTrigger():
            family, control = "PitchBend", None
    return (family, control, trigger.channel, trigger.device)


def is_inline(action: Action) -> bool:
    match action:
        case ModeChangeAction() | SendMidiAction():
            return True
        case ConditionalAction():
            return _cheap(action.condition) and all(
                a is None or is_inline(a) for a in (action.then_action, action.else_action)
            )
        case SequenceAction():
            return all(is_inline(a) for a in action.actions)
    return False


def _cheap(cond: Condition) -> bool:
    match cond:
        case AndCondition() | OrCondition():
            return all(_cheap(c) for c in cond.conditions)
        case NotCondition():
            return _cheap(cond.condition)
    return isinstance(cond, CHEAP_CONDITIONS)


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
