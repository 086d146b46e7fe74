"""Helpers shared by the end-to-end plugin tests (``test_e2e_*.py``): the daemon runs as a
process (``midimon run``), notes come in over a real JACK graph, effects are read back from
files, JACK ports, a local http.server and mosquitto."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pluginkit import cli, cli_json
from testkit.jack import wait_for


def config(harness, body: str, *, virtual_output: bool = False) -> str:
    out = f'[device]\nname = "{harness.out_name}"\n'
    if virtual_output:
        out += f'virtual_output = "{harness.tag}-out"\n'
    return out + f'\n[[modes]]\nname = "Play"\n{body}'


def press(harness, note: int = 36, velocity: int = 100) -> None:
    harness.send("note_on", note=note, velocity=velocity)
    harness.send("note_off", note=note)


def files_dir(home: Path, plugin: str) -> Path:
    """Where a plugin's ``fs`` writes relative paths (its own data folder)."""
    return home / "plugins-data" / plugin / "files"


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def lines(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


def status(home: Path) -> dict:
    """``midimon status --json`` (over the control socket)."""
    return cli_json("status", home=home)


def plugin_status(home: Path, name: str) -> dict:
    st = status(home)
    return next(p for p in st["plugins"]["plugins"] if p["name"] == name)


def ready(d, *plugins: str) -> None:
    """The daemon runs, its MIDI input is connected and the plugins are active."""
    d.wait_log("connected MIDI input")
    for name in plugins:
        d.wait_log(f"plugin {name}: version")
    d.wait_log("control socket")
    time.sleep(0.3)  # let the JACK connection settle before the first note


def grant(home: Path, name: str, capability: str, *scope: str) -> None:
    cli("plugins", "grant", name, capability, *scope, home=home)


__all__ = [
    "config",
    "press",
    "files_dir",
    "read_json",
    "lines",
    "status",
    "plugin_status",
    "ready",
    "grant",
    "wait_for",
    "cli",
    "cli_json",
]
