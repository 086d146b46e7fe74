"""The grant operation: one implementation for `plugins grant`, `grant --from-config`,
`install --grant` and the socket's ``plugins.grant``.

A grant is planned first (``plan``: which scopes it gives, whether it is dangerous, what it
"runs anything" through, whether it reaches nothing), then confirmed (``check``: a dangerous
grant without ``yes`` is refused with the exact command plus ``--yes``; nothing here ever waits
for an answer, the CLI asks on a terminal before it calls), then recorded (``record``).

What the config's Plugin mappings need that their plugins lack is ``grant_needs.py``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from midimon.config.errors import MidimonError
from midimon.sandbox import CAPABILITIES
from midimon.sandbox.commands import PatternError, parse
from midimon.sandbox.commands import runs_anything as pattern_runs_anything
from midimon.sandbox.grants import grant_command, is_dangerous
from midimon.sandbox.runs_anything import runner

from .grants import declared_scopes_for, merge_scopes, parse_scope_args
from .manifest import Declarations

#: What each capability lets a plugin do, in the words of the review and the prompt.
CAPABILITY_WHY = {
    "network": "make HTTP requests and use MQTT and the Spotify Web API, to the hosts, brokers and topics listed",
    "filesystem": "read (and with write_paths, write) files outside its own data folder, in the paths listed",
    "midi": "send MIDI to the output ports listed",
    "subprocess": "run the programs listed, as you, with their arguments as listed",
    "system_control": "press keys, type text, change the volume and launch applications",
    "audio": "play sound files",
}


class GrantError(MidimonError):
    """A grant that cannot be made; ``code`` and ``data`` go into a socket error as they are."""

    def __init__(self, message: str, code: str = "failed", **data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class NeedsConfirmation(GrantError):
    """A dangerous grant asked for without ``yes``: ``data["command"]`` is the command to confirm."""


@dataclasses.dataclass(frozen=True)
class GrantPlan:
    plugin: str
    capability: str
    #: the scopes the plugin declares for the capability (a grant always gives these)
    declared: dict[str, Any]
    #: the scopes the user adds (``--scope``): printed in the command, merged into the grant
    extra: dict[str, Any]

    @property
    def scopes(self) -> dict[str, Any]:
        return merge_scopes(self.declared, self.extra)

    @property
    def dangerous(self) -> bool:
        return is_dangerous(self.capability, self.scopes)

    def command(self, *, yes: bool | None = None) -> str:
        return grant_command(self.plugin, self.capability, self.extra, yes=self.dangerous if yes is None else yes)

    def runs_anything(self) -> list[str]:
        """One sentence per command pattern that lets the plugin run any program."""
        out = []
        for text in self.scopes.get("commands", []) if self.capability == "subprocess" else []:
            try:
                how = pattern_runs_anything(parse(text), _real_path(text))
            except PatternError as exc:
                out.append(f"{text!r} cannot be read ({exc}); it allows nothing")
                continue
            if how:
                out.append(f"{text!r} runs anything: {how}")
            elif self.scopes.get("data_home") and runner(parse(text).program, _real_path(text)):
                out.append(
                    f"{text!r} runs anything: with data_home it reads config files the plugin wrote "
                    "in its data folder (a .gitconfig, a Makefile, .npmrc...)"
                )
        return out

    def reaches_nothing(self) -> str | None:
        """A sentence when the grant, as planned, reaches nothing at all."""
        s = self.scopes
        if self.capability == "network" and not (s.get("hosts") or s.get("brokers")):
            return (
                f"network with no hosts or brokers reaches nothing; add the scope it needs, e.g. "
                f"{grant_command(self.plugin, 'network', {'hosts': ['https://api.example.com']})}"
            )
        if self.capability == "midi" and not s.get("ports"):
            return f"midi with no ports reaches nothing; e.g. {grant_command(self.plugin, 'midi', {'ports': ['PORT']})}"
        if self.capability == "subprocess" and not s.get("commands"):
            return "subprocess with no commands runs nothing; add --scope 'commands=PROGRAM ARGS...'"
        return None

    def warnings(self) -> list[str]:
        nothing = self.reaches_nothing()
        return self.runs_anything() + ([nothing] if nothing else [])

    def review(self) -> list[str]:
        """What the user is asked to trust, line by line (plugin text escaped by the caller)."""
        lines = [f"plugin {self.plugin!r} asks for {self.capability}: {CAPABILITY_WHY.get(self.capability, '')}"]
        for key, value in sorted(self.scopes.items()):
            values = [value] if isinstance(value, (str, bool)) else value
            for v in values:
                lines.append(f"  {key}: {v}")
        if not self.scopes:
            lines.append("  (no scopes)")
        lines += [f"  WARNING: {w}" for w in self.warnings()]
        return lines


def _real_path(pattern_text: str) -> str | None:
    from midimon.sandbox.capabilities.shell import resolve_executable

    try:
        return resolve_executable(parse(pattern_text).program)
    except PatternError:
        return None


def _scopes_from(items: list[str] | Mapping[str, Any] | None, capability: str) -> dict[str, Any]:
    if not items:
        return {}
    if isinstance(items, Mapping):
        flat = []
        for key, value in items.items():
            for v in value if isinstance(value, list) else [value]:
                flat.append(f"{key}={str(v).lower() if isinstance(v, bool) else v}")
        items = flat
    try:
        return parse_scope_args(list(items), capability)
    except ValueError as exc:
        raise GrantError(str(exc), "bad_scope") from None


def plan(plugin: str, decl: Declarations, capability: str, scopes: list[str] | Mapping[str, Any] | None) -> GrantPlan:
    if capability not in CAPABILITIES:
        raise GrantError(
            f"unknown capability {capability!r}; known: {', '.join(sorted(CAPABILITIES))}", "unknown_capability"
        )
    if capability not in decl.capabilities:
        raise GrantError(
            f"plugin {plugin!r} does not ask for {capability!r} (it asks for: "
            f"{', '.join(decl.capabilities) or 'nothing'})",
            "not_requested",
        )
    extra = _scopes_from(scopes, capability)
    for text in extra.get("commands", []):
        try:
            parse(text)
        except PatternError as exc:
            raise GrantError(str(exc), "bad_scope") from None
    return GrantPlan(plugin, capability, declared_scopes_for(decl, capability), extra)


def check(p: GrantPlan, *, yes: bool) -> None:
    """Refuse a dangerous grant that was not confirmed, with the command that confirms it."""
    if p.dangerous and not yes:
        command = p.command(yes=True)
        raise NeedsConfirmation(
            f"granting {p.capability!r} lets plugin {p.plugin!r} act on this machine "
            f"({CAPABILITY_WHY[p.capability]}); nothing was granted. To grant it, run: {command}",
            "needs_confirmation",
            command=command,
        )


def record(p: GrantPlan, state: Any) -> dict[str, Any]:
    """Write the grant into the plugin state (``PluginState``) and say what it gives."""

    def apply(entry: dict[str, Any]) -> None:
        old = (entry["grants"].get(p.capability) or {}).get("scopes") or {}
        entry["grants"][p.capability] = {"scopes": merge_scopes(old, p.scopes), "time": time.time()}

    entry = state.update_plugin(p.plugin, apply)
    granted = GrantPlan(p.plugin, p.capability, entry["grants"][p.capability]["scopes"], {})
    return {
        "name": p.plugin,
        "granted": p.capability,
        "scopes": granted.declared,
        "warnings": granted.warnings(),
        "runs_anything": granted.runs_anything(),
    }


def grant(
    plugin: str,
    decl: Declarations,
    capability: str,
    scopes: list[str] | Mapping[str, Any] | None,
    state: Any,
    *,
    yes: bool,
) -> dict[str, Any]:
    """Plan, check and record one grant."""
    p = plan(plugin, decl, capability, scopes)
    check(p, yes=yes)
    return record(p, state)


def runs_anything_of(grants: Mapping[str, Any]) -> list[str]:
    """The "runs anything" sentences of a record's ``grants`` ({capability: scopes})."""
    scopes = grants.get("subprocess")
    return GrantPlan("", "subprocess", dict(scopes), {}).runs_anything() if isinstance(scopes, dict) else []


__all__ = [
    "CAPABILITY_WHY",
    "GrantError",
    "GrantPlan",
    "NeedsConfirmation",
    "check",
    "grant",
    "plan",
    "record",
    "runs_anything_of",
]
