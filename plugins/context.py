"""The ``context`` a plugin's ``execute(params, context)`` receives: plain data, stable names.

The engine builds the firing context (note, velocity, mode, ...) with its own names; this turns
it into what docs/plugin-api.md promises: only plain values cross into the sandbox, every
documented key is present (``None`` when it does not apply), and the plan's names stand beside
ours (``trigger_type`` for ``trigger``, ``current_mode``, the mode's index, beside ``mode``,
its name), so a plugin written from the plan's ``TriggerContext`` finds what it reads.
"""

from __future__ import annotations

from typing import Any

#: Keys every context carries, ``None`` when the trigger has no such value.
CONTEXT_KEYS = ("velocity", "note", "cc", "value", "channel", "device", "mode", "current_mode", "timestamp")
_MAX_DEPTH = 8


def _plain(value: Any, depth: int = 0) -> Any:
    """JSON-like data only: anything else becomes its ``str`` (no live object crosses over)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > _MAX_DEPTH:
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(x, depth + 1) for x in value]
    if isinstance(value, dict):
        return {str(k): _plain(x, depth + 1) for k, x in value.items()}
    return str(value)


def plain_context(ctx: dict[str, Any]) -> dict[str, Any]:
    """The engine's firing context as plain data, with the documented names."""
    out = {str(k): _plain(v) for k, v in ctx.items()}
    out.setdefault("trigger", None)
    out["trigger_type"] = out.get("trigger")
    out["mapping_description"] = out.get("description", "")
    for key in CONTEXT_KEYS:
        out.setdefault(key, None)
    if not (isinstance(out["current_mode"], int) and not isinstance(out["current_mode"], bool)):
        out["current_mode"] = None  # the plan's Option<usize>: an index or nothing
    return out
