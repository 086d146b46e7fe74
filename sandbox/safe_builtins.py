"""The builtins a plugin sees: RestrictedPython's safe set, minus what we do not trust, plus
what plugin authors need (sum, sorted, enumerate, ...), with range, getattr and import guarded."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from RestrictedPython.Guards import safe_builtins as _rp_safe_builtins

from .guards import guarded_getattr, guarded_hasattr

#: Bigger ranges are refused: a plugin that needs them is doing bulk work the daemon should not.
MAX_RANGE = 10_000_000

_EXTRA = (
    "sum",
    "min",
    "max",
    "sorted",
    "enumerate",
    "any",
    "all",
    "map",
    "filter",
    "dict",
    "list",
    "set",
    "frozenset",
    "tuple",
    "zip",
    "reversed",
    "iter",
    "next",
    "bin",
    "bytes",
    "object",
    "format",
    "NotImplemented",
)
# RestrictedPython's safe set, minus setattr/delattr (our _write_ rule covers writes) and id
# (addresses of objects are of no use to a plugin).
_DROP = ("setattr", "delattr", "id", "_getattr_")
#: Classes a plugin class may derive from (besides its own classes).
_BASE_TYPES = (object, dict, list, tuple, set, frozenset, str, int, float)


def bounded_range(*args: Any) -> range:
    r = range(*args)
    try:
        size = len(r)
    except OverflowError:
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise ValueError(f"range() of {MAX_RANGE} or more items is not allowed in plugins")
    return r


def _safe_format(value: Any, spec: Any = "") -> str:
    # format() with a spec cannot walk attributes (only str.format's field names can).
    return format(value, str(spec))


def make_builtins(importer: Callable[..., Any], extra: dict[str, Any]) -> dict[str, Any]:
    table = {k: v for k, v in _rp_safe_builtins.items() if k not in _DROP}
    for name in _EXTRA:
        table[name] = getattr(builtins, name)
    table.update(
        {
            "range": bounded_range,
            "getattr": guarded_getattr,
            "hasattr": guarded_hasattr,
            "format": _safe_format,
            "__import__": importer,
        }
    )
    table.update(extra)
    return table


def allowed_bases() -> frozenset[type]:
    exceptions = {v for v in _rp_safe_builtins.values() if isinstance(v, type) and issubclass(v, BaseException)}
    return frozenset(set(_BASE_TYPES) | exceptions)
