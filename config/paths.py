"""Deprecated: module-level path helpers, kept for callers not yet handed a ``Home``.

New code takes a :class:`midimon.config.home.Home` from its caller; these read the
environment on every call, which is exactly what ``Home`` exists to stop.
"""

from __future__ import annotations

from pathlib import Path

from midimon.config.home import Home


def home() -> Path:
    return Home.from_env().root


def config_file() -> Path:
    return Home.from_env().config


def plugins_dir() -> Path:
    return Home.from_env().plugins


def state_file() -> Path:
    return Home.from_env().state


def logs_dir() -> Path:
    return Home.from_env().logs


def runtime_dir() -> Path:
    return Home.from_env().runtime


def socket_path() -> Path:
    return Home.from_env().socket
