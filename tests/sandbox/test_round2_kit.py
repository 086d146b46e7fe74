"""Shared pieces of the round-2 sandbox tests (``test_round2_*.py``): the real daemon as a
process over JACK, the plugin test helpers, and a timer for ``midimon status``. No tests here."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from e2ekit import cli, cli_json, config, grant, press, ready, wait_for
from pluginkit import write
from testkit.daemon import DaemonProcess

__all__ = ["cli", "cli_json", "config", "grant", "press", "ready", "wait_for", "write", "start_daemon"]


@pytest.fixture
def start_daemon(home: Path, jack_env: dict[str, str]) -> Iterator[Any]:
    procs: list[DaemonProcess] = []

    def start(config_text: str, **kw: Any) -> DaemonProcess:
        d = DaemonProcess(home, config_text, env=jack_env, **kw)
        procs.append(d)
        return d

    yield start
    for d in procs:
        d.stop()


@pytest.fixture
def plugins_dir(home: Path) -> Path:
    d = home / "plugins"
    d.mkdir(exist_ok=True)
    return d


def timed_status(home: Path) -> tuple[float, dict[str, Any]]:
    """(seconds, document) of one ``midimon status --json``."""
    t0 = time.monotonic()
    proc = cli("status", "--json", home=home)
    return time.monotonic() - t0, json.loads(proc.stdout)


def host_state(doc: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The plugin's live counters in a status document (``host`` before the record rework,
    ``counters`` after it), or None when the plugin is not listed."""
    plugins = doc.get("plugins", {})
    for p in plugins.get("plugins", []) if isinstance(plugins, dict) else plugins:
        if p.get("name") == name:
            return {**(p.get("counters") or {}), **(p.get("host") or {})}
    return None
