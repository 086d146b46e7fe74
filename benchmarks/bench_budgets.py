#!/usr/bin/env python3
"""Budgets benchmark (issue 10): the daemon stays flat while one plugin pushes against a budget.

    .venv/bin/python benchmarks/bench_budgets.py [--quick] [--out FILE]

For each attack of tests/sandbox/test_round2_budgets.py and test_round2_output.py (and an idle
control), starts a real ``midimon run`` on a private home (no MIDI device: notes come in over
the control socket's ``send``), lets the attack run for a few seconds, and reports for the
daemon process itself: resident memory at the start and the end of the window and its peak, CPU
(user+system seconds per second of wall time), bytes passed to write() per second (disk, log
and pipes: ``wchar``), and the latency of ``status`` over the control socket, sampled every
100 ms during the window (median, p99). Writes benchmarks/results/budgets.json.
"""

from __future__ import annotations

import argparse
import gzip
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_memory import Sock, wait_socket
from benchlib import machine, ms, write_results

ROOT = Path(__file__).resolve().parent
PY = sys.executable
MIDIMON = str(Path(PY).with_name("midimon"))

FLOODER = """poll_interval_ms = 5
BLOCK = ("spam " * 12 + "\\n") * 1000


def poll_events():
    print(BLOCK)
    return []
"""
HOARDER = """poll_interval_ms = 5
BLOB = "x" * 900000


def poll_events():
    n = store.get("n", 0) + 1
    store.set("blob", str(n) + BLOB)
    store.set("n", n)
    return []
"""
SLEEPER = """import time


def execute(params, context):
    time.sleep(4.8)
"""
PUBLISHER = """capabilities = ["network"]
poll_interval_ms = 5
PAYLOAD = "p" * 200000


def poll_events():
    for _ in range(20):
        try:
            mqtt.publish("r2/flood", PAYLOAD)
        except CapabilityError:
            pass
    return []
"""
NAGGER = """poll_interval_ms = 5


def poll_events():
    try:
        fs.read_text("secret.txt")
    except CapabilityError:
        pass
    return []
"""
FETCHER = """capabilities = ["network"]


def execute(params, context):
    try:
        http.get(params["url"], timeout=30)
    except CapabilityError:
        pass
"""


