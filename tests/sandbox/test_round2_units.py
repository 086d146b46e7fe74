"""The round-2 budget mechanisms in memory: output rate, bounded decoding, coalesced store
writes, audit folding and rotation, the watchdog, and the per-plugin call budget. The daemon
tests (``test_round2_*.py``) show each against a real ``midimon run``; these pin the edges."""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from pathlib import Path

import httpx
import pytest

from midimon.sandbox import AuditLog, Limits, PluginBusy
from midimon.sandbox.capabilities import netguard
from midimon.sandbox.capabilities.store import StoreFile
from midimon.sandbox.errors import CapabilityFailed
from midimon.sandbox.limits import RateBudget
from midimon.sandbox.watchdog import Watchdog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_budget_passes_the_budget_then_counts_and_reports_once() -> None:
    clock = Clock()
    budget = RateBudget(5, 1000, clock)
    budget.roll()
    kept = budget.take([f"line {i}" for i in range(20)])
    assert kept == [f"line {i}" for i in range(5)]
    assert budget.roll() == (0, 0)  # same second: nothing to report yet
    clock.now += 1
    lines, size = budget.roll()
    assert lines == 15 and size == sum(len(f"line {i}") + 1 for i in range(5, 20))
    assert budget.roll() == (0, 0)  # reported once
    assert len(budget.take(["a"] * 5)) == 5


def test_rate_budget_cuts_the_line_that_crosses_the_byte_budget() -> None:
    budget = RateBudget(100, 50, Clock())
    budget.roll()
    kept = budget.take(["x" * 30, "y" * 30, "z"])
    assert kept[0] == "x" * 30 and kept[1].startswith("y" * 19) and kept[1].endswith("[cut]")
    assert len(kept) == 2 and budget.suppressed_lines == 1


def _response(body: bytes, encoding: str | None) -> httpx.Response:
    headers = {"content-encoding": encoding} if encoding else {}
    return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))


def test_read_body_decodes_one_encoding_under_the_cap() -> None:
    text = b"hello " * 1000
    assert netguard.read_body(_response(gzip.compress(text), "gzip"), 10_000) == text
    assert netguard.read_body(_response(zlib.compress(text), "deflate"), 10_000) == text
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = raw_deflate.compress(text) + raw_deflate.flush()
    assert netguard.read_body(_response(body, "deflate"), 10_000) == text
    assert netguard.read_body(_response(text, "identity"), 10_000) == text


@pytest.mark.parametrize(
    ("encoding", "why"),
    [("gzip, gzip", "content encodings"), ("br", "not supported"), ("gzip,identity,deflate", "content encodings")],
)
def test_read_body_refuses_stacked_and_unknown_encodings(encoding: str, why: str) -> None:
    with pytest.raises(CapabilityFailed, match=why):
        netguard.read_body(_response(gzip.compress(b"x"), encoding), 10_000)


def test_read_body_stops_a_bomb_at_the_cap_without_decoding_it() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), 9)  # 64 MiB in ~64 KB
    with pytest.raises(CapabilityFailed, match="decodes to more than 1000000"):
        netguard.read_body(_response(bomb, "gzip"), 1_000_000)
    with pytest.raises(CapabilityFailed, match="larger than 1000"):
        netguard.read_body(_response(b"x" * 2000, None), 1000)


def test_store_writes_are_coalesced_and_the_last_value_reaches_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    store = StoreFile.acquire(path)
    blob = "x" * 100_000
    t0 = time.monotonic()
    store.put("blob", f"0{blob}", 1024 * 1024)
    assert store.writes == 1 and json.loads(path.read_text())["blob"].startswith("0x")  # at once
    for n in range(200):
        store.put("blob", f"{n}{blob}", 1024 * 1024)
        store.put("n", n, 1024 * 1024)
    took = time.monotonic() - t0
    assert store.writes <= 2 + took / 0.2  # then one per interval (0.2 s here) at most
    store.release()  # the last user flushes
    saved = json.loads(path.read_text())
    assert saved["n"] == 199 and saved["blob"].startswith("199x")
    again = StoreFile.acquire(path)
    assert again.data()["n"] == 199 and again.size() == len(path.read_bytes())
    again.release()


