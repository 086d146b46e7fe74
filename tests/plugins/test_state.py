"""The state file: atomic, persistent, corrupt files moved aside, and stores that survive."""

from __future__ import annotations

import json

from pluginkit import store_of, write

from midimon.config.home import Home
from midimon.plugins.state import PluginState


def test_decisions_persist_across_instances(home):
    s = PluginState(Home.from_env().plugin_state)
    s.update_plugin("a", lambda e: e.update(enabled=False, settings={"k": 1}))
    again = PluginState(Home.from_env().plugin_state)
    assert again.entry("a") == {"enabled": False, "grants": {}, "settings": {"k": 1}}
    assert again.entry("unknown")["enabled"] is True


def test_write_is_atomic_and_leaves_no_temporary(home):
    s = PluginState(Home.from_env().plugin_state)
    for i in range(20):
        s.update(lambda d, i=i: d.__setitem__("signature_policy", "warn" if i % 2 else "allow"))
    assert json.loads(s.path.read_text())["signature_policy"] == "warn"
    assert [p.name for p in home.iterdir() if p.name.startswith(".")] == []


def test_corrupt_file_is_moved_aside_with_a_warning(home):
    path = home / "plugin-state.json"
    path.write_text("{ not json")
    s = PluginState(Home.from_env().plugin_state)
    assert s.entry("x")["enabled"] is True and s.warnings
    aside = [p for p in home.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_text() == "{ not json"
    s.update_plugin("x", lambda e: e.__setitem__("enabled", False))
    assert PluginState(Home.from_env().plugin_state).enabled("x") is False


def test_refresh_sees_changes_from_another_process(home):
    a, b = PluginState(Home.from_env().plugin_state), PluginState(Home.from_env().plugin_state)
    b.update_plugin("p", lambda e: e.__setitem__("enabled", False))
    assert a.refresh() is True and a.enabled("p") is False
    assert a.refresh() is False


def test_store_survives_reload_and_restart(home, plugins_dir, manager):
    src = 'def execute(params, context):\n    store.set("n", store.get("n", 0) + 1)\n    return store.get("n")\n'
    write(plugins_dir / "counter.py", src)
    m = manager()
    assert m.plugin_call("counter", {}, {}) == 1
    first = m.runtime.active["counter"].generation
    write(plugins_dir / "counter.py", src + "# edited\n")
    m.sync("test")
    assert m.runtime.active["counter"].generation > first  # a new version (first-party ones count too)
    assert m.plugin_call("counter", {}, {}) == 2
    m.close()
    m2 = manager()
    assert m2.plugin_call("counter", {}, {}) == 3
    assert store_of(home, "counter") == {"n": 3}
