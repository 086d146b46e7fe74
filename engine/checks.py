"""The checks the engine adds to the config loader: key names it can press, plugin parameters.

The loader (``config/``) is the ground floor and imports nothing above it; what only the engine
and the plugin system know is handed in through ``load_config(checks=...)``. ``midimon run`` and
``midimon validate`` both build their list here, so the two never disagree.
"""

from __future__ import annotations

from midimon.config.home import Home
from midimon.config.loader import Check
from midimon.engine.desktop.key_check import check_keystrokes
from midimon.plugins.config_checks import checks as plugin_checks


def config_checks(home: Home) -> list[Check]:
    return [check_keystrokes, *plugin_checks(home)]
