"""The plugin core over the control socket: hello, the change feed (watch), plugins.* commands,
recovery (resume, denial is not failure, a failed initialize() does not run, a restored file
clears the error) and readers that never wait on a busy plugin."""

from __future__ import annotations

import json
import threading
import time

import pytest
from livekit import LiveDaemon, modes_config
from testkit.jack import wait_for

from midimon.sandbox import Limits

LOOP = "def execute(params, context):\n    while True:\n        pass\n"
FINALLY = "def execute(params, context):\n    try:\n        pass\n    finally:\n        while True:\n            pass\n"
POW = "def execute(params, context):\n    return pow(10, 10**9)\n"
PRINTS = "def execute(params, context):\n    while True:\n        print('x' * 1000)\n"
OK = "def execute(params, context):\n    return 1\n"
SHELL = 'capabilities = ["subprocess"]\ndef execute(params, context):\n    return shell.run(["true"])\n'
BAD_INIT = (
    "def initialize(settings):\n    raise ValueError('no token set')\ndef execute(params, context):\n    return 1\n"
)


@pytest.fixture
def pd(short_home):
    """An in-process daemon with its socket and the plugin extension (no folder watcher)."""
    from midimon.engine.plugin_ext import PluginExtension

    made: list[LiveDaemon] = []

    def make(plugins: dict[str, str], call_timeout: float = 1.0) -> LiveDaemon:
        folder = short_home / "plugins"
        folder.mkdir(exist_ok=True)
        for name, src in plugins.items():
            (folder / f"{name}.py").write_text(src)
        d = LiveDaemon(short_home, modes_config("A"), watch=False)
        d.ext = PluginExtension(d.daemon, watch=False, limits=Limits(call_timeout=call_timeout, max_failures=5))
        d.daemon.add(d.ext)
        made.append(d)
        return d.start()

    yield make
    for d in made:
        d.stop()


def test_hello_says_protocol_and_commands(pd):
    d = pd({})
    with d.client() as c:
        hello = c.call("hello")
    assert hello["protocol"] == 1 and isinstance(hello["pid"], int)
    assert {"watch", "plugins.list", "plugins.resume", "plugins.config"} <= set(hello["commands"])


def test_watch_streams_changes_and_replays_since(pd):
    d = pd({"ok": OK})
    start = d.daemon.feed.seq
    with d.client() as c:
        c.call("mode", {"name": "A"})
        c.call("plugins.disable", {"name": "ok"})
    with d.client() as c:
        lines = list(c.stream("watch", {"since": start, "count": 2}))
    kinds = [line["change"]["kind"] for line in lines]
    assert "plugin" in kinds
    rec = next(line["change"]["data"] for line in lines if line["change"]["kind"] == "plugin")
    assert rec["name"] == "ok" and rec["state"] == "disabled" and rec["seq"] > 0
    seqs = [line["change"]["seq"] for line in lines]
    assert seqs == sorted(seqs) and seqs[0] > start


def test_watch_since_older_than_the_feed_holds_says_gap(pd):
    d = pd({})
    for i in range(2100):  # more than the feed keeps
        d.daemon.feed.publish("test", {"i": i})
    with d.client() as c:
        first = next(iter(c.stream("watch", {"since": 1, "count": 1})))
        assert first["change"]["seq"] > 2  # the oldest ones are gone
    sub = d.daemon.feed.subscribe(since=1)
    assert sub.gap is True
    sub.close()


def test_plugins_list_and_info_match_the_record_contract(pd):
    d = pd({"ok": OK})
    with d.client() as c:
        listed = c.call("plugins.list")
        info = c.call("plugins.info", {"name": "ok"})
    rec = next(p for p in listed["plugins"] if p["name"] == "ok")
    for key in ("name", "kind", "source", "path", "enabled", "state", "signature", "grants", "counters", "seq"):
        assert key in rec
    assert rec["state"] == "running" and rec["kind"] == "action" and rec["source"] == "file"
    assert info["name"] == "ok" and "recent_audit" in info


def test_enable_disable_bulk_takes_effect_before_the_answer(pd):
    d = pd({"ok": OK, "ok2": OK})
    with d.client() as c:
        out = c.call("plugins.disable", {"names": ["ok", "ok2"]})
        assert [r["plugin"]["state"] for r in out["results"]] == ["disabled", "disabled"]
        assert "ok" not in d.ext.manager.runtime.active
        c.call("plugins.enable", {"name": "ok"})
    assert "ok" in d.ext.manager.runtime.active


