"""Plugin actions and triggers inside the real engine: config checks, context, dispatch, errors."""

from __future__ import annotations

import threading
import time

import pytest
from pluginkit import store_of, write
from testkit.jack import wait_for

from midimon.config import ConfigError, load_config
from midimon.config.home import Home
from midimon.engine import events as E
from midimon.engine.actions import ActionRunner
from midimon.engine.loop import Engine
from midimon.engine.table import compile_table
from midimon.plugins import config_checks
from midimon.plugins import operations as ops

RECORD = """params_schema = {"type": "object", "properties": {"tag": {"type": "string"}, "n": {"type": "integer", "maximum": 10}},
                 "additionalProperties": False}
def execute(params, context):
    store.set("calls", store.get("calls", []) + [{"params": params, "context": context}])
    return True
"""


def mapping(action: str, trigger: str = '{ type = "Note", note = 36 }', desc: str = "pad") -> str:
    return f'[[modes]]\nname = "Play"\n[[modes.mappings]]\ndescription = "{desc}"\ntrigger = {trigger}\naction = {action}\n'


@pytest.fixture
def engine_with(manager):
    made = []

    def make(toml: str, **mkw):
        m = manager(**mkw)
        config_checks.set_live(m)
        result = load_config("test.toml", text=toml, checks=config_checks.checks(Home.from_env()))
        eng = Engine(compile_table(result.config))
        eng.runner = ActionRunner(eng, plugins=m.plugin_call)
        m.submit = lambda p, n, d: eng.submit(E.Event(E.PLUGIN, device=p, name=n, data=d))
        eng.start()
        made.append(eng)
        return eng, m, result

    yield make
    for eng in made:
        eng.stop()
    config_checks.set_live(None)


def calls(home, name="rec"):
    return store_of(home, name).get("calls", [])


def test_a_note_runs_the_plugin_with_params_and_context(plugins_dir, engine_with, home):
    write(plugins_dir / "rec.py", RECORD)
    eng, m, _ = engine_with(mapping('{ type = "Plugin", plugin = "rec", params = { tag = "x" } }'))
    eng.submit(E.Event(E.NOTE_ON, channel=2, note=36, velocity=99, device="pads"))
    wait_for(lambda: calls(home), 5, what="the call")
    c = calls(home)[0]
    assert c["params"] == {"tag": "x"}
    ctx = c["context"]
    assert (ctx["note"], ctx["velocity"], ctx["channel"], ctx["device"], ctx["mode"]) == (36, 99, 2, "pads", "Play")
    assert ctx["trigger_type"] == "Note" and ctx["mapping_description"] == "pad" and ctx["timestamp"] > 0


def test_cc_context_has_cc_and_value(plugins_dir, engine_with, home):
    write(plugins_dir / "rec.py", RECORD)
    eng, m, _ = engine_with(mapping('{ type = "Plugin", plugin = "rec" }', '{ type = "CC", cc = 7 }'))
    eng.submit(E.Event(E.CC, control=7, value=64))
    wait_for(lambda: calls(home), 5, what="the call")
    ctx = calls(home)[0]["context"]
    assert (ctx["cc"], ctx["value"], ctx["note"], ctx["velocity"]) == (7, 64, None, None)


def test_params_are_validated_at_load_with_their_line(plugins_dir, manager):
    write(plugins_dir / "rec.py", RECORD)
    config_checks.set_live(manager())
    try:
        with pytest.raises(ConfigError) as exc:
            load_config(
                "c.toml",
                text=mapping('{ type = "Plugin", plugin = "rec", params = { n = 11 } }'),
                checks=config_checks.checks(Home.from_env()),
            )
    finally:
        config_checks.set_live(None)
    d = exc.value.diagnostics[0]
    assert d.line == 6 and "params.n" in d.key and "11 is greater than the maximum of 10" in d.message


def test_params_validation_without_a_daemon_reads_the_folder(plugins_dir, home):
    write(plugins_dir / "rec.py", RECORD)
    with pytest.raises(ConfigError, match="Additional properties"):
        load_config(
            "c.toml",
            text=mapping('{ type = "Plugin", plugin = "rec", params = { nope = 1 } }'),
            checks=config_checks.checks(Home.from_env()),
        )
    load_config(
        "c.toml",
        text=mapping('{ type = "Plugin", plugin = "rec", params = { tag = "ok" } }'),
        checks=config_checks.checks(Home.from_env()),
    )


def test_missing_plugin_is_a_warning_at_load(plugins_dir, home):
    r = load_config(
        "c.toml", text=mapping('{ type = "Plugin", plugin = "ghost" }'), checks=config_checks.checks(Home.from_env())
    )
    assert "plugin 'ghost' is not installed" in str(r.warnings[0])


def test_disabled_plugin_is_a_warning_at_load_and_a_clear_error_at_the_press(plugins_dir, engine_with, home):
    write(plugins_dir / "rec.py", RECORD)
    ops.set_enabled(Home.from_env(), "rec", False)
    eng, m, result = engine_with(mapping('{ type = "Plugin", plugin = "rec" }'))
    assert "disabled" in str(result.warnings[0])
    eng.submit(E.Event(E.NOTE_ON, note=36, velocity=1))
    wait_for(lambda: eng.stats.to_json().get("recent_errors"), 5, what="the error")
    assert "plugin 'rec' is disabled (enable it with: midimon plugins enable rec)" in str(
        eng.stats.to_json()["recent_errors"]
    )


def test_broken_plugin_is_a_warning_with_its_location(plugins_dir, manager):
    write(plugins_dir / "rec.py", "def execute(params, context):\n    return (\n")
    config_checks.set_live(manager())
    try:
        r = load_config(
            "c.toml", text=mapping('{ type = "Plugin", plugin = "rec" }'), checks=config_checks.checks(Home.from_env())
        )
    finally:
        config_checks.set_live(None)
    assert "rec.py:2:" in str(r.warnings[0])


