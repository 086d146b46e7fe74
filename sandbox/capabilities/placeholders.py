"""Event values put into a plugin's strings on the host: ``{note}``, ``{velocity}``, ``{mode}``...

A plugin passes the strings and the event's values; the host fills them in. Not ``str.format``:
format strings can walk attributes (``{0.__class__}``), which is why the sandbox refuses them.
Only ``{name}`` with a plain identifier is a placeholder; ``{{`` and ``}}`` are literal braces,
and any other brace (a JSON text in a string body) is left as it is.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
_WHOLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")


class PlaceholderError(ValueError):
    pass


def _scalar(values: dict[str, Any], name: str) -> Any:
    if name not in values:
        known = ", ".join("{" + k + "}" for k in sorted(values)) or "none"
        raise PlaceholderError(f"{{{name}}} is not a value of this event (known: {known}; write {{{{ for a brace)")
    value = values[name]
    if isinstance(value, (dict, list)):
        raise PlaceholderError(f"{{{name}}} is not a single value")
    return value


def fill_text(text: str, values: dict[str, Any]) -> str:
    def one(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        value = _scalar(values, m.group(1))
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return _TOKEN.sub(one, text)


def fill(value: Any, values: dict[str, Any], depth: int = 0) -> Any:
    """Fill every string inside ``value``. A string that is exactly one placeholder takes the
    value with its type (``velocity = "{velocity}"`` sends the number 100, not "100")."""
    if depth > 32:
        raise PlaceholderError("data is nested too deeply")
    if isinstance(value, str):
        m = _WHOLE.fullmatch(value)
        if m:
            return _scalar(values, m.group(1))
        return fill_text(value, values)
    if isinstance(value, list):
        return [fill(v, values, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, values, depth + 1) for k, v in value.items()}
    return value


def event_values(context: Any) -> dict[str, Any]:
    """The scalar values of a plugin call's context (what ``{name}`` may name)."""
    if not isinstance(context, dict):
        raise TypeError("values must be a dict")
    return {str(k): v for k, v in context.items() if v is None or isinstance(v, (str, int, float, bool))}
