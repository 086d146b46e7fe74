"""Plugin code the zygote compiled once, for every worker it forks afterwards.

The host asks the zygote to compile code it trusts to compile (midimon's own plugins, loaded
idle) before any worker needs it; a worker forked later finds the code object here, inherited,
and skips RestrictedPython's transform at its first call. The key is the exact source text and
file name the worker is then asked to load, so a hit runs exactly what compiling that source
under the same policy would give; a miss (another source, a restarted zygote) compiles as always.
"""

from __future__ import annotations

import types

from .errors import PluginCompileError
from .policy import compile_plugin

#: (source, filename) -> code; small: one entry per first-party plugin
_CODE: dict[tuple[str, str], types.CodeType] = {}
_MAX_ENTRIES = 16


def add(source: str, filename: str, max_source_bytes: int) -> bool:
    """In the zygote: compile ``source`` now. False (nothing kept) when it does not compile."""
    if (source, filename) in _CODE:
        return True
    if len(_CODE) >= _MAX_ENTRIES:
        _CODE.pop(next(iter(_CODE)))
    try:
        _CODE[(source, filename)] = compile_plugin(source, filename, max_source_bytes=max_source_bytes).code
    except PluginCompileError:
        return False
    return True


def take(source: str, filename: str) -> types.CodeType | None:
    """In a worker: the code the zygote compiled for exactly this source and file, if any."""
    return _CODE.get((source, filename))
