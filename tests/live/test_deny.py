"""``plugins.deny``: the user's "Deny" dismisses a pending permission request in the daemon.

The request leaves ``pending_requests`` (and the feed says so), the same denial is counted but
not asked again, nothing is granted, and an edit of the plugin makes it news again."""

from __future__ import annotations

import pytest
from livekit import LiveDaemon, modes_config
from testkit.jack import wait_for

from midimon.sandbox import Limits

SHELL = 'capabilities = ["subprocess"]\ndef execute(params, context):\n    return shell.run(["true"])\n'


@pytest.fixture
def pd(short_home):
    from midimon.engine.plugin_ext import PluginExtension

    made: list[LiveDaemon] = []

    def make(plugins: dict[str, str]) -> LiveDaemon:
        folder = short_home / "plugins"
        folder.mkdir(exist_ok=True)
        for name, src in plugins.items():
            (folder / f"{name}.py").write_text(src)
        d = LiveDaemon(short_home, modes_config("A"), watch=False)
        d.ext = PluginExtension(d.daemon, watch=False, limits=Limits(call_timeout=2.0, max_failures=5))
        d.daemon.add(d.ext)
        made.append(d)
        return d.start()

    yield make
    for d in made:
        d.stop()


def _denied(d: LiveDaemon, name: str, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(Exception, match="not granted"):
            d.ext.manager.plugin_call(name, {}, {})


def test_deny_removes_the_request_and_it_is_not_asked_again(pd, short_home):
    d = pd({"sh": SHELL})
    seen: list[tuple[str, dict]] = []
    d.daemon.feed.listeners.append(lambda ch: seen.append((ch.kind, ch.data)))
    _denied(d, "sh")
    with d.client() as c:
        wait_for(lambda: c.call("plugins.info", {"name": "sh"})["pending_requests"], 5, what="the request")
        [req] = c.call("plugins.info", {"name": "sh"})["pending_requests"]
        before = len(seen)
        out = c.call("plugins.deny", {"name": "sh", "capability": req["capability"], "scope": req["scope"]})
        assert out["denied"] == [{"capability": "subprocess", "scope": req["scope"]}]
        assert out["plugin"]["pending_requests"] == []
        info = c.call("plugins.info", {"name": "sh"})
    assert info["pending_requests"] == [] and "subprocess" not in info["grants"]
    # the feed published the record change
    records = [data for kind, data in seen[before:] if kind == "plugin" and data["name"] == "sh"]
    assert records and records[-1]["pending_requests"] == []

    # the same denial again: counted by the host, silent for the user
    requests_before = sum(1 for kind, _ in seen if kind == "permission_request")
    denials = d.ext.manager.runtime.active["sh"].host.state["denials"]
    _denied(d, "sh", 3)
    d.ext.manager.sync("test")
    assert d.ext.manager.runtime.active["sh"].host.state["denials"] == denials + 3
    assert sum(1 for kind, _ in seen if kind == "permission_request") == requests_before
    assert d.ext.manager.record_json("sh")["pending_requests"] == []
    assert d.ext.manager._requests.denied_counts("sh") == {("subprocess", req["scope"]): 3}
    state = short_home / "plugin-state.json"
    assert not state.exists() or "subprocess" not in state.read_text()  # nothing was granted

    # the plugin edited: a new version, its request is news again
    (short_home / "plugins" / "sh.py").write_text(SHELL + "# edited\n")
    d.ext.manager.sync("test")
    _denied(d, "sh")
    d.ext.manager.sync("test")
    assert [r["capability"] for r in d.ext.manager.record_json("sh")["pending_requests"]] == ["subprocess"]


def test_deny_without_scope_dismisses_every_request_of_the_capability(pd):
    d = pd({"sh": SHELL})
    _denied(d, "sh")
    d.ext.manager.sync("test")
    with d.client() as c:
        out = c.call("plugins.deny", {"name": "sh", "capability": "subprocess"})
        assert [x["capability"] for x in out["denied"]] == ["subprocess"]
        assert c.call("plugins.info", {"name": "sh"})["pending_requests"] == []


def test_deny_checks_its_arguments(pd):
    d = pd({"sh": SHELL})
    with d.client() as c:
        with pytest.raises(Exception, match="capability"):
            c.call("plugins.deny", {"name": "sh"})
        with pytest.raises(Exception, match="no plugin named|nope"):
            c.call("plugins.deny", {"name": "nope", "capability": "subprocess"})
        with pytest.raises(Exception, match="scope"):
            c.call("plugins.deny", {"name": "sh", "capability": "subprocess", "scope": 3})


def test_the_cli_denies_through_the_daemon_and_prints_one_json_document(pd, capsys):
    import json

    from midimon.engine.cli import main

    d = pd({"sh": SHELL})
    _denied(d, "sh")
    d.ext.manager.sync("test")
    [req] = d.ext.manager.record_json("sh")["pending_requests"]
    code = main(["plugins", "deny", "sh", "subprocess", "--scope", req["scope"], "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] is True and out["plugin"]["pending_requests"] == []
    assert d.ext.manager.record_json("sh")["pending_requests"] == []
    code = main(["plugins", "info", "sh", "--json"])
    info = json.loads(capsys.readouterr().out)
    assert code == 0 and info["pending_requests"] == [] and "subprocess" not in info["grants"]


def test_the_cli_without_a_daemon_says_nothing_is_pending(short_home, capsys):
    from midimon.engine.cli import main

    (short_home / "plugins").mkdir()
    (short_home / "plugins" / "sh.py").write_text(SHELL)
    code = main(["plugins", "deny", "sh", "subprocess"])
    captured = capsys.readouterr()
    assert code != 0 and "not running" in captured.err and "Traceback" not in captured.err
