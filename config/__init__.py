"""midimon.config: TOML -> validated, immutable config models.

Public API::

    load_config(path, *, text=None, strict=False) -> LoadResult   # raises ConfigError
    Config, Mapping, Mode, ...                                      # the models
    Diagnostic, ConfigError
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not `from typing import`: typing alone is 4 ms of a CLI start
if TYPE_CHECKING:
    from typing import Any

    from midimon.config.diagnostics import ConfigError, Diagnostic, format_path
    from midimon.config.loader import LoadResult, iter_actions, iter_mappings, load_config
    from midimon.config.models import Config, Mapping, Mode

# Resolved on first use (PEP 562): importing ``midimon.config.errors`` or ``.home`` (as every
# CLI client does) must not pull in pydantic and the models, a third of a second at start-up.
_LAZY = {
    "ConfigError": "diagnostics",
    "Diagnostic": "diagnostics",
    "format_path": "diagnostics",
    "LoadResult": "loader",
    "iter_actions": "loader",
    "iter_mappings": "loader",
    "load_config": "loader",
    "Config": "models",
    "Mapping": "models",
    "Mode": "models",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'midimon.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"midimon.config.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Config",
    "ConfigError",
    "Diagnostic",
    "LoadResult",
    "Mapping",
    "Mode",
    "format_path",
    "iter_actions",
    "iter_mappings",
    "load_config",
]
