"""Plugin code the zygote compiled once, for every worker it forks afterwards.

The host asks the zygote to compile code it trusts to compile (midimon's own plugins, loaded
idle) before any worker needs it; a worker forked later finds the code object here, inherited,
and skips RestrictedPython's transform at its first call. The key is the exact source text and
file name the worker is then asked to load, so a hit runs exactly what compiling that source
under the same policy would give; a miss (another source, a restarted zygote) compiles as always.
"""

from __future__ import annotations

import marshal
import types

from .errors import PluginCompileError
from .policy import compile_plugin

#: (source, filename) -> code; small: one entry per first-party plugin
_CODE: dict[tuple[str, str], types.CodeType] = {}
_MAX_ENTRIES = 16


def compile_marshal(source: str, filename: str, max_source_bytes: int) -> bytes:
    """In a throwaway child of the zygote: the compiled code, marshalled; b"" when it does not
    compile. (The transform's garbage, about 2 MiB, then dies with that child instead of
    staying in the zygote and in every worker forked from it.)"""
    try:
        return marshal.dumps(compile_plugin(source, filename, max_source_bytes=max_source_bytes).code)
    except PluginCompileError:
        return b""


def known(source: str, filename: str) -> bool:
    return (source, filename) in _CODE


def put(source: str, filename: str, data: bytes) -> bool:
    """In the zygote: keep the code ``compile_marshal`` made. False when there was none."""
    if not data:
        return False
    if len(_CODE) >= _MAX_ENTRIES:
        _CODE.pop(next(iter(_CODE)))
    _CODE[(source, filename)] = marshal.loads(data)
    return True


def take(source: str, filename: str) -> types.CodeType | None:
    """In a worker: the code the zygote compiled for exactly this source and file, if any."""
    return _CODE.get((source, filename))
