"""The daemon as a process over a real JACK MIDI graph: drop a plugin, map it, play, edit,
break, fix and delete it, without a restart. The same for a trigger plugin, and for grants."""

from __future__ import annotations

import time

import pytest
from pluginkit import cli, cli_json, store_of, write
from testkit.jack import wait_for

pytestmark = pytest.mark.jack


def config(harness, body: str) -> str:
    return f'[device]\nname = "{harness.out_name}"\n\n[[modes]]\nname = "Play"\n{body}'


NOTE_TO_PROBE = """
[[modes.mappings]]
description = "pad 36 runs the probe"
trigger = { type = "Note", note = 36 }
action = { type = "Plugin", plugin = "probe", params = { tag = "pad" } }
"""


def probe(version: str) -> str:
    return f'''"""Probe {version}: records each press in its store."""
version = "{version}"
params_schema = {{"type": "object", "properties": {{"tag": {{"type": "string"}}}}}}


def execute(params, context):
    hits = store.get("hits", [])
    hits.append("{version}:" + params["tag"] + ":" + str(context["note"]) + ":" + str(context["velocity"]))
    store.set("hits", hits)
'''


def hits(home):
    return store_of(home, "probe").get("hits", [])


def press(harness, note=36, velocity=100):
    harness.send("note_on", note=note, velocity=velocity)
    harness.send("note_off", note=note)


def test_action_plugin_drop_edit_break_fix_delete(harness, start_daemon, home, plugins_dir):
    d = start_daemon(config(harness, NOTE_TO_PROBE))
    d.wait_log("connected MIDI input")
    # no plugin yet: the mapping was a warning at load
    assert "plugin 'probe' is not installed" in d.log()
    # drop the file: it loads without a restart
    write(plugins_dir / "probe.py", probe("1.0"))
    d.wait_log("plugin probe: version 1.0 active")
    time.sleep(0.3)
    press(harness, velocity=99)
    wait_for(lambda: hits(home) == ["1.0:pad:36:99"], 5, what="the first press")
    # edit: the next note runs the new code
    n = len(d.lines)
    write(plugins_dir / "probe.py", probe("2.0"))
    d.wait_log("plugin probe: version 2.0 active", start=n)
    press(harness, velocity=80)
    wait_for(lambda: hits(home)[-1:] == ["2.0:pad:36:80"], 5, what="the press on version 2")
    # break it: the old version keeps working and the error names file:line:col
    n = len(d.lines)
    write(
        plugins_dir / "probe.py", probe("3.0").replace("def execute(params, context):", "def execute(params, context)")
    )
    line = d.wait_log("the previous version keeps running", start=n)
    assert "probe.py:6:" in line, line
    press(harness, velocity=70)
    wait_for(lambda: hits(home)[-1:] == ["2.0:pad:36:70"], 5, what="the old version still running")
    listing = cli_json("plugins", "list", home=home)
    live = next(p for p in listing["plugins"] if p["name"] == "probe")
    assert live["state"] == "running" and live["failed_version"] is not None  # the old version runs
    assert live["error"]["line"] == 6 and live["error"]["file"].endswith("probe.py")
    # fix it: the new code runs
    n = len(d.lines)
    write(plugins_dir / "probe.py", probe("3.1"))
    d.wait_log("plugin probe: version 3.1 active", start=n)
    press(harness, velocity=60)
    wait_for(lambda: hits(home)[-1:] == ["3.1:pad:36:60"], 5, what="the fixed version")
    listing = cli_json("plugins", "list", home=home)
    assert next(p for p in listing["plugins"] if p["name"] == "probe")["error"] is None
    # delete it: unloaded, the mapping warns at load and at the press
    n = len(d.lines)
    (plugins_dir / "probe.py").unlink()
    d.wait_log("plugin probe: unloaded", start=n)
    d.wait_log("plugin 'probe' is not installed", start=n)
    count = len(hits(home))
    press(harness)
    d.wait_log("Plugin failed: plugin 'probe' is not installed", start=n)
    assert len(hits(home)) == count
    assert d.proc.poll() is None