def test_dangerous_grant_over_the_socket_needs_yes(pd, short_home):
    d = pd({"sh": SHELL})
    with d.client() as c:
        refused = c.request("plugins.grant", {"name": "sh", "capability": "subprocess"})
        assert refused["ok"] is False and refused["error"]["code"] == "needs_confirmation"
        assert "--yes" in refused["error"]["message"]
        state = (short_home / "plugin-state.json").read_text() if (short_home / "plugin-state.json").exists() else ""
        assert "subprocess" not in state  # nothing was granted
        ok = c.call("plugins.grant", {"name": "sh", "capability": "subprocess", "yes": True})
    assert "subprocess" in ok["plugin"]["grants"]


def test_a_denial_is_not_a_failure_and_shows_the_grant_command(pd):
    d = pd({"sh": SHELL})
    m = d.ext.manager
    for _ in range(7):  # more than max_failures
        with pytest.raises(Exception, match="not granted"):
            m.plugin_call("sh", {}, {})
    host = m.runtime.active["sh"].host.state
    assert host["status"] != "suspended" and host["consecutive_failures"] == 0 and host["denials"] == 7
    m.sync("test")
    rec = m.record_json("sh")
    assert rec["state"] == "needs_grant"
    req = rec["pending_requests"][0]
    assert req["count"] == 7 and req["command"].startswith("midimon plugins grant sh subprocess")


def test_resume_lifts_a_suspension(pd):
    d = pd({"bad": "def execute(params, context):\n    raise ValueError('x')\n"})
    m = d.ext.manager
    for _ in range(5):
        with pytest.raises(Exception):
            m.plugin_call("bad", {}, {})
    with d.client() as c:
        assert c.call("plugins.info", {"name": "bad"})["state"] == "suspended"
        out = c.call("plugins.resume", {"name": "bad"})
    assert out["resumed"] is True and out["plugin"]["state"] == "running"
    with pytest.raises(Exception, match="ValueError"):  # it runs again (and fails on its own)
        m.plugin_call("bad", {}, {})


def test_a_failed_initialize_keeps_the_plugin_from_running(pd, short_home):
    d = pd({"needy": BAD_INIT})
    m = d.ext.manager
    with pytest.raises(Exception, match="not running: initialize"):
        m.plugin_call("needy", {}, {})
    rec = m.record_json("needy")
    assert rec["state"] == "error" and "no token set" in rec["error"]["message"]
    # fixed on disk and a settings change: retried
    (short_home / "plugins" / "needy.py").write_text(OK)
    m.sync("edit")
    assert m.plugin_call("needy", {}, {}) == 1 and m.record_json("needy")["error"] is None


def test_a_file_restored_to_the_running_bytes_clears_the_error(pd, short_home):
    d = pd({"ok": OK})
    m = d.ext.manager
    path = short_home / "plugins" / "ok.py"
    path.write_text("def execute(params, context):\n    return (\n")
    m.sync("edit")
    rec = m.record_json("ok")
    assert rec["error"] is not None and rec["failed_version"] is not None and rec["state"] == "running"
    path.write_text(OK)
    m.sync("restore")
    assert m.record_json("ok")["error"] is None and m.record_json("ok")["failed_version"] is None


@pytest.mark.parametrize("source", [LOOP, FINALLY, POW, PRINTS], ids=["loop", "finally", "pow", "print-flood"])
def test_nothing_waits_on_a_busy_plugin(pd, source):
    d = pd({"busy": source, "ok": OK}, call_timeout=3.0)
    m = d.ext.manager
    t = threading.Thread(target=lambda: _swallow(lambda: m.plugin_call("busy", {}, {})), daemon=True)
    t.start()
    wait_for(lambda: m.runtime.active["busy"].host.state["calls"] >= 1, 5, what="the busy call")
    time.sleep(0.2)
    with d.client() as c:
        for command, args in (
            ("status", {}),
            ("plugins.list", {}),
            ("plugins.info", {"name": "busy"}),
            ("plugins.disable", {"name": "ok"}),
            ("plugins.enable", {"name": "ok"}),
        ):
            t0 = time.monotonic()
            c.call(command, args)
            # the call runs for 3 s; a reader that waited on it would take that long
            assert time.monotonic() - t0 < 1.5, command
    t.join(10)


