"""End to end over JACK, through `midimon run` as a process: what a Plugin action receives, how
a bad Plugin mapping is refused at load, `midimon reload` rescanning the plugins folder, and
disable/enable without a restart. Each test asserts an effect outside the daemon (a file the
plugin wrote with its `fs` capability)."""

from __future__ import annotations

import time

import pytest
from e2ekit import cli, config, files_dir, grant, plugin_status, press, read_json, ready, status, wait_for
from pluginkit import write

pytestmark = pytest.mark.jack

RECORDER = '''"""Writes what it was called with to a file, through the fs capability."""
version = "1.0"
capabilities = ["filesystem"]
params_schema = {"type": "object", "properties": {"tag": {"type": "string"}, "n": {"type": "integer"}},
                 "required": ["tag"], "additionalProperties": False}


def execute(params, context):
    calls = store.get("calls", 0) + 1
    store.set("calls", calls)
    fs.write_json("call.json", {"params": params, "context": context, "calls": calls})
'''


def recorder(home, plugins_dir, name="recorder"):
    write(plugins_dir / f"{name}.py", RECORDER)
    grant(home, name, "filesystem")
    return files_dir(home, name) / "call.json"


def test_params_and_context_reach_execute(harness, start_daemon, home, plugins_dir):
    out = recorder(home, plugins_dir)
    d = start_daemon(
        config(
            harness,
            """
[[modes.mappings]]
description = "pad 38 records"
trigger = { type = "Note", note = 38 }
velocity_curve = { type = "Fixed", velocity = 64 }
action = { type = "Plugin", plugin = "recorder", params = { tag = "snare", n = 7 } }
""",
        )
    )
    ready(d, "recorder")
    press(harness, 38, velocity=101)
    got = wait_for(lambda: read_json(out), 10, what="the plugin's file")
    assert got["params"] == {"tag": "snare", "n": 7}
    ctx = got["context"]
    assert ctx["note"] == 38 and ctx["velocity"] == 101 and ctx["velocity_out"] == 64
    assert ctx["mode"] == "Play" and ctx["channel"] == 0
    assert ctx["description"] == ctx["mapping_description"] == "pad 38 records"
    assert ctx["trigger"] == ctx["trigger_type"] and "Note" in str(ctx["trigger"])
    assert ctx["device"] and isinstance(ctx["timestamp"], (int, float))
    assert got["calls"] == 1


GOOD = """
[[modes.mappings]]
description = "pad 36 records"
trigger = { type = "Note", note = 36 }
action = { type = "Plugin", plugin = "recorder", params = { tag = "TAG" } }
"""


def test_invalid_params_are_refused_at_load_with_the_line(harness, start_daemon, home, plugins_dir):
    out = recorder(home, plugins_dir)
    d = start_daemon(config(harness, GOOD.replace("TAG", "v1")))
    ready(d, "recorder")
    # a params value of the wrong type, on a known line: the reload is refused
    bad = config(harness, GOOD.replace('tag = "TAG"', "tag = 5"))
    line = next(i for i, text in enumerate(bad.splitlines(), 1) if "tag = 5" in text)
    (home / "config.toml").write_text(bad)
    proc = cli("reload", home=home, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"config.toml:{line}" in proc.stderr and "tag" in proc.stderr, proc.stderr
    last = status(home)["last_reload"]
    assert last["ok"] is False
    assert any(diag.get("line") == line for diag in last["diagnostics"]), last
    # the previous config keeps running: the press still passes "v1"
    press(harness)
    wait_for(lambda: (read_json(out) or {}).get("params") == {"tag": "v1"}, 10, what="the old mapping to run")
    # a fixed config loads
    (home / "config.toml").write_text(config(harness, GOOD.replace("TAG", "v2")))
    cli("reload", home=home)
    assert status(home)["last_reload"]["ok"] is True
    press(harness)
    wait_for(lambda: (read_json(out) or {}).get("params") == {"tag": "v2"}, 10, what="the new mapping to run")
    assert d.proc.poll() is None


def test_midimon_reload_rescans_the_plugins_folder(harness, start_daemon, home, plugins_dir):
    out = recorder(home, plugins_dir)
    d = start_daemon(config(harness, GOOD.replace("TAG", "first")))
    ready(d, "recorder")
    rescans = status(home)["plugins"]["rescans"]
    # a second plugin and a mapping to it, then `midimon reload` (plugins are rescanned first,
    # so the new mapping is not a "not installed" warning)
    write(plugins_dir / "second.py", RECORDER)
    grant(home, "second", "filesystem")
    (home / "config.toml").write_text(
        config(
            harness,
            GOOD.replace("TAG", "first")
            + """
[[modes.mappings]]
description = "pad 37 records in the second plugin"
trigger = { type = "Note", note = 37 }
action = { type = "Plugin", plugin = "second", params = { tag = "second" } }
""",
        )
    )
    proc = cli("reload", home=home)
    assert proc.stdout.startswith("reloaded 2 mappings"), proc.stdout
    assert "not installed" not in proc.stdout + proc.stderr
    st = status(home)
    assert st["plugins"]["rescans"] > rescans
    assert next(p for p in st["plugins"]["plugins"] if p["name"] == "second")["state"] == "running"
    press(harness, 37)
    second = files_dir(home, "second") / "call.json"
    wait_for(lambda: (read_json(second) or {}).get("params") == {"tag": "second"}, 10, what="the new plugin to run")
    press(harness, 36)
    wait_for(lambda: (read_json(out) or {}).get("params") == {"tag": "first"}, 10, what="the first plugin to run")


def test_disable_and_enable_take_effect_without_a_restart(harness, start_daemon, home, plugins_dir):
    out = recorder(home, plugins_dir)
    d = start_daemon(config(harness, GOOD.replace("TAG", "x")))
    ready(d, "recorder")
    press(harness)
    wait_for(lambda: (read_json(out) or {}).get("calls") == 1, 10, what="the first call")
    pid = d.proc.pid
    n = len(d.lines)
    cli("plugins", "disable", "recorder", home=home)
    d.wait_log("plugin recorder: unloaded (disabled)", start=n)
    assert plugin_status(home, "recorder")["state"] == "disabled"
    press(harness)
    d.wait_log("plugin 'recorder' is disabled", start=n)
    time.sleep(0.3)
    assert read_json(out)["calls"] == 1
    n = len(d.lines)
    cli("plugins", "enable", "recorder", home=home)
    d.wait_log("plugin recorder: version 1.0 active", start=n)
    press(harness)
    # the store survived the unload: the count goes on
    wait_for(lambda: (read_json(out) or {}).get("calls") == 2, 10, what="the call after enable")
    assert d.proc.pid == pid and d.proc.poll() is None
