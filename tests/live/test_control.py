"""The control socket: every command, and abuse that must not disturb the daemon."""

import json
import os
import socket
import stat
import threading
import time

import pytest
from livekit import modes_config, wait_for


@pytest.fixture
def d(live_daemon):
    return live_daemon(modes_config("A", "B"))


class Raw:
    """A bare socket with a line buffer, to send what no polite client would."""

    def __init__(self, d, timeout=5.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(str(d.socket))
        self.buf = b""

    def __getattr__(self, name):
        return getattr(self.s, name)

    def line(self) -> dict:
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed after {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)


def raw(d, timeout=5.0):
    return Raw(d, timeout)


def read_line(s) -> dict:
    return s.line()


def ping_ok(d) -> bool:
    with d.client(timeout=5) as c:
        return c.call("ping")["pong"] is True


def test_socket_and_folder_permissions(d):
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d.socket.parent).st_mode) == 0o700
    assert stat.S_ISSOCK(os.stat(d.socket).st_mode)


def test_answers_carry_the_request_id(d):
    s = raw(d)
    s.sendall(b'{"id": "abc", "command": "ping"}\n{"id": 7, "command": "mode", "args": {}}\n')
    a, b = read_line(s), read_line(s)
    assert a["id"] == "abc" and a["ok"] and a["result"]["pong"]
    assert b == {"id": 7, "ok": True, "result": {"mode": "A", "modes": ["A", "B"]}}


def test_status_has_what_the_issue_lists(d):
    with d.client() as c:
        st = c.call("status")
    for key in (
        "uptime_s",
        "config",
        "config_sha256",
        "last_reload",
        "mode",
        "devices",
        "events_per_second",
        "recent_errors",
        "watcher",
        "pid",
    ):
        assert key in st, key
    assert st["devices"][0]["state"] == "connected" and st["devices"][0]["port"] == "pads"


def test_mode_switch_and_unknown_mode(d):
    with d.client() as c:
        assert c.call("mode", {"name": "B"})["mode"] == "B"
        assert d.marker() == 1
        a = c.request("mode", {"name": "Nope"})
        assert a["ok"] is False and a["error"]["code"] == "no_such_mode"
        assert c.call("mode")["mode"] == "B"


def test_send_injects_an_event_like_the_device(d):
    with d.client() as c:
        c.call("send", {"type": "note_on", "note": 36, "velocity": 100})
        wait_for(lambda: len(d.sink()) == 1, 5, what="the mapping to fire")
        for kind, fields in [
            ("control_change", {"control": 7, "value": 3}),
            ("pitchwheel", {"pitch": -100}),
            ("aftertouch", {"value": 5}),
            ("polytouch", {"note": 3, "value": 5}),
            ("program_change", {"program": 4}),
            ("sysex", {"data": [1, 2]}),
            ("note_off", {"note": 36}),
        ]:
            assert c.call("send", {"type": kind, **fields})["sent"]["type"] == kind
        bad = c.request("send", {"type": "note_on", "note": 300})
        assert bad["error"]["code"] == "bad_args" and "note" in bad["error"]["message"]
    wait_for(lambda: d.daemon.engine.stats.events == 8, 5, what="eight events")


def test_reload_command_reports_phases_or_the_error(d):
    with d.client() as c:
        out = c.call("reload")
        assert out["ok"] and "load_validate_compile_ms" in out["phase_ms"] and "swap_ms" in out["phase_ms"]
        d.live.watcher.close()  # keep the watcher out of this one
        d.config.write_text(modes_config("A").replace("note = 36 }", "note = -1 }"))
        a = c.request("reload")
        assert a["ok"] is False and a["error"]["code"] == "reload_failed"
        assert f"{d.config}:" in a["error"]["message"] and "trigger" in a["error"]["message"]
        assert a["error"]["outcome"]["diagnostics"][0]["line"] is not None


def test_reload_hooks_run_once_per_reload_and_cannot_break_it(d):
    from midimon.engine.extension import Extension

    ran = []

    class Counts(Extension):
        def before_reload(self, daemon, scope):
            ran.append(scope)

    class Breaks(Extension):
        def before_reload(self, daemon, scope):
            raise ZeroDivisionError("a part that fails before a reload")

    d.daemon.add(Counts())
    d.daemon.add(Breaks())
    with d.client() as c:
        assert c.call("reload")["ok"]
    assert ran == ["all"]  # `midimon reload` reloads every part, once


def test_monitor_streams_events_and_fired_mappings(d):
    base = len(d.daemon.engine.event_listeners)
    with d.client() as c:
        lines = []

        def watch():
            for item in c.stream("monitor", {"count": 3}):
                lines.append(item)

        t = threading.Thread(target=watch)
        t.start()
        wait_for(lambda: len(d.daemon.engine.event_listeners) == base + 1, 5, what="the monitor to attach")
        d.press(36)
        t.join(5)
    kinds = [next(k for k in ("event", "fired", "mode_change") if k in x) for x in lines]
    assert kinds == ["event", "fired", "event"], lines
    assert lines[0]["event"]["note"] == 36
    wait_for(lambda: len(d.daemon.engine.event_listeners) == base, 5, what="the monitor to detach")


