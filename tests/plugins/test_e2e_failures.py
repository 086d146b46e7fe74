"""End to end over JACK, through `midimon run` as a process: a plugin that raises, one that never
returns, and one that keeps failing. Each stays the plugin's own problem: the daemon answers,
other mappings keep firing (a file written by a granted `shell`), and `midimon status` says
what happened with the plugin's file and line."""

from __future__ import annotations

import time

import pytest
from e2ekit import config, grant, lines, plugin_status, press, ready, status, wait_for
from pluginkit import store_of, write

from midimon.config.home import Home
from midimon.engine.live.client import Client

pytestmark = pytest.mark.jack

TOUCHER = '''"""Appends a word to a file through the host's shell capability."""
capabilities = ["subprocess"]
commands = ["sh"]


def execute(params, context):
    shell.run(["sh", "-c", "echo " + params["word"] + " >> " + params["path"]])
'''

FAULTY = '''"""Raises on every call."""


def execute(params, context):
    value = params.get("n", 0)
    raise ValueError("broken on purpose " + str(value))
'''

LOOPER = '''"""Never returns."""


def execute(params, context):
    n = 0
    while True:
        n = n + 1
'''


def mappings(target, plugin: str) -> str:
    return f"""
[[modes.mappings]]
description = "pad 36 runs the plugin under test"
trigger = {{ type = "Note", note = 36 }}
action = {{ type = "Plugin", plugin = "{plugin}", params = {{ n = 1 }} }}

[[modes.mappings]]
description = "pad 40 writes through another plugin"
trigger = {{ type = "Note", note = 40 }}
action = {{ type = "Plugin", plugin = "toucher", params = {{ word = "other", path = "{target}" }} }}
"""


def setup(home, plugins_dir, name: str, source: str) -> None:
    write(plugins_dir / f"{name}.py", source)
    write(plugins_dir / "toucher.py", TOUCHER)
    grant(home, "toucher", "subprocess", "--yes")


def test_a_raising_plugin_shows_file_and_line_and_others_keep_working(
    harness, start_daemon, home, plugins_dir, tmp_path
):
    target = tmp_path / "other.txt"
    setup(home, plugins_dir, "faulty", FAULTY)
    d = start_daemon(config(harness, mappings(target, "faulty")))
    ready(d, "faulty", "toucher")
    n = len(d.lines)
    press(harness, 36)
    line = d.wait_log("ValueError: broken on purpose 1", start=n)
    assert "faulty.py:6:" in line, line
    rec = wait_for(lambda: _after_calls(home, "faulty", "failures"), 10, what="status")
    assert rec["last_call_error"].endswith("faulty.py:6: ValueError: broken on purpose 1"), rec
    assert rec["counters"]["failures"] >= 1 and rec["state"] != "suspended"
    assert any("faulty.py:6" in e["message"] for e in status(home)["recent_errors"])
    # the next press of another mapping works, and so does the next press of this one (it raises
    # again: one failure is not a suspension)
    press(harness, 40)
    wait_for(lambda: lines(target) == ["other"], 10, what="the other mapping")
    n = len(d.lines)
    press(harness, 36)
    d.wait_log("ValueError: broken on purpose 1", start=n)
    press(harness, 40)
    wait_for(lambda: lines(target) == ["other", "other"], 10, what="the other mapping again")
    assert d.proc.poll() is None


def test_an_endless_loop_is_stopped_at_its_deadline_and_the_daemon_keeps_answering(
    harness, start_daemon, home, plugins_dir, tmp_path
):
    target = tmp_path / "other.txt"
    setup(home, plugins_dir, "looper", LOOPER)
    d = start_daemon(config(harness, mappings(target, "looper")))
    ready(d, "looper", "toucher")
    n = len(d.lines)
    started = time.monotonic()
    press(harness, 36)
    time.sleep(0.5)  # the plugin is spinning now
    with Client(Home.from_env().socket, timeout=5.0).connect() as c:
        t0 = time.monotonic()
        assert c.call("ping")["pong"] is True
        assert time.monotonic() - t0 < 3.0  # not held up by the 5 s deadline
    # another mapping fires while the loop runs
    press(harness, 40)
    wait_for(lambda: lines(target) == ["other"], 4, what="the other mapping during the loop")
    line = d.wait_log("did not finish within", start=n, timeout=20)
    assert "looper" in line
    assert time.monotonic() - started < 15  # the deadline is 5 s; generous for a busy machine
    rec = wait_for(lambda: _after_calls(home, "looper", "timeouts"), 10, what="status")
    assert rec["counters"]["timeouts"] == 1 and "did not finish within" in rec["last_call_error"]
    with Client(Home.from_env().socket, timeout=5.0).connect() as c:
        assert c.call("ping")["pong"] is True
    press(harness, 40)
    wait_for(lambda: lines(target) == ["other", "other"], 10, what="the other mapping after")
    assert d.proc.poll() is None


def test_repeated_failures_suspend_the_plugin(harness, start_daemon, home, plugins_dir, tmp_path):
    target = tmp_path / "other.txt"
    setup(home, plugins_dir, "faulty", FAULTY)
    d = start_daemon(config(harness, mappings(target, "faulty")))
    ready(d, "faulty", "toucher")
    n = len(d.lines)
    for i in range(5):
        press(harness, 36)
        wait_for(lambda: sum("broken on purpose" in l for l in d.lines[n:]) >= i + 1, 10, what=f"failure {i + 1}")
    d.wait_log("plugin faulty suspended after 5 failures in a row", start=n)
    rec = wait_for(lambda: _after_calls(home, "faulty", "failures"), 10, what="status")
    assert rec["state"] == "suspended" and rec["counters"]["failures"] == 5
    n = len(d.lines)
    press(harness, 36)
    d.wait_log("plugin 'faulty' is suspended", start=n)
    press(harness, 40)
    wait_for(lambda: lines(target) == ["other"], 10, what="the other mapping")
    # an edit (a new version) lifts the suspension: the fixed code runs
    write(
        plugins_dir / "faulty.py",
        FAULTY.replace('raise ValueError("broken on purpose " + str(value))', 'store.set("fixed", value)'),
    )
    d.wait_log("plugin faulty: version - active (replaced", start=n)
    press(harness, 36)
    wait_for(lambda: store_of(home, "faulty").get("fixed") == 1, 10, what="the fixed version")
    assert plugin_status(home, "faulty")["state"] != "suspended"


def _after_calls(home, name: str, counter: str):
    """The plugin's record once its ``counter`` moved (None before: wait_for tries again)."""
    rec = plugin_status(home, name)
    return rec if rec["counters"][counter] >= 1 else None
