"""Rewrite MIDIMon's older vocabulary into the current one, before validation.

Each rewrite is reported as a deprecation warning naming the key path; `midimon config migrate`
applies the same table to the file itself. Condition shorthands (``"Always"``,
``"TimeRange:09:00-17:00"``, ``{ TimeRange = {...} }``) are all current forms, not deprecated:
they are normalised here to the ``type = "..."`` table form the models use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# key renames per trigger type: old -> new
TRIGGER_RENAMES: dict[str, dict[str, str]] = {
    "Note": {"min_velocity": "velocity_min", "max_velocity": "velocity_max"},
    "VelocityRange": {"min_velocity": "velocity_min", "max_velocity": "velocity_max"},
    "LongPress": {"min_duration_ms": "duration_ms", "hold_ms": "duration_ms"},
    "DoubleTap": {"max_interval_ms": "timeout_ms"},
    "NoteChord": {"max_interval_ms": "timeout_ms"},
    "CC": {"min_value": "value_min", "max_value": "value_max"},
    "Aftertouch": {"min_pressure": "pressure_min"},
}
ACTION_RENAMES: dict[str, dict[str, str]] = {
    "VolumeControl": {"action": "operation"},
}
MODIFIER_RENAMES = {"option": "alt"}
#: Old names of first-party plugins -> the plan's names. The old name is an alias (one record,
#: one set of grants); the config is read as if it named the new plugin.
PLUGIN_RENAMES: dict[str, str] = {"spotify_control": "spotify", "mqtt_publish": "home_automation"}
#: The plugins' old params -> the plan's, applied by ``midimon config migrate`` only: at load the
#: plugins still accept the old names (with a warning at the line), because a copy installed
#: earlier that overrides the first-party plugin may still expect them.
#: param -> (new param, how the value changes).
PARAM_RENAMES: dict[str, dict[str, tuple[str, str]]] = {
    "http_request": {"json": ("body", "same"), "timeout": ("timeout_ms", "seconds_to_ms")},
    "spotify": {"command": ("action", "spotify_command")},
}
SPOTIFY_COMMANDS = {"toggle": "play_pause"}


@dataclass(frozen=True)
class Rewrite:
    path: tuple  # where the old spelling stands (key path, or the value's path)
    message: str
    kind: str  # "rename-key" | "value"
    new_key: str | None = None
    new_value: Any = None


def _rename(table: dict, renames: dict[str, str], path: tuple, out: list[Rewrite]) -> None:
    for old, new in renames.items():
        if old in table:
            if new in table:
                out.append(
                    Rewrite(
                        path + (old,),
                        f"'{old}' is a deprecated spelling of '{new}', which is also set; '{old}' is ignored",
                        "drop",
                    )
                )
                del table[old]
                continue
            table[new] = table.pop(old)
            out.append(
                Rewrite(
                    path + (old,),
                    f"'{old}' is deprecated; write '{new}' (midimon config migrate does it for you)",
                    "rename-key",
                    new_key=new,
                )
            )


def normalize_condition(cond: Any) -> Any:
    """Any accepted condition spelling -> the ``{"type": ...}`` table form."""
    if isinstance(cond, str):
        name, _, arg = cond.partition(":")
        name = name.strip()
        if not arg:
            return {"type": name}
        arg = arg.strip()
        if name == "TimeRange" and "-" in arg:
            start, _, end = arg.partition("-")
            return {"type": "TimeRange", "start": start.strip(), "end": end.strip()}
        if name == "DayOfWeek":
            return {"type": "DayOfWeek", "days": [d.strip() for d in arg.split(",") if d.strip()]}
        if name in ("AppRunning", "AppFrontmost"):
            return {"type": name, "app": arg}
        if name == "ModeIs":
            return {"type": "ModeIs", "mode": arg}
        return {"type": name, "value": arg}  # unknown: let validation name it
    if isinstance(cond, dict):
        if "type" not in cond and len(cond) == 1:
            ((name, body),) = cond.items()
            if isinstance(body, dict):
                cond = {"type": name, **body}
            elif isinstance(body, list) and name in ("And", "Or"):
                cond = {"type": name, "conditions": body}
            elif name == "Not":
                cond = {"type": name, "condition": body}
            elif name == "ModeIs":
                cond = {"type": name, "mode": body}
            elif name in ("AppRunning", "AppFrontmost"):
                cond = {"type": name, "app": body}
            elif name == "DayOfWeek":
                cond = {"type": name, "days": body if isinstance(body, list) else [body]}
        else:
            cond = dict(cond)
        if isinstance(cond.get("conditions"), list):
            cond["conditions"] = [normalize_condition(c) for c in cond["conditions"]]
        if "condition" in cond:
            cond["condition"] = normalize_condition(cond["condition"])
    return cond


_NESTED_ACTIONS = ("action", "then_action", "else_action")


def _action(action: Any, path: tuple, mode_names: list[str], out: list[Rewrite]) -> None:
    # runs for every action of every load: nothing is allocated unless something is rewritten
    if not isinstance(action, dict):
        return
    kind: Any = action.get("type")  # TOML: anything at all, checked by the lookups
    renames = ACTION_RENAMES.get(kind)
    if renames is not None:
        _rename(action, renames, path, out)
    if kind == "Plugin" and isinstance(action.get("plugin"), str) and action["plugin"] in PLUGIN_RENAMES:
        old, new = action["plugin"], PLUGIN_RENAMES[action["plugin"]]
        action["plugin"] = new
        out.append(
            Rewrite(
                path + ("plugin",),
                f"plugin {old!r} is now called {new!r}; write plugin = {new!r} (midimon config migrate does it for you)",
                "value",
                new_value=new,
            )
        )
    if kind == "ModeChange" and isinstance(action.get("mode"), int) and not isinstance(action.get("mode"), bool):
        index = action["mode"]
        if 0 <= index < len(mode_names):
            action["mode"] = mode_names[index]
            out.append(
                Rewrite(
                    path + ("mode",),
                    f"a mode number is deprecated; write mode = {mode_names[index]!r} (mode {index})",
                    "value",
                    new_value=mode_names[index],
                )
            )
    if kind == "Keystroke" and isinstance(action.get("modifiers"), list):
        for i, m in enumerate(action["modifiers"]):
            if isinstance(m, str) and m.lower() in MODIFIER_RENAMES:
                new = MODIFIER_RENAMES[m.lower()]
                action["modifiers"][i] = new
                out.append(
                    Rewrite(
                        path + ("modifiers", i), f"modifier '{m}' is deprecated; write '{new}'", "value", new_value=new
                    )
                )
    if kind == "Conditional":
        if "condition" in action:
            action["condition"] = normalize_condition(action["condition"])
        elif "conditions" in action and isinstance(action["conditions"], list):
            action["condition"] = {
                "type": "And",
                "conditions": [normalize_condition(c) for c in action.pop("conditions")],
            }
    for key in _NESTED_ACTIONS:
        sub = action.get(key)
        if isinstance(sub, dict):
            _action(sub, (*path, key), mode_names, out)
    subs = action.get("actions")
    if isinstance(subs, list):
        for i, sub in enumerate(subs):
            if isinstance(sub, dict):
                _action(sub, (*path, "actions", i), mode_names, out)


def _mapping(mapping: Any, path: tuple, mode_names: list[str], out: list[Rewrite]) -> None:
    if not isinstance(mapping, dict):
        return
    trigger = mapping.get("trigger")
    if isinstance(trigger, dict):
        trigger_type: Any = trigger.get("type")
        renames = TRIGGER_RENAMES.get(trigger_type)
        if renames is not None and not renames.keys().isdisjoint(trigger):
            _rename(trigger, renames, (*path, "trigger"), out)
        if trigger.get("type") == "Plugin" and trigger.get("plugin") in PLUGIN_RENAMES:
            new = PLUGIN_RENAMES[trigger["plugin"]]
            out.append(
                Rewrite(
                    path + ("trigger", "plugin"),
                    f"plugin {trigger['plugin']!r} is now called {new!r}; write plugin = {new!r}",
                    "value",
                    new_value=new,
                )
            )
            trigger["plugin"] = new
    action = mapping.get("action")
    if isinstance(action, dict):
        _action(action, (*path, "action"), mode_names, out)


# Any legacy spelling or condition shorthand leaves one of these in the text. A file with none
# of them (most files) skips the rewrite walk, a quarter of a large config's load time.
_MAY_NEED_REWRITE = re.compile(
    r"min_velocity|max_velocity|min_duration_ms|hold_ms|max_interval_ms|min_value|max_value|min_pressure"
    r"|option|condition|\baction\s*=\s*[\"']|\bmode\s*=\s*-?\d|spotify_control|mqtt_publish"
)


def may_need_rewrite(source: str) -> bool:
    return _MAY_NEED_REWRITE.search(source) is not None


def rewrite(raw: dict) -> list[Rewrite]:
    """Rewrite ``raw`` (a parsed TOML document) in place; return what was rewritten."""
    out: list[Rewrite] = []
    modes: list[Any] = raw["modes"] if isinstance(raw.get("modes"), list) else []
    mode_names: list[Any] = [m.get("name") for m in modes if isinstance(m, dict)]
    for i, mode in enumerate(modes):
        if isinstance(mode, dict) and isinstance(mode.get("mappings"), list):
            for j, mapping in enumerate(mode["mappings"]):
                _mapping(mapping, ("modes", i, "mappings", j), mode_names, out)
    if isinstance(raw.get("global_mappings"), list):
        for j, mapping in enumerate(raw["global_mappings"]):
            _mapping(mapping, ("global_mappings", j), mode_names, out)
    return out


def _param_rewrites(action: Any, path: tuple, out: list[Rewrite]) -> None:
    if not isinstance(action, dict):
        return
    params = action.get("params")
    plugin: Any = action.get("plugin")
    renames = PARAM_RENAMES.get(PLUGIN_RENAMES.get(plugin, plugin), {})
    if action.get("type") == "Plugin" and isinstance(params, dict):
        for old, (new, how) in renames.items():
            if old not in params or new in params:
                continue
            value = params.pop(old)
            if how == "seconds_to_ms" and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = round(value * 1000)
            elif how == "spotify_command" and isinstance(value, str):
                value = SPOTIFY_COMMANDS.get(value, value)
            params[new] = value
            out.append(Rewrite(path + ("params", old), f"param {old!r} is now {new!r}", "rename-param", new, value))
    for key in ("action", "then_action", "else_action"):
        _param_rewrites(action.get(key), path + (key,), out)
    if isinstance(action.get("actions"), list):
        for i, sub in enumerate(action["actions"]):
            _param_rewrites(sub, path + ("actions", i), out)


def rewrite_plugin_params(raw: dict) -> list[Rewrite]:
    """The plugins' old params -> the plan's (``midimon config migrate`` only; see PARAM_RENAMES).
    Run before ``rewrite`` so the plugin names are still the ones in the file."""
    out: list[Rewrite] = []
    modes: list[Any] = raw["modes"] if isinstance(raw.get("modes"), list) else []
    tables: list[tuple[Any, tuple]] = [
        (m.get("mappings"), ("modes", i, "mappings")) for i, m in enumerate(modes) if isinstance(m, dict)
    ]
    tables.append((raw.get("global_mappings"), ("global_mappings",)))
    for mappings, where in tables:
        if isinstance(mappings, list):
            for j, mapping in enumerate(mappings):
                if isinstance(mapping, dict):
                    _param_rewrites(mapping.get("action"), (*where, j, "action"), out)
    return out