def _swallow(fn):
    try:
        fn()
    except Exception:
        pass


BROKEN = "def execute(params, context):\n    return (\n"


def _cli(capsys, *argv: str) -> str:
    from midimon.engine.cli import main

    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def test_status_in_words_shows_plugin_errors_with_file_and_line(pd, capsys):
    d = pd({"broken": BROKEN, "ok": OK})
    out = _cli(capsys, "status", "--socket", str(d.socket))
    assert "plugins needing attention:" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("broken:"))
    assert "ERROR" in line and "broken.py:2" in line


def test_plugins_list_in_words_shows_kind_version_state_and_one_error(pd, capsys):
    pd({"broken": BROKEN, "ok": OK})
    # plugins list finds the daemon through MIDIMON_HOME, like a user's shell
    out = _cli(capsys, "plugins", "list")
    assert "daemon running" in out
    lines = out.splitlines()
    broken = [x for x in lines if "broken" in x]
    assert broken[0].split()[1:4] == ["-", "-", "ERROR"]  # no kind, no version, the state
    assert sum("broken.py:2" in x for x in lines) == 1  # the error once
    assert "trusted" not in broken[0]
    ok = next(x for x in lines if x.strip().startswith("ok "))
    assert ok.split()[1] == "action" and ok.split()[-1] == "running"


def test_plugins_info_in_words_is_a_page_and_json_keeps_the_record(pd, capsys):
    pd({"sh": SHELL})
    page = _cli(capsys, "plugins", "info", "sh")
    assert page.startswith("sh (action plugin)")
    assert "state:" in page and "subprocess" in page and "not granted: midimon plugins grant sh subprocess" in page
    assert "{" not in page  # not a dump
    data = json.loads(_cli(capsys, "plugins", "info", "sh", "--json"))
    assert data["name"] == "sh" and "capabilities_requested" in data and "seq" in data


def test_repeated_denials_are_one_permission_request_and_counters_go_out_at_most_once_a_second(pd):
    d = pd({"sh": SHELL})
    seen: list = []
    d.daemon.feed.listeners.append(lambda ch: seen.append((ch.kind, ch.time, ch.data)))
    m = d.ext.manager
    for _ in range(4):
        with pytest.raises(Exception, match="not granted"):
            m.plugin_call("sh", {}, {})
    requests = [data for kind, _t, data in seen if kind == "permission_request"]
    assert len(requests) == 1 and requests[0]["capability"] == "subprocess"
    wait_for(lambda: [k for k, _t, _d in seen if k == "counters"], 5, what="a counters sample")
    time.sleep(2.5)  # a few sampling periods
    stamps = [t for kind, t, _d in seen if kind == "counters"]
    assert all(b - a >= 0.9 for a, b in zip(stamps, stamps[1:])), stamps
    wait_for(lambda: m.record_json("sh")["pending_requests"], 5, what="the request in the record")
    assert m.record_json("sh")["pending_requests"][0]["count"] == 4


def test_midimon_watch_prints_the_feed(pd, capsys):
    d = pd({"ok": OK})
    since = d.daemon.feed.seq
    with d.client() as c:
        c.call("plugins.disable", {"name": "ok"})
    out = _cli(capsys, "watch", "--since", str(since), "--count", "1", "--socket", str(d.socket))
    assert "plugin ok: disabled" in out


def test_a_slow_watcher_never_slows_the_daemon(pd):
    d = pd({})
    sub = d.daemon.feed.subscribe()  # a subscriber that never reads
    t0 = time.monotonic()
    for i in range(5000):
        d.daemon.feed.publish("test", {"i": i})
    assert time.monotonic() - t0 < 5.0  # 5,000 publishes: milliseconds; a blocked one would hang
    assert sub.dropped > 0 and sub.gap is True
    sub.close()


def test_there_is_no_status_file_any_more(pd, short_home):
    pd({"ok": OK})
    assert not list(short_home.rglob("plugins-status.json"))


def test_restart_over_the_socket_stops_the_daemon_for_a_re_exec(pd):
    d = pd({})
    with d.client() as c:
        out = c.call("restart", {"safe_mode": True})
    assert out["restarting"] is True and out["safe_mode"] is True
    assert d.daemon.wait(10) and d.daemon.restart_requested is True