def test_store_size_is_tracked_without_re_encoding_and_the_limit_holds(tmp_path: Path) -> None:
    store = StoreFile.acquire(tmp_path / "store.json")
    try:
        store.put("a", "é" * 10, 1000)
        store.put("b", [1, 2, {"c": None}], 1000)
        expected = len(json.dumps(store.data(), ensure_ascii=False, separators=(",", ":")).encode())
        assert store.size() == expected
        with pytest.raises(CapabilityFailed, match="1000 byte limit"):
            store.put("big", "x" * 1000, 1000)
        assert "big" not in store.data()
        store.remove("a")
        assert store.size() == len(json.dumps(store.data(), separators=(",", ":")).encode())
    finally:
        store.release()


def test_audit_folds_identical_records_in_a_row(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    for _ in range(50):
        log.record("p", "filesystem", "fs.read_text", "denied", "x", "not granted")
    log.record("p", "network", "http.get", "allowed", "http://127.0.0.1:1/", "status 200")
    log.record("p", "filesystem", "fs.read_text", "denied", "x", "not granted")
    records = log.read()
    assert [r.get("count", 1) for r in records] == [50, 1, 1]
    assert records[0]["first"] <= records[0]["last"] and records[0]["ts"] == records[0]["first"]
    assert (tmp_path / "audit.jsonl").read_text().count("\n") == 3


def test_audit_does_not_fold_over_a_line_another_writer_appended(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    ours, theirs = AuditLog(path), AuditLog(path)  # e.g. the daemon and a CLI process
    ours.record("p", "cap", "a", "denied")
    theirs.record("q", "cap", "grant", "granted")
    ours.record("p", "cap", "a", "denied")
    assert [(r["plugin"], r.get("count", 1)) for r in ours.read()] == [("p", 1), ("q", 1), ("p", 1)]


def test_audit_rotation_keeps_at_least_two_full_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=10_000, backups=2)
    for i in range(2000):
        log.record("p", "cap", "a", "allowed", f"target {i}")
    kept = sum(p.stat().st_size for p in tmp_path.glob("audit.jsonl*"))
    assert kept >= 2 * 10_000 - 200 and not (tmp_path / "audit.jsonl.3").exists()
    last = [json.loads(line) for line in path.read_text().splitlines()][-1]
    assert last["target"] == "target 1999"
    assert AuditLog(tmp_path / "x").max_bytes * AuditLog(tmp_path / "x").backups >= 20 * 1024 * 1024


def test_watchdog_fires_in_deadline_order_and_not_when_disarmed() -> None:
    dog = Watchdog()
    fired: list[str] = []
    done = threading.Event()
    now = time.monotonic()
    dog.arm(now + 0.15, lambda: (fired.append("late"), done.set()))
    dog.arm(now + 0.05, lambda: fired.append("early"))
    token = dog.arm(now + 0.1, lambda: fired.append("disarmed"))
    dog.disarm(token)
    assert done.wait(5)
    assert fired == ["early", "late"]


SLOW = """
import time


def slow(s):
    time.sleep(s)
    return s
"""


def test_calls_past_the_pending_budget_are_refused_at_once(make_host) -> None:
    host = make_host(SLOW, limits=Limits(call_timeout=5.0, max_pending_calls=2, busy_wait=0.1))
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(host.call("slow", 1.0))) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    with pytest.raises(PluginBusy, match="is busy"):
        host.call("slow", 0)
    assert time.monotonic() - t0 < 0.6  # refused after its short wait for room, not queued
    for t in threads:
        t.join(10)
    assert results == [1.0, 1.0]
    assert host.state["busy"] == 1 and host.state["pending_calls"] == 0
    assert host.call("slow", 0) == 0


def test_a_waiting_call_gives_up_at_its_own_deadline(make_host) -> None:
    host = make_host(SLOW, limits=Limits(call_timeout=5.0, max_pending_calls=4))
    t = threading.Thread(target=lambda: host.call("slow", 2.0))
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    with pytest.raises(PluginBusy, match="waited 0.5 s"):
        host.call("slow", 0, timeout=0.5)
    assert time.monotonic() - t0 < 1.5
    t.join(10)