TICKER = '''"""Ticker: one event per poll while armed."""
poll_interval_ms = 20


def initialize(config):
    store.set("n", 0)


def poll_events():
    n = store.get("n", 0)
    if n >= 3:
        return []
    store.set("n", n + 1)
    return [{{"event": "pulse", "data": {{"v": {v}, "n": n}}}}]
'''


def test_trigger_plugin_events_fire_mappings_and_reload(harness, start_daemon, home, plugins_dir, tmp_path):
    out = tmp_path / "fired.txt"
    write(plugins_dir / "ticker.py", TICKER.format(v=1))
    d = start_daemon(
        config(
            harness,
            f"""
[[modes.mappings]]
description = "pulse v1"
trigger = {{ type = "Plugin", plugin = "ticker", event = "pulse", match = {{ v = 1 }} }}
action = {{ type = "Shell", shell = true, command = "echo one >> {out}" }}
[[modes.mappings]]
description = "pulse v2"
trigger = {{ type = "Plugin", plugin = "ticker", event = "pulse", match = {{ v = 2 }} }}
action = {{ type = "Shell", shell = true, command = "echo two >> {out}" }}
""",
        )
    )
    d.wait_log("midimon is running")
    try:
        wait_for(lambda: out.exists() and out.read_text().split() == ["one"] * 3, 5, what="three v1 pulses")
    except AssertionError:
        raise AssertionError(d.log()) from None
    # edit: the next events come from the new code, through the same mappings
    n = len(d.lines)
    write(plugins_dir / "ticker.py", TICKER.format(v=2))
    d.wait_log("plugin ticker: version - active", start=n)
    wait_for(lambda: out.read_text().split() == ["one"] * 3 + ["two"] * 3, 5, what="three v2 pulses")
    # break it: the old version keeps polling, the error names the line
    n = len(d.lines)
    write(plugins_dir / "ticker.py", TICKER.format(v=3).replace("return []", "return [}"))
    line = d.wait_log("the previous version keeps running", start=n)
    assert "ticker.py:12:17:" in line, line

    def polls():
        live = cli_json("plugins", "info", "ticker", home=home)
        assert live["error"]["line"] == 12 and live["state"] == "running"
        return live["trigger"]["polls"]

    first = polls()
    wait_for(lambda: polls() > first + 5, 5, what="the old version still polling")
    assert out.read_text().split() == ["one"] * 3 + ["two"] * 3
    assert d.proc.poll() is None


SHELLER = '''"""Touches a file through the host's shell capability."""
capabilities = ["subprocess"]
commands = ["touch"]


def execute(params, context):
    shell.run(["touch", params["path"]])
'''


def test_grant_and_revoke_take_effect_on_the_next_press(harness, start_daemon, home, plugins_dir, tmp_path):
    target = tmp_path / "touched"
    write(plugins_dir / "sheller.py", SHELLER)
    d = start_daemon(
        config(
            harness,
            f"""
[[modes.mappings]]
trigger = {{ type = "Note", note = 40 }}
action = {{ type = "Plugin", plugin = "sheller", params = {{ path = "{target}" }} }}
""",
        )
    )
    d.wait_log("connected MIDI input")
    d.wait_log("plugin sheller: version")
    time.sleep(0.3)
    n = len(d.lines)
    press(harness, 40)
    d.wait_log("was not granted the 'subprocess' capability", start=n)
    assert not target.exists()
    cli("plugins", "grant", "sheller", "subprocess", "--yes", home=home)
    press(harness, 40)
    wait_for(target.exists, 5, what="the granted shell command")
    target.unlink()
    cli("plugins", "revoke", "sheller", "subprocess", home=home)
    n = len(d.lines)
    press(harness, 40)
    d.wait_log("was not granted the 'subprocess' capability", start=n)
    time.sleep(0.3)
    assert not target.exists()