def test_a_record_says_where_the_config_uses_the_plugin(short_home, pd):
    from livekit import BASE

    d = pd({"ok": OK})
    text = BASE + (
        '[[modes]]\nname = "A"\n[[modes.mappings]]\ndescription = "hit it"\n'
        'trigger = { type = "Note", note = 36 }\naction = { type = "Plugin", plugin = "ok" }\n'
    )
    d.config.write_text(text)
    assert d.daemon.reload()["ok"]  # a config save: the record follows without a plugin rescan
    wait_for(lambda: d.ext.manager.record_json("ok")["mappings"], 5, what="the record to follow the config")
    (where,) = d.ext.manager.record_json("ok")["mappings"]
    line = text.splitlines().index("[[modes.mappings]]") + 1
    assert where == {"mode": "A", "index": 0, "line": line, "description": "hit it"}


CONFIGURED = """config_schema = {
    "type": "object",
    "properties": {"port": {"type": "integer"}, "token": {"type": "string", "secret": True}},
}
def initialize(settings):
    store.set("seen", settings)
def execute(params, context):
    return store.get("seen")
"""


def test_plugins_config_validates_saves_and_never_returns_a_secret(pd, short_home):
    d = pd({"conf": CONFIGURED})
    with d.client() as c:
        bad = c.request("plugins.config", {"name": "conf", "settings": {"port": "eighty"}})
        assert bad["ok"] is False and bad["error"]["code"] == "invalid_settings"
        assert bad["error"]["errors"][0]["path"] == ["port"]
        saved = c.call("plugins.config", {"name": "conf", "settings": {"port": 80, "token": "s3cret"}})
        assert saved["settings"] == {"port": 80, "token": {"set": True}}
        again = c.call("plugins.config", {"name": "conf", "settings": {"port": 81, "token": {"set": True}}})
        shown = c.call("plugins.info", {"name": "conf"})
    assert again["settings"]["token"] == {"set": True}
    assert "s3cret" not in json.dumps(shown) and shown["settings"]["token"] == {"set": True}
    # the plugin got the real value, and the kept secret survived the second save
    assert d.ext.manager.plugin_call("conf", {}, {}) == {"port": 81, "token": "s3cret"}
    assert "eighty" not in (short_home / "plugin-state.json").read_text()


def test_install_limits_and_uninstall_over_the_socket(pd, tmp_path):
    d = pd({})
    src = tmp_path / "fresh.py"
    src.write_text(OK)
    removed: list = []
    d.daemon.feed.listeners.append(lambda ch: removed.append(ch.data) if ch.kind == "plugin_removed" else None)
    m = d.ext.manager
    with d.client() as c:
        out = c.call("plugins.install", {"path": str(src)})
        assert out["installed"] == "fresh" and out["plugin"]["state"] == "running"
        assert m.plugin_call("fresh", {}, {}) == 1
        lim = c.call("plugins.limits", {"name": "fresh", "timeout_ms": 250, "memory_mb": 128})
        assert lim["limits"] == {"timeout_ms": 250, "memory_mb": 128}
        host = m.runtime.active["fresh"].host
        assert host.limits.call_timeout == 0.25 and host.limits.memory_bytes == 128 * 1024 * 1024
        refused = c.request("plugins.limits", {"name": "fresh", "timeout_ms": -5})
        assert refused["ok"] is False and refused["error"]["code"] == "bad_args"
        c.call("plugins.uninstall", {"name": "fresh"})
    assert "fresh" not in m.runtime.active and m.record_json("fresh") is None
    assert {"name": "fresh"} in removed


def test_the_cli_asks_the_running_daemon(pd, capsys):
    d = pd({"ok": OK})  # no folder watcher: only the socket can make the daemon act at once
    m = d.ext.manager
    out = json.loads(_cli(capsys, "plugins", "disable", "ok", "--json"))
    assert out["plugin"]["state"] == "disabled" and "ok" not in m.runtime.active
    listed = json.loads(_cli(capsys, "plugins", "list", "--json"))
    assert listed["daemon_running"] is True
    with d.client() as c:
        assert c.call("plugins.list")["plugins"] == listed["plugins"]  # the same result
