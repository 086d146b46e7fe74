"""What the config's Plugin mappings need that their plugins lack, each with the one command
that grants exactly that: the capability, the url's host, the broker, the topic.

It feeds `midimon validate` and the log at load (``config_checks.check_grants``) and `midimon
plugins grant NAME --from-config` (``engine/cli/plugin_grants.py``). A grant always gives the
scopes a plugin declares, so a declared scope is never listed; one it does not declare is.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from midimon.sandbox.grants import grant_command, is_dangerous

from .grants import declared_scopes_for, effective
from .manifest import SCOPE_CAPABILITY, Declarations


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
        decl = discovery.read(cand, "allow", home.trusted_keys).decl
    except Exception:  # the load check reports a broken plugin; nothing to grant for it
        return None
    entry = PluginState(home.plugin_state).entry(name)
    return decl, entry["grants"], entry["settings"]


def config_needs(config: Any, home: Any, only: str | None = None) -> list[tuple[Need, tuple[Any, ...]]]:
    """Every (Need, config path of the mapping's plugin key) of the config's Plugin actions and
    triggers; ``only`` limits it to one plugin."""
    from midimon.config.loader import iter_actions, iter_mappings
    from midimon.config.models import PluginAction, PluginTrigger

    inputs: dict[str, Any] = {}

    def uses() -> Any:
        for action, path in iter_actions(config):
            if isinstance(action, PluginAction):
                yield action.plugin, dict(action.params), False, path + ("plugin",)
        for mapping, path in iter_mappings(config):
            t = mapping.trigger
            if isinstance(t, PluginTrigger):
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
