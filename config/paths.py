"""Where midimon keeps things: MIDIMON_HOME (default ~/.midimon) and the runtime folder."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    env = os.environ.get("MIDIMON_HOME")
    return Path(env).expanduser() if env else Path.home() / ".midimon"


def config_file() -> Path:
    return home() / "config.toml"


def plugins_dir() -> Path:
    return home() / "plugins"


def state_file() -> Path:
    return home() / "state.json"


def logs_dir() -> Path:
    return home() / "logs"


def runtime_dir() -> Path:
    """$XDG_RUNTIME_DIR/midimon, or MIDIMON_HOME/run when that variable is unset."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    return Path(xdg) / "midimon" if xdg else home() / "run"


def socket_path() -> Path:
    return runtime_dir() / "midimon.sock"
