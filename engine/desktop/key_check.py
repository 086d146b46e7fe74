"""The config check for Keystroke actions: every key and modifier name must be one we can press.

``config/`` is the ground floor and knows nothing of keyboards, so the engine hands this check
to the loader through ``load_config(checks=...)`` (see :mod:`midimon.engine.checks`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from midimon.config.loader import iter_actions
from midimon.config.models import Config, KeystrokeAction
from midimon.engine.desktop.keys import KeyPlan, parse_keys


# configs repeat the same few key names; parsing each once keeps reloads fast
@functools.lru_cache(maxsize=4096)
def _parse(keys: str, modifiers: tuple[str, ...]) -> KeyPlan | ValueError:
    try:
        return parse_keys(keys, modifiers)
    except ValueError as exc:  # cached too: a broken key stays broken until the text changes
        return exc


def check_keystrokes(config: Config) -> Iterator[tuple[str, tuple, str]]:
    """(severity, key path, message) for each key name that cannot be pressed."""
    for action, path in iter_actions(config):
        if not isinstance(action, KeystrokeAction):
            continue
        plan = _parse(action.keys, tuple(action.modifiers))
        if isinstance(plan, ValueError):
            yield "error", path + ("keys",), str(plan)
            continue
        for name in plan.ignored:
            yield "warning", path + ("modifiers",), f"modifier {name!r} has no key code on any system and is ignored"