def test_calls_waiting_when_the_host_stops_do_not_restart_it(make_host) -> None:
    host = make_host(SLOW, limits=Limits(call_timeout=5.0))
    errors: list[str] = []

    def call() -> None:
        try:
            host.call("slow", 3.0)
        except Exception as exc:
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    host.stop(timeout=0.1)
    for t in threads:
        t.join(10)
    assert errors == ["PluginCrashed"] * 3
    assert host.state["pid"] is None  # nobody started a new worker


TYPIST = """
def f():
    system.keystroke("a")
    return "returned"
"""


def test_the_worker_is_stopped_at_the_deadline_whatever_the_host_is_doing(make_host, tmp_path: Path) -> None:
    # a host service that overstays (a desktop back end stuck for 3 s) against a 1 s call
    from midimon.sandbox import Grants, HostServices, PluginTimeout

    seen: dict[str, object] = {}

    def stuck(_keys: str) -> None:
        time.sleep(1.8)
        seen["worker_alive_at_1_8_s"] = _alive(pid)

    host = make_host(
        TYPIST,
        Grants.from_dict({"capabilities": ["system_control"], "allow": {"system": ["keystroke"]}}),
        limits=Limits(call_timeout=1.0),
        services=HostServices(keystroke=stuck),
    )
    pid = host.state["pid"]
    t0 = time.monotonic()
    with pytest.raises(PluginTimeout):
        host.call("f")
    assert seen["worker_alive_at_1_8_s"] is False  # killed at 1.25 s, while the host still waited
    assert time.monotonic() - t0 < 3.0
    assert host.state["timeouts"] == 1


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


SILENT_TLS = """
def f(url):
    try:
        http.get(url, timeout=30)
        return "answered"
    except CapabilityError as exc:
        return str(exc)
"""


def test_a_tls_handshake_that_never_comes_ends_at_the_call_deadline(make_host) -> None:
    # accepts the connection and never says a word: the handshake (start_tls) waits on a read
    import socket

    from midimon.sandbox import Grants

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(srv.accept()[0]), daemon=True).start()
    url = f"https://127.0.0.1:{port}/"
    host = make_host(
        SILENT_TLS,
        Grants.from_dict({"capabilities": ["network"], "allow": {"hosts": [f"https://127.0.0.1:{port}"]}}),
        limits=Limits(call_timeout=1.5),
    )
    t0 = time.monotonic()
    try:
        answer = host.call("f", url)
    except Exception as exc:  # the call itself may end at its deadline: that is the deadline kept
        answer = type(exc).__name__
    took = time.monotonic() - t0
    srv.close()
    assert took < 4.0, took
    assert answer != "answered" and held, answer


def test_stuck_plugins_together_never_take_more_than_the_shared_budget(make_host) -> None:
    limits = Limits(call_timeout=5.0, max_pending_calls=4, max_pending_calls_all=6)
    hosts = [make_host(SLOW, name=f"slow{i}", limits=limits) for i in range(3)]
    threads = [threading.Thread(target=host.call, args=("slow", 1.5)) for host in hosts for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    with pytest.raises(PluginBusy, match="of all plugins"):
        hosts[0].call("slow", 0)
    for t in threads:
        t.join(10)
    assert hosts[0].call("slow", 0) == 0  # the budget is given back


def test_a_burst_on_a_fast_plugin_is_all_handled_within_the_budget(make_host) -> None:
    host = make_host(SLOW, limits=Limits(call_timeout=5.0, max_pending_calls=2))
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(host.call("slow", 0.01))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [0.01] * 20 and host.state["busy"] == 0


HOARD = """
BLOB = "x" * 900000


def f(n):
    for i in range(n):
        store.set("blob", str(i) + BLOB)
    return n
"""


def test_a_worker_sending_more_than_its_receive_budget_is_slowed_down(make_host) -> None:
    host = make_host(HOARD, limits=Limits(call_timeout=15.0, received_bytes_per_second=2 * 1024 * 1024))
    cpu0 = time.process_time()
    assert host.call("f", 8) == 8  # 7.2 MB against 2 MiB a second: served, but over some seconds
    assert host.state["throttled"] >= 2
    # the host's own CPU stays small: it waited instead of decoding as fast as the worker sent
    assert time.process_time() - cpu0 < 2.0
