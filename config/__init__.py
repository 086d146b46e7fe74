"""midimon.config: TOML -> validated, immutable config models.

Public API::

    load_config(path, *, text=None, strict=False) -> LoadResult   # raises ConfigError
    Config, Mapping, Mode, ...                                      # the models
    Diagnostic, ConfigError
"""

from midimon.config.diagnostics import ConfigError, Diagnostic, format_path
from midimon.config.loader import LoadResult, iter_actions, iter_mappings, load_config
from midimon.config.models import Config, Mapping, Mode

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