class Peer:
    """A loopback TCP peer that misbehaves: each connection goes to ``serve`` on a thread."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.serve = serve
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            self.serve(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def _request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def deaf_broker(conn: socket.socket) -> None:
    conn.recv(4096)
    conn.sendall(b"\x20\x02\x00\x00")  # CONNACK, then never read again
    time.sleep(3600)


def bomb_server() -> Callable[[socket.socket], None]:
    one = gzip.compress(b"\0" * (256 * 1024 * 1024), 9)
    three = gzip.compress(gzip.compress(one, 9), 9)

    def serve(conn: socket.socket) -> None:
        request = _request(conn)
        body, enc = (three, "gzip, gzip, gzip") if b"/three" in request else (one, "gzip")
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Encoding: {enc}\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        conn.sendall(body)

    return serve


def trickler(conn: socket.socket) -> None:
    _request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    for _ in range(100):
        conn.sendall(b"x")
        time.sleep(0.5)


# -- the daemon -------------------------------------------------------------------------------


def proc_figures(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return {"rss_mib": rss, "cpu_s": cpu, "wchar": int(io["wchar"])}


def config(mappings: list[tuple[str, str]]) -> str:
    out = ['[[modes]]\nname = "Default"\n']
    for trigger, action in mappings:
        out.append(f"[[modes.mappings]]\ntrigger = {trigger}\naction = {action}\n")
    return "\n".join(out)


def trigger_only(name: str) -> list[tuple[str, str]]:
    return [(f'{{ type = "Plugin", plugin = "{name}", event = "never" }}', '{ type = "Shell", command = "true" }')]


def note(n: int, plugin: str, params: str = "") -> tuple[str, str]:
    return (f'{{ type = "Note", note = {n} }}', f'{{ type = "Plugin", plugin = "{plugin}", params = {{ {params} }} }}')


def scenario(
    name: str,
    plugins: dict[str, str],
    mappings: list[tuple[str, str]],
    seconds: float,
    grants: list[list[str]] = (),  # type: ignore[assignment]
    drive: Callable[[Sock], None] | None = None,
) -> dict:
    with tempfile.TemporaryDirectory(prefix="midimon-bench-budgets-") as tmp:
        home = Path(tmp) / "home"
        (home / "plugins").mkdir(parents=True)
        (home / "config.toml").write_text(config(mappings))
        for plugin, source in plugins.items():
            (home / "plugins" / f"{plugin}.py").write_text(source)
        env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
        env["MIDIMON_HOME"] = str(home)
        for grant in grants:
            subprocess.run([MIDIMON, "plugins", "grant", *grant], env=env, capture_output=True, check=True)
        daemon = subprocess.Popen(
            [MIDIMON, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            sock = wait_socket(home / "run" / "midimon.sock", daemon)
            time.sleep(1.5)  # plugins loaded, first polls done
            start = proc_figures(daemon.pid)
            t0 = time.monotonic()
            if drive is not None:
                threading.Thread(target=drive, args=(Sock(home / "run" / "midimon.sock"),), daemon=True).start()
            latencies: list[float] = []
            peak = start["rss_mib"]
            while time.monotonic() - t0 < seconds:
                s0 = time.perf_counter()
                sock.call("status")
                latencies.append(time.perf_counter() - s0)
                peak = max(peak, proc_figures(daemon.pid)["rss_mib"])
                time.sleep(0.1)
            end, wall = proc_figures(daemon.pid), time.monotonic() - t0
            sock.close()
            t_stop = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
            return {
                "scenario": name,
                "seconds": round(wall, 2),
                "rss_mib_start": round(start["rss_mib"], 1),
                "rss_mib_end": round(end["rss_mib"], 1),
                "rss_mib_peak": round(peak, 1),
                "cpu_cores": round((end["cpu_s"] - start["cpu_s"]) / wall, 3),
                "write_kib_per_s": round((end["wchar"] - start["wchar"]) / wall / 1024, 1),
                "status": ms(latencies),
                "stop_s": round(time.monotonic() - t_stop, 2),
            }
        finally:
            if daemon.poll() is None:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "results" / "budgets.json"))
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    info = machine()
    print(
        f"machine: {info['nproc']} CPU, {info['cpu_model']}, Python {info['python']}, load {info['loadavg_at_start']}"
    )
    secs = 3.0 if args.quick else 8.0
    broker, bombs, slow = Peer(deaf_broker), Peer(bomb_server()), Peer(trickler)

    def presses(note_no: int, n: int, gap: float) -> Callable[[Sock], None]:
        def drive(s: Sock) -> None:
            for _ in range(n):
                s.call("send", {"type": "note_on", "note": note_no, "velocity": 100})
                time.sleep(gap)

        return drive

    runs = [
        ("idle (control)", {}, [note(36, "none")], None, []),
        ("output flood: 64 KiB every 5 ms", {"flooder": FLOODER}, trigger_only("flooder"), None, []),
        ("store.set 900 KB every 5 ms", {"hoarder": HOARDER}, trigger_only("hoarder"), None, []),
        ("40 presses of a 4.8 s plugin", {"sleeper": SLEEPER}, [note(36, "sleeper")], presses(36, 40, 0.01), []),
        (
            "publishing to a broker that stops reading",
            {"publisher": PUBLISHER},
            trigger_only("publisher"),
            None,
            [["publisher", "network", "--scope", f"brokers=127.0.0.1:{broker.port}", "--scope", "publish=r2/#"]],
        ),
        ("a refused capability every 5 ms (audit)", {"nagger": NAGGER}, trigger_only("nagger"), None, []),
        (
            "gzip bombs (3 layers, 1 layer), a press every 0.5 s",
            {"fetcher": FETCHER},
            [note(36, "fetcher", f'url = "http://127.0.0.1:{bombs.port}/three"'),
             note(37, "fetcher", f'url = "http://127.0.0.1:{bombs.port}/one"')],
            lambda s: [presses(36 + i % 2, 1, 0.5)(s) for i in range(int(secs * 2))],
            [["fetcher", "network", "--scope", f"hosts=http://127.0.0.1:{bombs.port}"]],
        ),
        (
            "a body trickled 1 byte / 0.5 s, 4 presses",
            {"fetcher": FETCHER},
            [note(36, "fetcher", f'url = "http://127.0.0.1:{slow.port}/slow"')],
            presses(36, 4, 0.2),
            [["fetcher", "network", "--scope", f"hosts=http://127.0.0.1:{slow.port}"]],
        ),
    ]  # fmt: skip
    results = []
    for name, plugins, mappings, drive, grants in runs:
        r = scenario(name, plugins, mappings, secs, grants, drive)
        results.append(r)
        st = r["status"]
        print(
            f"{name:52s} RSS {r['rss_mib_start']:6.1f} -> {r['rss_mib_end']:6.1f} (peak {r['rss_mib_peak']:6.1f}) MiB"
            f"  CPU {r['cpu_cores']:.2f} cores  writes {r['write_kib_per_s']:8.1f} KiB/s"
            f"  status p50 {st['median_ms']:.2f} ms p99 {st['p99_ms']:.2f} ms  stop {r['stop_s']:.1f} s"
        )
    for peer in (broker, bombs, slow):
        peer.close()
    out = {"machine": info, "window_s": secs, "scenarios": results}
    out["status_median_ms_all"] = round(statistics.median(r["status"]["median_ms"] for r in results), 3)
    write_results(args.out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
