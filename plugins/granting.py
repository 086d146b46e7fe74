"""The grant operation: one implementation for `plugins grant`, `grant --from-config`,
`install --grant` and the socket's ``plugins.grant``.

A grant is planned first (``plan``: which scopes it gives, whether it is dangerous, what it
"runs anything" through, whether it reaches nothing), then confirmed (``check``: a dangerous
grant without ``yes`` is refused with the exact command plus ``--yes``; nothing here ever waits
for an answer, the CLI asks on a terminal before it calls), then recorded (``record``).

``needs`` says what the config's Plugin mappings need that the plugin lacks (the capability, the
url's host, the broker, the topic), each with the one command that grants exactly that; it
feeds `midimon validate`, the log at load and `grant --from-config`.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping
from typing import Any

from midimon.config.errors import MidimonError
from midimon.sandbox import CAPABILITIES, Grants
from midimon.sandbox.commands import PatternError, parse
from midimon.sandbox.commands import runs_anything as pattern_runs_anything
from midimon.sandbox.grants import grant_command, is_dangerous
from midimon.sandbox.runs_anything import runner

from .grants import declared_scopes_for, effective, merge_scopes, parse_scope_args
from .manifest import SCOPE_CAPABILITY, Declarations

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


# -- what the config needs ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Need:
    """A capability (and scopes) a Plugin mapping needs and the plugin lacks."""

    plugin: str
    capability: str
    scopes: dict[str, list[str]]
    why: str

    @property
    def command(self) -> str:
        return grant_command(self.plugin, self.capability, self.scopes, yes=is_dangerous(self.capability, self.scopes))

    def sentence(self) -> str:
        return f"plugin {self.plugin!r} {self.why}; grant it with: {self.command}"

    def to_json(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "capability": self.capability,
            "scopes": self.scopes,
            "why": self.why,
            "command": self.command,
        }


def _covered_host(url: str, hosts: tuple[str, ...] | list[str]) -> tuple[str | None, bool]:
    from midimon.sandbox.capabilities.scopes import ScopeError, origin_allowed, parse_url
    from midimon.sandbox.grants import scope_value

    if "{" in url.split("/", 3)[2 if "://" in url else 0]:
        return None, True  # the host is filled in per event: nothing to say ahead
    try:
        _, origin = parse_url(url)
    except (ScopeError, ValueError):
        return None, True  # the params check reports a malformed url
    return scope_value("hosts", url), origin_allowed(origin, tuple(hosts), ())


def _covered_broker(broker: str, brokers: tuple[str, ...] | list[str]) -> tuple[str | None, bool]:
    from midimon.sandbox.capabilities.mqtt import parse_broker
    from midimon.sandbox.capabilities.scopes import ScopeError

    try:
        wanted = parse_broker(broker)
    except (ScopeError, ValueError):
        return None, True
    have = set()
    for entry in brokers:
        try:
            have.add(parse_broker(entry))
        except (ScopeError, ValueError):
            continue
    return f"{wanted[0]}:{wanted[1]}", wanted in have


def _covered_topic(topic: str, filters: tuple[str, ...] | list[str], subscribe: bool) -> bool:
    from midimon.sandbox.capabilities.scopes import filter_covers, topic_matches

    if subscribe:
        return any(filter_covers(f, topic) for f in filters)
    return any(topic_matches(f, topic) for f in filters)


def _setting_text(key: str, settings: Mapping[str, Any], props: Mapping[str, Any], fallback: str) -> str:
    prop = props.get(key)
    value = settings.get(key, prop.get("default") if isinstance(prop, dict) else None)
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else fallback


def needs(
    plugin: str,
    decl: Declarations,
    recorded: Mapping[str, Any],
    params: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
    *,
    trigger: bool = False,
) -> list[Need]:
    """What one Plugin mapping (its ``params``) needs that ``plugin`` lacks, one Need per
    capability with every scope it needs. A grant gives the declared scopes, so a scope the
    plugin declares is never listed; one it does not (the url's host...) is."""
    grants, _ = effective(decl, dict(recorded))
    wanted: dict[str, dict[str, list[str]]] = {}
    why: dict[str, list[str]] = {}

    def covered(key: str) -> list[str]:
        cap = SCOPE_CAPABILITY[key]
        declared = list(declared_scopes_for(decl, cap).get(key, []))
        return list(getattr(grants.allow, key)) + declared

    def add(cap: str, key: str | None, value: str | None, reason: str) -> None:
        scopes = wanted.setdefault(cap, {})
        if key and value and value not in scopes.setdefault(key, []):
            scopes[key].append(value)
        why.setdefault(cap, []).append(reason)

    for cap in decl.capabilities:
        if not grants.has(cap):
            add(cap, None, None, f"needs the {cap} capability")
    settings = settings or {}
    url = params.get("url")
    if isinstance(url, str) and "network" in decl.capabilities:
        origin, ok = _covered_host(url, covered("hosts"))
        if not ok:
            add("network", "hosts", origin, f"needs network access to {origin}")
    broker = params.get("broker", settings.get("broker"))
    # a broker setting a mapping does not use (home_automation's service calls): the setting's
    # schema names the param that means so, ``"x-midimon-unless": "service"``
    unless = ((decl.config_schema or {}).get("properties") or {}).get("broker") or {}
    if "broker" not in params and isinstance(unless, dict) and unless.get("x-midimon-unless") in params:
        broker = None
    if isinstance(broker, str) and "network" in decl.capabilities:
        key, ok = _covered_broker(broker, covered("brokers"))
        if not ok:
            add("network", "brokers", key, f"needs the MQTT broker {key}")
    topic = params.get("topic")
    if isinstance(topic, str) and topic and "{" not in topic and "network" in decl.capabilities:
        scope = "subscribe" if trigger else "publish"
        wildcard = "+" in topic or "#" in topic
        if (trigger or not wildcard) and not _covered_topic(topic, covered(scope), trigger):
            add("network", scope, topic, f"needs to {scope} to {topic!r}")
    # Settings that name a host the plugin reaches: its config_schema marks them
    # ``"x-midimon-scope": "hosts"`` (spotify's api_base and accounts_base, home_automation's
    # ha_url, the latter only for mappings with the param ``"x-midimon-when"`` names).
    props = (decl.config_schema or {}).get("properties") or {}
    for key, prop in props.items():
        if not isinstance(prop, dict) or prop.get("x-midimon-scope") != "hosts" or "network" not in decl.capabilities:
            continue
        if prop.get("x-midimon-when") and prop["x-midimon-when"] not in params:
            continue
        value = settings.get(key, prop.get("default"))
        if isinstance(value, str) and value:
            origin, ok = _covered_host(value, covered("hosts"))
            if not ok:
                add("network", "hosts", origin, f"needs network access to {origin} (its setting {key})")
    # A param that publishes to topics of its own (home_automation's ha_trigger: discovery configs,
    # availability, trigger messages): its schema lists them, ``"x-midimon-publish": [...]``, with
    # ``{setting}`` filled from the settings or their defaults.
    param_props = (decl.params_schema or {}).get("properties") or {}
    for key in params:
        prop = param_props.get(key)
        topics = prop.get("x-midimon-publish") if isinstance(prop, dict) else None
        if not isinstance(topics, list) or "network" not in decl.capabilities:
            continue
        for pattern in topics:
            topic = re.sub(r"\{(\w+)\}", lambda m: _setting_text(m.group(1), settings, props, m.group(0)), str(pattern))
            if not _covered_topic(topic, covered("publish"), True):
                add("network", "publish", topic, f"needs to publish to {topic!r}")
    out = []
    for cap, scopes in wanted.items():
        reasons = list(dict.fromkeys(why[cap]))
        if len(reasons) > 1:  # "needs the network capability" says less than the scope reasons
            reasons = reasons[1:] if reasons[0].startswith("needs the ") else reasons
        out.append(Need(plugin, cap, scopes, " and ".join(reasons)))
    return out


def merge_needs(found: list[Need]) -> list[Need]:
    """One Need per (plugin, capability), with the scopes of every mapping together."""
    out: dict[tuple[str, str], Need] = {}
    for n in found:
        have = out.get((n.plugin, n.capability))
        if have is None:
            out[(n.plugin, n.capability)] = n
            continue
        scopes = {k: list(v) for k, v in have.scopes.items()}
        for k, v in n.scopes.items():
            scopes[k] = list(dict.fromkeys(scopes.get(k, []) + v))
        whys = " and ".join(dict.fromkeys([have.why, n.why]))
        out[(n.plugin, n.capability)] = Need(n.plugin, n.capability, scopes, whys)
    return list(out.values())


__all__ = [
    "CAPABILITY_WHY",
    "GrantError",
    "GrantPlan",
    "Grants",
    "Need",
    "NeedsConfirmation",
    "check",
    "grant",
    "merge_needs",
    "needs",
    "plan",
    "record",
]


# -- the config's Plugin mappings -----------------------------------------------------------------


def plugin_inputs(name: str, home: Any) -> tuple[Declarations, dict[str, Any], dict[str, Any]] | None:
    """(declarations, recorded grants, settings) of a sandboxed plugin, read from the files
    (``home`` is a ``Home``); None when there is no such plugin or it cannot be read."""
    from . import discovery
    from .state import PluginState

    found, _ = discovery.scan(home.plugins)
    cand = found.get(name) or discovery.entry_points().get(name)
    if cand is None or cand.trusted:
        return None
    try:
        decl = discovery.read(cand, "allow").decl
    except Exception:  # the load check reports a broken plugin; nothing to grant for it
        return None
    entry = PluginState(home.plugin_state).entry(name)
    return decl, entry["grants"], entry["settings"]


def config_needs(config: Any, home: Any, only: str | None = None) -> list[tuple[Need, tuple[Any, ...]]]:
    """Every (Need, config path of the mapping's plugin key) of the config's Plugin actions and
    triggers; ``only`` limits it to one plugin."""
    from midimon.config.loader import iter_actions, iter_mappings

    inputs: dict[str, Any] = {}

    def uses() -> Any:
        for action, path in iter_actions(config):
            if action.type == "Plugin":
                yield action.plugin, dict(action.params), False, path + ("plugin",)
        for mapping, path in iter_mappings(config):
            t = mapping.trigger
            if t.type == "Plugin":
                yield t.plugin, dict(getattr(t, "params", None) or {}), True, path + ("trigger", "plugin")

    out: list[tuple[Need, tuple[Any, ...]]] = []
    for name, params, trigger, path in uses():
        if only is not None and name != only:
            continue
        if name not in inputs:
            inputs[name] = plugin_inputs(name, home)
        if inputs[name] is None:
            continue
        decl, recorded, settings = inputs[name]
        out += [(n, path) for n in needs(name, decl, recorded, params, settings, trigger=trigger)]
    return out
