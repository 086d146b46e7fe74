"""Config checks for Plugin actions and triggers, run whenever a config loads.

- A Plugin action's ``params`` are validated against the plugin's ``params_schema``: a mistake
  is an error with the line of the offending key, at reload, not on stage at the press.
- A mapping to a plugin that is missing, disabled, broken or of the wrong kind is a warning.

Inside the daemon the live plugin manager answers (``set_live``); elsewhere (``midimon
validate``) the plugins folder is read statically, without running any plugin code.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from midimon.config.home import Home

if TYPE_CHECKING:
    from midimon.config.models import Config

_live: Any = None
_cache: dict[str, Any] = {}
_lock = threading.Lock()


def set_live(manager: Any) -> None:
    global _live
    _live = manager


def checks(home: Home) -> list[Callable[[Any], Iterator[tuple[str, tuple, str]]]]:
    """The loader's checks for Plugin actions and triggers, reading plugins from ``home``."""
    return [functools.partial(check_plugins, home=home), functools.partial(check_grants, home=home)]


def check_grants(config: Any, *, home: Home) -> Iterator[tuple[str, tuple, str]]:
    """A Plugin mapping whose plugin lacks a capability or scope it needs (the url's host, the
    broker, the topic) is a warning quoting the one command that grants exactly that."""
    from .grant_needs import config_needs

    for need, path in config_needs(config, home):
        yield "warning", path, need.sentence()


class _Info:
    __slots__ = ("kind", "params_schema", "problem")

    def __init__(self, kind: str | None, params_schema: Any, problem: str | None) -> None:
        self.kind, self.params_schema, self.problem = kind, params_schema, problem


def _lookup(name: str, home: Home) -> _Info | None:
    """None when the plugin does not exist; otherwise its kind, schema and any problem."""
    if _live is not None:
        found = _live.lookup(name)  # the manager's records: (kind, params_schema, problem)
        return _Info(*found) if found is not None else None
    return _static(name, home)


def _static(name: str, home: Home) -> _Info | None:
    from . import discovery
    from .state import PluginState

    found, _ = discovery.scan(home.plugins)
    for ep_name, ep in discovery.entry_points().items():
        found.setdefault(ep_name, ep)
    cand = found.get(name)
    if cand is None:
        return None
    if cand.trusted:
        return _Info(None, None, None)
    if not PluginState(home.plugin_state).enabled(name):
        return _Info(None, None, f"plugin {name!r} is disabled (midimon plugins enable {name})")
    key = (name, cand.stamp())
    with _lock:
        hit = _cache.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
    try:
        verified = discovery.read(cand, "allow", home.trusted_keys)
        info = _Info(verified.decl.kind, verified.decl.params_schema, None)
    except Exception as exc:
        info = _Info(None, None, f"plugin {name!r} cannot be loaded: {exc}")
    with _lock:
        _cache[name] = (key, info)
    return info


def _schema_errors(schema: dict, params: dict) -> Iterator[tuple[tuple, str]]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    for err in sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path)):
        where = tuple(err.absolute_path)
        yield where, err.message


def check_plugins(config: Config, *, home: Home) -> Iterator[tuple[str, tuple, str]]:
    from midimon.config.loader import iter_actions, iter_mappings
    from midimon.config.models import PluginAction, PluginTrigger

    infos: dict[str, _Info | None] = {}

    def info(name: str) -> _Info | None:
        if name not in infos:
            infos[name] = _lookup(name, home)
        return infos[name]

    for action, path in iter_actions(config):
        if not isinstance(action, PluginAction):
            continue
        i = info(action.plugin)
        if i is None:
            yield (
                "warning",
                path + ("plugin",),
                (
                    f"plugin {action.plugin!r} is not installed; pressing this mapping will only "
                    "log an error (see: midimon plugins list)"
                ),
            )
            continue
        if i.problem:
            yield "warning", path + ("plugin",), i.problem
            continue
        if i.kind == "trigger":
            yield (
                "warning",
                path + ("plugin",),
                (f"plugin {action.plugin!r} is a trigger plugin; it cannot run as an action"),
            )
            continue
        if i.params_schema:
            for where, message in _schema_errors(i.params_schema, dict(action.params)):
                yield "error", path + ("params", *where), f"plugin {action.plugin!r}: {message}"
            # a param the plugin marks ``"deprecated": true`` still works; its description says
            # what to write instead (midimon config migrate rewrites the first-party ones)
            props = i.params_schema.get("properties") or {}
            for key in action.params:
                prop = props.get(key)
                if isinstance(prop, dict) and prop.get("deprecated") is True:
                    why = prop.get("description") or f"param {key!r} is deprecated"
                    yield "warning", path + ("params", key), f"plugin {action.plugin!r}: {why}"
    for mapping, path in iter_mappings(config):
        t = mapping.trigger
        if not isinstance(t, PluginTrigger):
            continue
        i = info(t.plugin)
        if i is None:
            yield (
                "warning",
                path + ("trigger", "plugin"),
                (f"plugin {t.plugin!r} is not installed; this mapping never fires"),
            )
        elif i.problem:
            yield "warning", path + ("trigger", "plugin"), i.problem
        elif i.kind == "action":
            yield (
                "warning",
                path + ("trigger", "plugin"),
                (f"plugin {t.plugin!r} is an action plugin; it produces no events"),
            )
