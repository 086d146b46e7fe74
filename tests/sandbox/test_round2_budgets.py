"""Issue 10 findings 4, 6, 7 and 8 and issue 11 point 7, through a real daemon: a budget per
plugin, and the daemon stays flat while a plugin pushes against it.

Attacks: 40 presses of a plugin that sleeps 4.8 s (no grant: the action pool was taken for
20 s and ``midimon stop`` did not stop); ``store.set`` of 900 KB at every 5 ms poll (48 MB/s of
writes); a 3-layer ``Content-Encoding: gzip, gzip, gzip`` bomb and a one-layer one (the daemon
went from 56 to 2,107 MiB); publishing to a broker that stops reading (60 to 796 MiB in 10 s);
a poll that is refused a capability every 5 ms (one audit line per refusal). Bounds are
generous: each is far from the old behaviour and far from the budget."""

from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import Iterator

import pytest

from .test_round2_kit import (
    TRIGGER_ONLY,
    RawServer,
    cli,
    config,
    cpu_seconds,
    plugins_dir,
    press,
    read_request,
    ready,
    rss_mb,
    start_daemon,
    timed_status,
    wait_for,
    write,
    written,
)

pytestmark = pytest.mark.jack
__all__ = ["plugins_dir", "start_daemon"]


def _store(home, name: str) -> dict:
    try:
        return json.loads((home / "plugins-data" / name / "store.json").read_text())
    except (OSError, ValueError):
        return {}


SLEEPER = '''"""Takes 4.8 s per call, well inside its 5 s deadline; needs no grant."""
import time


def execute(params, context):
    time.sleep(4.8)
'''


def test_a_slow_plugin_never_takes_the_action_pool_and_stop_always_stops(
    harness, start_daemon, home, plugins_dir, tmp_path
):
    out = tmp_path / "other.txt"
    write(plugins_dir / "sleeper.py", SLEEPER)
    d = start_daemon(
        config(
            harness,
            f"""
[[modes.mappings]]
trigger = {{ type = "Note", note = 36 }}
action = {{ type = "Plugin", plugin = "sleeper" }}

[[modes.mappings]]
trigger = {{ type = "Note", note = 40 }}
action = {{ type = "Shell", shell = true, command = "echo other >> {out}" }}
""",
        )
    )
    ready(d, "sleeper")
    for _ in range(40):
        press(harness, 36)
    time.sleep(0.5)
    t0 = time.monotonic()
    press(harness, 40)
    wait_for(out.exists, 10, what="another mapping while the slow plugin is pressed 40 times")
    assert time.monotonic() - t0 < 3.0  # before: ~20 s, behind the queued presses
    assert any("is busy" in line for line in d.lines), "presses past the budget are refused at once"
    took, _doc = timed_status(home)
    assert took < 3.0, took
    t0 = time.monotonic()
    cli("stop", home=home)
    d.proc.wait(20)
    assert time.monotonic() - t0 < 15.0


HOARDER = '''"""Writes 900 KB into its store at every poll, every 5 ms."""
poll_interval_ms = 5
BLOB = "x" * 900000


def poll_events():
    n = store.get("n", 0) + 1
    store.set("blob", str(n) + BLOB)
    store.set("n", n)
    return []
'''


def test_store_writes_are_coalesced_under_a_bytes_per_second_budget(harness, start_daemon, home, plugins_dir):
    write(plugins_dir / "hoarder.py", HOARDER)
    d = start_daemon(config(harness, TRIGGER_ONLY.format(name="hoarder")))
    ready(d, "hoarder")
    wait_for(lambda: _store(home, "hoarder").get("n", 0) > 2, 10, what="store writes")
    pid = d.proc.pid
    w0, t0 = written(pid), time.monotonic()
    time.sleep(3.0)
    wrote, took = written(pid) - w0, time.monotonic() - t0
    # budget 1 MiB/s of store writes (and a little log); before: ~48 MB/s
    assert wrote < 3 * 1024 * 1024 * (took + 1), wrote
    took_status, _doc = timed_status(home)
    assert took_status < 3.0
    d.stop()
    final = _store(home, "hoarder")
    # the last value reached the disk when the plugin stopped, whole and consistent
    assert final["n"] > 10 and final["blob"].startswith(str(final["n"]) + "x"), final["n"]


FETCHER = '''"""Fetches the url its mapping names and records how it ended."""
capabilities = ["network"]


def execute(params, context):
    try:
        store.set(params["key"], "got " + str(len(http.get(params["url"])["text"])))
    except CapabilityError as exc:
        store.set(params["key"], str(exc))
'''


def _bombs() -> tuple[bytes, bytes]:
    zeros = b"\0" * (256 * 1024 * 1024)
    one = gzip.compress(zeros, 9)
    three = gzip.compress(gzip.compress(one, 9), 9)
    return one, three


