"""The validated, immutable shape of a midimon config.

Field names follow MIDIMon v2.x as its real config files use them. Legacy spellings
(``min_velocity``, ``max_interval_ms``, ``action = "Down"``...) are rewritten before these models
see the data, by :mod:`midimon.config.legacy`, so the models hold only the current vocabulary.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Note = Annotated[int, Field(ge=0, le=127)]
Byte7 = Annotated[int, Field(ge=0, le=127)]
Channel = Annotated[int, Field(ge=0, le=15, description="MIDI channel, 0-15 (channel 1 is 0)")]
Millis = Annotated[int, Field(ge=0, le=3_600_000)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --------------------------------------------------------------------------- triggers


class _Trigger(Model):
    channel: Channel | None = Field(None, description="Only match messages on this channel")
    device: str | None = Field(None, description="Only match messages from this input (name or prefix)")


class NoteTrigger(_Trigger):
    type: Literal["Note"]
    note: Note
    velocity_min: Byte7 = 1
    velocity_max: Byte7 = 127


class VelocityRangeTrigger(_Trigger):
    """A note split into soft / medium / hard by velocity.

    ``soft`` is 1..soft_max, ``medium`` soft_max+1..medium_max, ``hard`` above. ``level`` picks
    one; without it the mapping fires for every level and the level is passed to the action.
    """

    type: Literal["VelocityRange"]
    note: Note
    soft_max: Byte7 = 40
    medium_max: Byte7 = 80
    level: Literal["soft", "medium", "hard"] | None = None
    velocity_min: Byte7 = 1
    velocity_max: Byte7 = 127

    @model_validator(mode="after")
    def _ordered(self):
        if self.soft_max >= self.medium_max:
            raise ValueError(f"soft_max ({self.soft_max}) must be below medium_max ({self.medium_max})")
        if self.velocity_min > self.velocity_max:
            raise ValueError(f"velocity_min ({self.velocity_min}) is above velocity_max ({self.velocity_max})")
        return self


class LongPressTrigger(_Trigger):
    type: Literal["LongPress"]
    note: Note
    duration_ms: Millis | None = Field(None, description="Hold time; default advanced_settings.hold_threshold_ms")


class DoubleTapTrigger(_Trigger):
    type: Literal["DoubleTap"]
    note: Note
    timeout_ms: Millis | None = Field(
        None, description="Max time between the two presses; default double_tap_timeout_ms"
    )


class NoteChordTrigger(_Trigger):
    type: Literal["NoteChord"]
    notes: list[Note]
    timeout_ms: Millis | None = Field(None, description="Window from first to last note; default chord_timeout_ms")

    @field_validator("notes")
    @classmethod
    def _notes(cls, notes: list[int]) -> list[int]:
        if len(notes) < 2:
            raise ValueError(f"a chord needs at least two notes, got {len(notes)}")
        if len(set(notes)) != len(notes):
            raise ValueError("a chord lists the same note twice")
        return notes


Encoding = Literal["twos_complement", "sign_magnitude", "binary_offset", "absolute"]


class EncoderTurnTrigger(_Trigger):
    type: Literal["EncoderTurn"]
    cc: Byte7
    direction: Literal["Clockwise", "CounterClockwise"] | None = None
    encoding: Encoding = "twos_complement"


class CCTrigger(_Trigger):
    type: Literal["CC"]
    cc: Byte7
    value_min: Byte7 = 0
    value_max: Byte7 = 127


class AftertouchTrigger(_Trigger):
    type: Literal["Aftertouch"]
    pressure_min: Byte7 = 1
    pressure_max: Byte7 = 127
    note: Note | None = Field(None, description="Set for polyphonic aftertouch on one key")


class PitchBendTrigger(_Trigger):
    type: Literal["PitchBend"]
    value_min: Annotated[int, Field(ge=0, le=16383)] = 0
    value_max: Annotated[int, Field(ge=0, le=16383)] = 16383


class PluginTrigger(_Trigger):
    type: Literal["Plugin"]
    plugin: str
    event: str | None = None
    match: dict[str, Any] = Field(default_factory=dict)


Trigger = Annotated[
    NoteTrigger
    | VelocityRangeTrigger
    | LongPressTrigger
    | DoubleTapTrigger
    | NoteChordTrigger
    | EncoderTurnTrigger
    | CCTrigger
    | AftertouchTrigger
    | PitchBendTrigger
    | PluginTrigger,
    Field(discriminator="type"),
]

# --------------------------------------------------------------------------- conditions

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class AlwaysCondition(Model):
    type: Literal["Always"]


class NeverCondition(Model):
    type: Literal["Never"]


class TimeRangeCondition(Model):
    type: Literal["TimeRange"]
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError(f"expected a time as HH:MM (24-hour), got {v!r}")
        return v


class DayOfWeekCondition(Model):
    type: Literal["DayOfWeek"]
    days: list[str | int]

    @field_validator("days")
    @classmethod
    def _days(cls, days: list) -> list:
        out = []
        for d in days:
            if isinstance(d, int):
                if not 1 <= d <= 7:
                    raise ValueError(f"day numbers run 1 (Monday) to 7 (Sunday), got {d}")
                out.append(DAYS[d - 1])
            else:
                key = d.strip().lower()[:3]
                if key not in DAYS:
                    raise ValueError(f"unknown day {d!r}: expected Monday..Sunday (or Mon..Sun)")
                out.append(key)
        if not out:
            raise ValueError("list at least one day")
        return out


class AppRunningCondition(Model):
    type: Literal["AppRunning"]
    app: str


class AppFrontmostCondition(Model):
    type: Literal["AppFrontmost"]
    app: str


class ModeIsCondition(Model):
    type: Literal["ModeIs"]
    mode: str


class AndCondition(Model):
    type: Literal["And"]
    conditions: list[Condition]


class OrCondition(Model):
    type: Literal["Or"]
    conditions: list[Condition]


class NotCondition(Model):
    type: Literal["Not"]
    condition: Condition


Condition = Annotated[
    AlwaysCondition
    | NeverCondition
    | TimeRangeCondition
    | DayOfWeekCondition
    | AppRunningCondition
    | AppFrontmostCondition
    | ModeIsCondition
    | AndCondition
    | OrCondition
    | NotCondition,
    Field(discriminator="type"),
]

# --------------------------------------------------------------------------- actions


class KeystrokeAction(Model):
    type: Literal["Keystroke"]
    keys: str
    modifiers: list[str] = Field(default_factory=list)
    hold_ms: Millis = 0


class TextAction(Model):
    type: Literal["Text"]
    text: str


class LaunchAction(Model):
    type: Literal["Launch"]
    app: str


class ShellAction(Model):
    """Runs a program. A string command is split like a shell would (quotes kept) but runs
    without a shell; ``shell = true`` hands it to ``/bin/sh -c`` for pipes and redirection."""

    type: Literal["Shell"]
    command: str | list[str]
    shell: bool = False
    timeout_ms: Annotated[int, Field(ge=1, le=3_600_000)] = 30_000
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("command")
    @classmethod
    def _non_empty(cls, v):
        if (isinstance(v, str) and not v.strip()) or (isinstance(v, list) and not v):
            raise ValueError("command is empty")
        return v


class VolumeControlAction(Model):
    type: Literal["VolumeControl"]
    operation: Literal["Up", "Down", "Mute", "Unmute", "Toggle", "Set"]
    value: Annotated[int, Field(ge=0, le=100)] | None = None
    step: Annotated[int, Field(ge=1, le=100)] = 5

    @model_validator(mode="after")
    def _set_needs_value(self):
        if self.operation == "Set" and self.value is None:
            raise ValueError("operation 'Set' needs a value from 0 to 100")
        return self


class ModeChangeAction(Model):
    """Switch mode by name, or ``next`` / ``previous`` (wrapping unless ``wrap = false``)."""

    type: Literal["ModeChange"]
    mode: str
    wrap: bool = True


class SequenceAction(Model):
    type: Literal["Sequence"]
    actions: list[Action]


class DelayAction(Model):
    type: Literal["Delay"]
    ms: Millis


class MouseClickAction(Model):
    type: Literal["MouseClick"]
    button: Literal["Left", "Right", "Middle"] = "Left"
    x: int | None = None
    y: int | None = None
    clicks: Annotated[int, Field(ge=1, le=10)] = 1


class RepeatAction(Model):
    type: Literal["Repeat"]
    count: Annotated[int, Field(ge=0, le=10_000)]
    action: Action
    delay_ms: Millis = 0


class ConditionalAction(Model):
    type: Literal["Conditional"]
    condition: Condition
    then_action: Action | None = None
    else_action: Action | None = None


MessageType = Literal[
    "NoteOn",
    "NoteOff",
    "CC",
    "ProgramChange",
    "PitchBend",
    "Aftertouch",
    "PolyAftertouch",
    "SysEx",
]


class SendMidiAction(Model):
    """Send one MIDI message. ``velocity``/``value``/``pressure`` left out take the (curved)
    value of the incoming event, so a pad can pass its dynamics through."""

    type: Literal["SendMidi"]
    port: str | None = Field(None, description="Output port name; omit for the daemon's virtual output")
    message_type: MessageType
    channel: Channel = 0
    note: Note | None = None
    velocity: Byte7 | None = None
    controller: Byte7 | None = None
    value: Byte7 | None = None
    program: Byte7 | None = None
    pitch: Annotated[int, Field(ge=-8192, le=8191)] | None = None
    pressure: Byte7 | None = None
    data: list[Byte7] | None = Field(None, description="SysEx body without the F0/F7 framing")

    @model_validator(mode="after")
    def _fields_for_type(self):
        need = {
            "NoteOn": ("note",),
            "NoteOff": ("note",),
            "CC": ("controller",),
            "ProgramChange": ("program",),
            "PolyAftertouch": ("note",),
            "SysEx": ("data",),
        }.get(self.message_type, ())
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"message_type {self.message_type!r} needs {', '.join(missing)}")
        return self


class PluginAction(Model):
    type: Literal["Plugin"]
    plugin: str
    params: dict[str, Any] = Field(default_factory=dict)


Action = Annotated[
    KeystrokeAction
    | TextAction
    | LaunchAction
    | ShellAction
    | VolumeControlAction
    | ModeChangeAction
    | SequenceAction
    | DelayAction
    | MouseClickAction
    | RepeatAction
    | ConditionalAction
    | SendMidiAction
    | PluginAction,
    Field(discriminator="type"),
]

# --------------------------------------------------------------------------- velocity curves


class FixedCurve(Model):
    type: Literal["Fixed"]
    velocity: Annotated[int, Field(ge=1, le=127)] = 100


class PassThroughCurve(Model):
    type: Literal["PassThrough"]


class LinearCurve(Model):
    type: Literal["Linear"]
    min: Byte7 = 1
    max: Byte7 = 127


class ShapedCurve(Model):
    type: Literal["Curve"]
    curve: Literal["Exponential", "Logarithmic", "SCurve"]
    intensity: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5


VelocityCurve = Annotated[FixedCurve | PassThroughCurve | LinearCurve | ShapedCurve, Field(discriminator="type")]

# --------------------------------------------------------------------------- structure


class MappingFeedback(Model):
    """Light the control while it is pressed.

    ``press`` / ``release`` are the velocity (notes) or value (CCs) sent back to the
    controller; ``release`` left out restores what the mode's ``leds`` say (or 0). ``note`` or
    ``cc`` left out means the trigger's own note or CC.
    """

    press: Byte7 = 127
    release: Byte7 | None = None
    note: Note | None = None
    cc: Byte7 | None = None
    channel: Channel | None = None


class LedState(Model):
    """What the controller's lights show while a mode is active: note or CC number -> value.

    On entering a mode every light any mode mentions is sent: the new mode's value, or 0.
    """

    channel: Channel = 0
    notes: dict[int, Byte7] = Field(default_factory=dict)
    ccs: dict[int, Byte7] = Field(default_factory=dict)

    @field_validator("notes", "ccs")
    @classmethod
    def _numbers(cls, v: dict) -> dict:
        for k in v:
            if not 0 <= k <= 127:
                raise ValueError(f"{k} is not a note or CC number (0-127)")
        return v


class Mapping(Model):
    description: str = ""
    trigger: Trigger
    action: Action
    velocity_curve: VelocityCurve | None = None
    feedback: MappingFeedback | None = None
    enabled: bool = True


class Mode(Model):
    name: Annotated[str, Field(min_length=1)]
    color: str | None = None
    leds: LedState | None = None
    mappings: list[Mapping] = Field(default_factory=list)


class DeviceSettings(Model):
    name: str | None = Field(None, description="Input port to use: exact name, then prefix, then substring")
    port: str | None = Field(None, description="Exact input port name; overrides name")
    auto_connect: bool = True
    auto_reconnect: bool = True
    virtual_output: str | None = Field(None, description="Create a virtual MIDI output with this name")
    feedback_output: str | None = Field(
        None, description="Output for LED feedback to the controller; default: the output named like the input"
    )


class AdvancedSettings(Model):
    chord_timeout_ms: Millis = 50
    double_tap_timeout_ms: Millis = 300
    hold_threshold_ms: Millis = 2000


class LoggingSettings(Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    file: str | None = None

    @field_validator("level", mode="before")
    @classmethod
    def _lower(cls, v):
        return v.lower() if isinstance(v, str) else v


class PluginsSettings(Model):
    catalog: str | None = Field(
        None, description="A plugin catalog (index JSON) to browse and install from: an http(s) URL or a path"
    )


class Config(Model):
    device: DeviceSettings = Field(default_factory=DeviceSettings)
    advanced_settings: AdvancedSettings = Field(default_factory=AdvancedSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    plugins: PluginsSettings = Field(default_factory=PluginsSettings)
    modes: list[Mode] = Field(default_factory=list)
    global_mappings: list[Mapping] = Field(default_factory=list)

    def mode_names(self) -> list[str]:
        return [m.name for m in self.modes] or ["Default"]


for _m in (AndCondition, OrCondition, NotCondition, SequenceAction, RepeatAction, ConditionalAction):
    _m.model_rebuild()

UNION_TAGS = frozenset(
    t.model_fields["type"].annotation.__args__[0]
    for u in (Trigger, Condition, Action, VelocityCurve)
    for t in u.__origin__.__args__  # type: ignore[attr-defined]  # Annotated[Union[...], ...] at run time
)
