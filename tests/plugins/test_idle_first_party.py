"""A first-party action plugin no mapping uses is loaded ``idle``: declared, compiled, no worker.

Its worker starts at its first call (which then runs ``initialize`` with the settings first) or
when the config maps it (``refresh``, right after a config swap). A user's plugin and a trigger
plugin still start at load.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from midimon.config.home import Home
from midimon.plugins.state import PluginState

IDLE = ("home_automation", "http_request", "spotify")  # first-party action plugins


def test_unused_first_party_plugins_have_no_worker_and_show_idle(manager, plugins_dir: Path) -> None:
    (plugins_dir / "mine.py").write_text("def execute(params, context):\n    return 1\n")
    m = manager()
    records = {r["name"]: r for r in m.list_json()}
    for name in IDLE:
        version = m.runtime.active[name]
        assert version.idle
        assert version.host.state["pid"] is None
        assert version.host.state["starts"] == 0
        assert records[name]["state"] == "idle"
        assert "execute" in version.decl.functions  # read from the source, without running it
    assert m.runtime.active["mine"].host.state["pid"] is not None  # a user's plugin: at load
    assert records["mine"]["state"] == "running"


def test_a_first_party_trigger_plugin_starts_at_load(manager, monkeypatch) -> None:
    from midimon.plugins import discovery

    monkeypatch.setattr(discovery, "FIRST_PARTY", (*discovery.FIRST_PARTY, "mqtt_listen"))
    m = manager()
    trigger = m.runtime.active["mqtt_listen"]  # it polls for events: it must run
    assert m.records["mqtt_listen"].candidate.first_party
    assert not trigger.idle and trigger.host.state["starts"] == 1


def test_mapping_an_idle_plugin_starts_its_worker(manager) -> None:
    m = manager()
    assert m.runtime.active["http_request"].idle
    m.mappings = lambda name: [{"mode": "Default", "index": 0, "line": 3}] if name == "http_request" else []
    m.refresh()  # what the daemon runs after a config swap
    version = m.runtime.active["http_request"]
    assert not version.idle
    assert version.host.state["pid"] is not None and version.host.state["starts"] == 1
    assert m.record_json("http_request")["state"] == "running"
    assert m.runtime.active["spotify"].idle  # still unmapped


def test_first_call_of_an_idle_plugin_starts_it_with_its_settings(home: Path, manager, http_server) -> None:
    PluginState(Home.at(home).plugin_state).update_plugin(
        "http_request",
        lambda e: e.update(
            grants={"network": {"scopes": {"hosts": [http_server.url]}}},
            settings={"headers": {"X-From-Settings": "yes"}},
        ),
    )
    m = manager()
    assert m.runtime.active["http_request"].idle
    status = m.plugin_call("http_request", {"url": http_server.url + "/hook", "body": {"a": 1}}, {"note": 36})
    assert status == 200
    assert len(http_server.requests) == 1
    sent = http_server.requests[0]
    # initialize() ran before the call: the header comes from the plugin's settings
    assert {k.lower(): v for k, v in sent["headers"].items()}.get("x-from-settings") == "yes"
    version = m.runtime.active["http_request"]
    assert not version.idle and version.host.state["starts"] == 1
    assert version.host.state["restarts"] == 0  # a first start, not a restart
    assert m.list_json()[[r["name"] for r in m.list_json()].index("http_request")]["state"] == "running"


def test_closing_an_idle_plugin_starts_nothing(manager) -> None:
    m = manager()
    hosts = [m.runtime.active[n].host for n in IDLE]
    m.close()
    assert all(h.state["starts"] == 0 for h in hosts)  # no worker forked just to shut down


def test_the_daemon_imports_no_client_library_for_idle_plugins(home: Path) -> None:
    """In a fresh interpreter: loading the plugins imports none of spotipy, httpx, paho (nor
    RestrictedPython: an idle plugin is compiled by its worker)."""
    code = textwrap.dedent(
        f"""
        import json, sys
        from midimon.config.home import Home
        from midimon.plugins.manager import PluginManager
        from midimon.sandbox import HostServices
        m = PluginManager(Home.at({str(home)!r}), services=HostServices(), publish=lambda k, d: None,
                          submit=lambda p, e, d: None, watch=False)
        m.start()
        idle = sorted(n for n, v in m.runtime.active.items() if v.idle)
        loaded = sorted(n for n in ("spotipy", "httpx", "paho", "requests", "RestrictedPython") if n in sys.modules)
        m.close()
        print(json.dumps({{"idle": idle, "loaded": loaded}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["idle"] == sorted(IDLE)
    assert result["loaded"] == []
