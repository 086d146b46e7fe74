"""Issue 11 point 6, through a real daemon: ``midimon plugins limits`` sets a plugin's call
deadline and memory limit, kept in the plugin state and applied to the running daemon; a worker
past 80% of its memory limit is warned about in the log and shows its memory in status."""

from __future__ import annotations

import json

import pytest

from .test_round2_kit import cli, config, host_state, plugins_dir, press, ready, start_daemon, timed_status, wait_for
from .test_round2_kit import write as save

pytestmark = pytest.mark.jack
__all__ = ["plugins_dir", "start_daemon"]

HUNGRY = '''"""Holds on to more memory at each press; sleeps when asked."""
import time

held = []


def execute(params, context):
    if params.get("sleep"):
        time.sleep(params["sleep"])
        store.set("slept", store.get("slept", 0) + 1)
        return
    held.append("m" * (params["mb"] * 1024 * 1024))
    store.set("held", len(held))
'''


def _limits(home) -> dict:
    return json.loads(cli("plugins", "limits", "hungry", "--json", home=home).stdout)


def test_limits_are_kept_shown_and_applied(harness, start_daemon, home, plugins_dir):
    save(plugins_dir / "hungry.py", HUNGRY)
    shown = _limits(home)
    assert shown["name"] == "hungry" and shown["limits"] == {}
    assert shown["effective"] == shown["defaults"] == {"timeout_ms": 5000, "memory_mb": 256}
    cli("plugins", "limits", "hungry", "--timeout-ms", "1500", "--memory-mb", "128", home=home)
    assert json.loads((home / "plugin-state.json").read_text())["plugins"]["hungry"]["limits"] == {
        "timeout_ms": 1500,
        "memory_mb": 128,
    }
    assert _limits(home)["limits"] == _limits(home)["effective"] == {"timeout_ms": 1500, "memory_mb": 128}
    bad = cli("plugins", "limits", "hungry", "--timeout-ms", "-5", "--json", home=home, check=False)
    assert bad.returncode != 0 and json.loads(bad.stdout)["ok"] is False
    d = start_daemon(
        config(
            harness,
            """
[[modes.mappings]]
trigger = { type = "Note", note = 36 }
action = { type = "Plugin", plugin = "hungry", params = { mb = 30 } }

[[modes.mappings]]
trigger = { type = "Note", note = 37 }
action = { type = "Plugin", plugin = "hungry", params = { sleep = 2.5 } }
""",
        )
    )
    ready(d, "hungry")
    n = len(d.lines)
    press(harness, 37)  # 2.5 s against the 1.5 s deadline set above (the default is 5 s)
    d.wait_log("did not finish within 1.5 s", start=n, timeout=10)
    for _ in range(3):  # a worker starts at ~24 MiB; three 30 MiB strings pass 80% of 128 MiB
        press(harness, 36)
    line = d.wait_log("of its 128 MiB limit", start=n, timeout=15)
    assert "hungry" in line and "midimon plugins limits hungry --memory-mb" in line
    counters = wait_for(lambda: host_state(timed_status(home)[1], "hungry"), 10, what="status")
    assert counters.get("memory_mb", 0) >= 0.8 * 128, counters
    assert "of its 128 MiB limit" in (counters.get("memory_warning") or ""), counters
