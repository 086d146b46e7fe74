"""Idle first-party plugins in a running daemon: the config decides which of them get a worker.

At start the plugins load before the first config, so every first-party action plugin loads
idle; right after the engine starts, the ones the config maps get their worker (off the event
path). A config reload that maps another one starts it just after the swap; `plugins.list`
over the socket shows each state.
"""

from __future__ import annotations

import pytest
from livekit import LiveDaemon, modes_config
from testkit.jack import wait_for

from midimon.sandbox import Limits

HTTP = """
[[modes.mappings]]
trigger = { type = "Note", note = 40 }
action = { type = "Plugin", plugin = "http_request", params = { url = "http://127.0.0.1:9/hook" } }
"""
SPOTIFY = """
[[modes.mappings]]
trigger = { type = "Note", note = 41 }
action = { type = "Plugin", plugin = "spotify", params = { action = "play_pause" } }
"""


@pytest.fixture
def daemon(short_home):
    from midimon.engine.plugin_ext import PluginExtension

    made: list[LiveDaemon] = []

    def make(config: str) -> LiveDaemon:
        (short_home / "plugins").mkdir(exist_ok=True)
        d = LiveDaemon(short_home, config, watch=False)
        d.ext = PluginExtension(d.daemon, watch=False, limits=Limits(call_timeout=2.0))
        d.daemon.add(d.ext)
        made.append(d)
        return d.start()

    yield make
    for d in made:
        d.stop()


def states(d: LiveDaemon) -> dict[str, str]:
    with d.client() as c:
        return {r["name"]: r["state"] for r in c.call("plugins.list")["plugins"]}


def test_a_mapped_first_party_plugin_starts_and_the_others_stay_idle(daemon) -> None:
    d = daemon(modes_config("A", extra=HTTP))
    runtime = d.ext.manager.runtime
    wait_for(lambda: runtime.active["http_request"].host.state["status"] == "running", what="http_request started")
    assert runtime.active["http_request"].host.state["pid"] is not None
    assert runtime.active["spotify"].idle and runtime.active["home_automation"].idle
    wait_for(lambda: states(d).get("http_request") == "running", what="http_request shown running")
    shown = states(d)
    assert shown["spotify"] == "idle" and shown["home_automation"] == "idle"


def test_a_reload_that_maps_an_idle_plugin_starts_it(daemon) -> None:
    d = daemon(modes_config("A"))
    runtime = d.ext.manager.runtime
    assert runtime.active["spotify"].idle
    d.config.write_text(modes_config("A", extra=SPOTIFY))
    with d.client() as c:
        assert c.call("reload")["ok"]
    wait_for(lambda: runtime.active["spotify"].host.state["status"] == "running", what="spotify started")
    assert runtime.active["spotify"].host.state["starts"] == 1
    assert runtime.active["http_request"].idle  # still unmapped
    wait_for(lambda: states(d).get("spotify") == "running", what="spotify shown running")