@pytest.fixture(scope="module")
def bomb_server() -> Iterator[RawServer]:
    one, three = _bombs()

    def serve(conn: socket.socket) -> None:
        request = read_request(conn)
        body, encoding = (three, "gzip, gzip, gzip") if b"/three" in request else (one, "gzip")
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nContent-Length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode() + body)
        conn.close()

    server = RawServer(serve)
    yield server
    server.close()


def test_a_decompression_bomb_is_refused_and_the_daemon_stays_flat(
    harness, start_daemon, home, plugins_dir, bomb_server
):
    write(plugins_dir / "fetcher.py", FETCHER)
    cli("plugins", "grant", "fetcher", "network", "--scope", f"hosts={bomb_server.url}", home=home)
    d = start_daemon(
        config(
            harness,
            f"""
[[modes.mappings]]
trigger = {{ type = "Note", note = 36 }}
action = {{ type = "Plugin", plugin = "fetcher", params = {{ key = "three", url = "{bomb_server.url}/three" }} }}

[[modes.mappings]]
trigger = {{ type = "Note", note = 37 }}
action = {{ type = "Plugin", plugin = "fetcher", params = {{ key = "one", url = "{bomb_server.url}/one" }} }}
""",
        )
    )
    ready(d, "fetcher")
    before = rss_mb(d.proc.pid)
    press(harness, 36)
    three = wait_for(lambda: _store(home, "fetcher").get("three"), 15, what="the 3-layer bomb")
    press(harness, 37)
    one = wait_for(lambda: _store(home, "fetcher").get("one"), 15, what="the 1-layer bomb")
    assert "content encodings" in three, three
    assert "decodes to more than" in one, one
    assert rss_mb(d.proc.pid) - before < 100, (before, rss_mb(d.proc.pid))  # 256 MiB each if decoded


PUBLISHER = '''"""Publishes 200 KB messages as fast as it can, counting the refusals."""
capabilities = ["network"]
poll_interval_ms = 5
PAYLOAD = "p" * 200000
refused = []


def poll_events():
    for _ in range(20):
        try:
            mqtt.publish("r2/flood", PAYLOAD)
        except CapabilityError as exc:
            refused.append(str(exc))
    if refused:
        store.set("refused", len(refused))
        store.set("why", refused[-1])
    return []
'''


def _deaf_broker(conn: socket.socket) -> None:
    """Accepts the MQTT CONNECT, answers CONNACK, then never reads again."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    conn.recv(4096)
    conn.sendall(b"\x20\x02\x00\x00")
    while True:
        time.sleep(1)


def test_publishes_to_a_broker_that_stops_reading_stay_bounded(harness, start_daemon, home, plugins_dir):
    broker = RawServer(_deaf_broker)
    try:
        write(plugins_dir / "publisher.py", PUBLISHER)
        cli(
            "plugins", "grant", "publisher", "network",
            "--scope", f"brokers=127.0.0.1:{broker.port}", "--scope", "publish=r2/#", home=home,
        )  # fmt: skip
        d = start_daemon(config(harness, TRIGGER_ONLY.format(name="publisher")))
        ready(d, "publisher")
        before, c0 = rss_mb(d.proc.pid), cpu_seconds(d.proc.pid)
        wait_for(lambda: _store(home, "publisher").get("refused", 0) > 10, 15, what="refused publishes")
        time.sleep(3.0)
        grown = rss_mb(d.proc.pid) - before
        assert grown < 100, grown  # before: +736 MiB in 10 s
        assert "not keeping up" in _store(home, "publisher")["why"]
        took, _doc = timed_status(home)
        assert took < 3.0
        assert cpu_seconds(d.proc.pid) - c0 < 30  # sanity only; the figure is in the benchmark
        # and the broker that stopped reading does not hold the daemon's stop (it took 30 s)
        t0 = time.monotonic()
        cli("stop", home=home)
        d.proc.wait(30)
        assert time.monotonic() - t0 < 10.0
    finally:
        broker.close()


NAGGER = '''"""Asks for a file it was never granted, at every 5 ms poll."""
poll_interval_ms = 5


def poll_events():
    try:
        fs.read_text("secret.txt")
    except CapabilityError:
        pass
    return []
'''


def test_identical_audit_records_fold_into_one(harness, start_daemon, home, plugins_dir):
    write(plugins_dir / "nagger.py", NAGGER)
    d = start_daemon(config(harness, TRIGGER_ONLY.format(name="nagger")))
    ready(d, "nagger")
    audit = home / "logs" / "audit.jsonl"

    def folded() -> list[dict]:
        records = [json.loads(line) for line in audit.read_text().splitlines() if line.strip()]
        return [r for r in records if r.get("plugin") == "nagger" and r.get("outcome") == "denied"]

    wait_for(lambda: any(r.get("count", 1) > 100 for r in folded()), 20, what="a folded record")
    records = folded()
    assert len(records) <= 3, records  # one line with a count, not one per refusal
    top = max(records, key=lambda r: r.get("count", 1))
    assert top["first"] <= top["last"] and top["ts"] == top["first"]
    assert audit.stat().st_size < 64 * 1024
    assert d.proc.poll() is None