def test_monitor_client_vanishing_detaches(d):
    base = len(d.daemon.engine.event_listeners)
    s = raw(d)
    s.sendall(b'{"id":1,"command":"monitor"}\n')
    assert read_line(s)["result"]["streaming"]
    wait_for(lambda: len(d.daemon.engine.event_listeners) == base + 1, 5, what="the monitor to attach")
    s.close()
    wait_for(lambda: len(d.daemon.engine.event_listeners) == base, 5, what="the monitor to detach")


def learn_with(d, messages, **args):
    import mido

    box = {}
    base = len(d.daemon.engine.event_listeners)

    def run():
        with d.client(timeout=20) as c:
            box["r"] = c.call("learn", {"timeout": 10, "settle": 0.3, **args}, timeout=20)

    t = threading.Thread(target=run)
    t.start()
    wait_for(lambda: len(d.daemon.engine.event_listeners) > base, 5, what="learn to listen")
    for kind, fields in messages:
        d.backend.inject("pads", mido.Message(kind, **fields))
        time.sleep(0.01)
    t.join(15)
    return box["r"]["candidates"]


def test_learn_a_pad_that_sends_note_and_aftertouch(d):
    cands = learn_with(
        d,
        [("note_on", dict(note=40, velocity=80)), ("polytouch", dict(note=40, value=20)), ("note_off", dict(note=40))],
    )
    assert [c["toml"] for c in cands] == [
        'trigger = { type = "Note", note = 40 }',
        'trigger = { type = "Aftertouch", note = 40 }',
    ]


def test_learn_tells_encoder_from_absolute_knob(d):
    enc = learn_with(d, [("control_change", dict(control=20, value=v)) for v in (1, 1, 2, 1)])
    assert enc[0]["trigger"]["type"] == "EncoderTurn" and enc[0]["trigger"]["cc"] == 20
    knob = learn_with(d, [("control_change", dict(control=21, value=v, channel=2)) for v in (60, 61, 63, 66, 70)])
    assert knob[0]["toml"] == 'trigger = { type = "CC", cc = 21, channel = 2 }'


def test_learn_times_out_cleanly(d):
    with d.client() as c:
        a = c.request("learn", {"timeout": 0.3})
    assert a["error"]["code"] == "timeout"


# ---------------------------------------------------------------- abuse
def test_garbage_gets_errors_and_the_connection_goes_on(d):
    s = raw(d)
    s.sendall(b'hello\n\xff\xfe\n[1,2]\n{"command": 5}\n{"id":1,"command":"nope"}\n{"id":2,"command":"ping"}\n')
    codes = [read_line(s).get("error", {}).get("code") for _ in range(5)]
    assert codes == ["bad_json", "bad_json", "bad_request", "bad_request", "unknown_command"]
    assert read_line(s)["result"]["pong"]
    assert ping_ok(d)


def test_two_mib_line_is_refused_and_the_daemon_goes_on(d):
    s = raw(d)
    try:
        s.sendall(b"x" * (2 << 20) + b"\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close before we finish sending; the answer is already queued
    try:
        answer = read_line(s)
        assert answer["error"]["code"] == "line_too_long"
    except (ConnectionError, OSError):
        pass
    assert ping_ok(d)
    assert d.daemon.engine.stats.events == 0


def test_one_mib_request_is_still_accepted(d):
    s = raw(d)
    pad = "x" * ((1 << 20) - 100)
    s.sendall(json.dumps({"id": 1, "command": "ping", "args": {"pad": pad}}).encode() + b"\n")
    assert read_line(s)["ok"]


def test_half_open_connections_do_not_block_others(live_daemon):
    d = live_daemon(modes_config("A"))
    d.live.server.line_timeout = 1.0
    d.live.server.idle_timeout = 1.5
    half = raw(d)
    half.sendall(b'{"id": 1, "command": "pi')  # never finished
    idle = raw(d)  # never says anything
    shut = raw(d)
    shut.sendall(b'{"id": 9, "command": "ping"}')  # no newline, then half-close: still answered
    shut.shutdown(socket.SHUT_WR)
    assert read_line(shut)["id"] == 9
    for _ in range(5):
        assert ping_ok(d)
    assert read_line(half)["error"]["code"] == "timeout"
    assert half.recv(10) == b""
    idle.settimeout(5)
    assert idle.recv(10) == b""  # closed by the idle timeout


def test_many_clients_at_once(d):
    errors = []

    def client(i):
        try:
            with d.client(timeout=20) as c:
                for _ in range(20):
                    assert c.call("ping")["pong"]
                assert c.call("mode")["mode"] in ("A", "B")
        except Exception as exc:  # collected: assertion below names them
            errors.append(repr(exc))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert ping_ok(d)


def test_more_clients_than_the_cap_get_busy_not_a_hang(live_daemon):
    d = live_daemon(modes_config("A"))
    d.live.server.max_clients = 3
    held = [raw(d) for _ in range(3)]
    wait_for(lambda: d.live.server.client_count == 3, 5, what="three clients")
    s = raw(d)
    assert read_line(s)["error"]["code"] == "busy"
    held[0].close()
    wait_for(lambda: d.live.server.client_count == 2, 5, what="a slot to free")
    assert ping_ok(d)


def test_stop_command_stops_the_daemon(d):
    with d.client() as c:
        assert c.call("stop")["stopping"]
    assert d.daemon.wait(5)
    wait_for(lambda: not d.socket.exists(), 5, what="the socket file to go")