def test_trigger_plugin_mapped_as_action_and_action_as_trigger_warn(plugins_dir, home):
    write(plugins_dir / "rec.py", RECORD)
    write(plugins_dir / "tick.py", "def poll_events():\n    return []\n")
    toml = mapping('{ type = "Plugin", plugin = "tick" }', '{ type = "Plugin", plugin = "rec", event = "x" }')
    r = load_config("c.toml", text=toml, checks=config_checks.checks(Home.from_env()))
    text = " ".join(str(w) for w in r.warnings)
    assert "'tick' is a trigger plugin" in text and "'rec' is an action plugin" in text


def test_plugin_exception_is_logged_and_counted_not_raised(plugins_dir, engine_with):
    write(plugins_dir / "bad.py", "def execute(params, context):\n    raise ValueError('nope')\n")
    eng, m, _ = engine_with(mapping('{ type = "Plugin", plugin = "bad" }'))
    eng.submit(E.Event(E.NOTE_ON, note=36, velocity=1))
    wait_for(lambda: eng.stats.to_json().get("recent_errors"), 5, what="the error")
    assert "bad.py:2: ValueError: nope" in str(eng.stats.to_json()["recent_errors"])


def test_a_slow_plugin_does_not_delay_other_mappings(plugins_dir, engine_with, home):
    write(plugins_dir / "slow.py", "import time\ndef execute(params, context):\n    time.sleep(1)\n")
    write(plugins_dir / "rec.py", RECORD)
    toml = (
        mapping('{ type = "Plugin", plugin = "slow" }')
        + '[[modes.mappings]]\ntrigger = { type = "Note", note = 37 }\naction = { type = "Plugin", plugin = "rec" }\n'
    )
    eng, m, _ = engine_with(toml)
    eng.submit(E.Event(E.NOTE_ON, note=36, velocity=1))
    t0 = time.monotonic()
    eng.submit(E.Event(E.NOTE_ON, note=37, velocity=1))
    wait_for(lambda: calls(home), 5, what="the fast plugin")
    assert time.monotonic() - t0 < 0.8


def test_plugin_action_inside_a_sequence(plugins_dir, engine_with, home):
    write(plugins_dir / "rec.py", RECORD)
    eng, m, _ = engine_with(
        mapping(
            '{ type = "Sequence", actions = [ { type = "Plugin", plugin = "rec", params = { tag = "a" } }, { type = "Plugin", plugin = "rec", params = { tag = "b" } } ] }'
        )
    )
    eng.submit(E.Event(E.NOTE_ON, note=36, velocity=1))
    wait_for(lambda: len(calls(home)) == 2, 5, what="two calls")
    assert [c["params"]["tag"] for c in calls(home)] == ["a", "b"]


def test_trigger_plugin_events_go_through_match(plugins_dir, engine_with, home):
    write(plugins_dir / "rec.py", RECORD)
    write(
        plugins_dir / "btn.py",
        """poll_interval_ms = 20
def initialize(config):
    store.set("sent", False)
def poll_events():
    if store.get("sent"):
        return []
    store.set("sent", True)
    return [{"event": "button", "data": {"id": 1}}, {"event": "button", "data": {"id": 2}}, {"event": "other", "data": {"id": 2}}]
""",
    )
    eng, m, _ = engine_with(
        mapping(
            '{ type = "Plugin", plugin = "rec", params = { tag = "two" } }',
            '{ type = "Plugin", plugin = "btn", event = "button", match = { id = 2 } }',
        )
    )
    # the first poll ran at load, before or after the engine was wired (a race of the fixture):
    # let it land, then count only what the re-armed poll delivers
    wait_for(lambda: m.events or calls(home), 5, what="the first poll")
    time.sleep(0.2)
    before = len(calls(home))
    m.runtime.call("btn", "initialize", {})  # re-arm now that events reach the engine
    wait_for(lambda: len(calls(home)) > before, 5, what="the mapped event")
    time.sleep(0.2)
    assert len(calls(home)) == before + 1  # one of the three events matches
    ctx = calls(home)[-1]["context"]
    assert ctx["event"] == "button" and ctx["data"] == {"id": 2} and ctx["device"] == "btn"


def test_concurrent_presses_are_all_handled(plugins_dir, engine_with, home):
    write(plugins_dir / "cnt.py", "def execute(params, context):\n    return context['note']\n")
    eng, m, _ = engine_with(mapping('{ type = "Plugin", plugin = "cnt" }'))
    results = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(m.plugin_call("cnt", {}, {"note": i}))) for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == list(range(20))


def test_a_plugin_returning_non_plain_data_is_an_error(plugins_dir, manager):
    from midimon.plugins.errors import PluginActionError as ActionError

    write(plugins_dir / "odd.py", "def execute(params, context):\n    return {1, 2}\n")
    m = manager()
    with pytest.raises(ActionError, match="plain data"):
        m.plugin_call("odd", {}, {})


def test_a_crashing_worker_restarts_on_the_next_call(plugins_dir, manager):
    from midimon.plugins.errors import PluginActionError as ActionError
    from midimon.sandbox import Limits

    write(
        plugins_dir / "hog.py",
        "def execute(params, context):\n    if params.get('hog'):\n        x = 'a' * (1024 * 1024 * 1024)\n    return 'ok'\n",
    )
    m = manager(limits=Limits(call_timeout=3.0, memory_bytes=128 * 1024 * 1024))
    with pytest.raises(ActionError):
        m.plugin_call("hog", {"hog": True}, {})
    assert m.plugin_call("hog", {}, {}) == "ok"
