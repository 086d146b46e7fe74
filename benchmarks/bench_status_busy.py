#!/usr/bin/env python3
"""Status latency while a plugin is busy: does any reader wait on a running plugin call?

Run: .venv/bin/python benchmarks/bench_status_busy.py [--quick] [--out FILE]
Prints a table and writes JSON (default benchmarks/results/status_busy.json).

An in-process daemon (memory MIDI back end) with its control socket and the plugin extension;
one client connection sends ``status`` (and ``plugins.list``) back to back and times each round
trip. Three rows, interleaved in rounds so that machine load hits them alike:

- idle: no plugin call runs (the control);
- busy: one plugin's ``execute()`` is stuck in ``while True: pass`` (a 5 s deadline, restarted
  as soon as it ends), so every request lands while a call holds the plugin's call lock;
- busy-print: the same with a print flood (the host forwards the plugin's output as it runs).

Before readers stopped taking the call lock, every busy row was the call's deadline (about 5 s).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "live"))

from benchlib import machine, ms, write_results

LOOP = "def execute(params, context):\n    while True:\n        pass\n"
PRINTS = "def execute(params, context):\n    while True:\n        print('x' * 200)\n"
OK = "def execute(params, context):\n    return 1\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "status_busy.json"))
    a = ap.parse_args()
    rounds, per_round = (3, 50) if a.quick else (10, 200)

    import os

    base = Path(tempfile.mkdtemp(prefix="mmb"))  # short: a Unix socket path is at most ~100 bytes
    home = base / "h"
    (home / "plugins").mkdir(parents=True)
    os.environ["MIDIMON_HOME"] = str(home)
    os.environ.pop("XDG_RUNTIME_DIR", None)
    for name, src in (("loop", LOOP), ("flood", PRINTS), ("ok", OK)):
        (home / "plugins" / f"{name}.py").write_text(src)

    from livekit import LiveDaemon, modes_config

    from midimon.engine.plugin_ext import PluginExtension
    from midimon.sandbox import Limits

    d = LiveDaemon(home, modes_config("A"), watch=False)
    ext = PluginExtension(d.daemon, watch=False, limits=Limits(call_timeout=5.0, max_failures=10**6))
    d.daemon.add(ext)
    d.start()
    m = ext.manager
    stop = threading.Event()

    def keep_busy(name: str, on: threading.Event) -> None:
        while not stop.is_set():
            if not on.wait(0.05):
                continue
            try:
                m.plugin_call(name, {}, {})
            except Exception:
                pass

    switches = {"loop": threading.Event(), "flood": threading.Event()}
    threads = [threading.Thread(target=keep_busy, args=(n, e), daemon=True) for n, e in switches.items()]
    for t in threads:
        t.start()
    rows: dict[str, dict[str, list[float]]] = {
        r: {"status": [], "plugins.list": []} for r in ("idle", "busy", "busy-print")
    }
    try:
        with d.client() as c:
            for _ in range(rounds):
                for row, switch in (("idle", None), ("busy", "loop"), ("busy-print", "flood")):
                    if switch is not None:
                        switches[switch].set()
                        deadline = time.monotonic() + 5
                        host = m.runtime.active[switch].host
                        calls = host.state["calls"]
                        while host.state["calls"] == calls and time.monotonic() < deadline:
                            time.sleep(0.005)  # wait until a call is running
                        time.sleep(0.05)
                    for _ in range(per_round):
                        for command in ("status", "plugins.list"):
                            t0 = time.perf_counter()
                            c.call(command)
                            rows[row][command].append(time.perf_counter() - t0)
                    if switch is not None:
                        switches[switch].clear()
    finally:
        stop.set()
        d.stop()
        shutil.rmtree(base, ignore_errors=True)
    out = {"machine": machine(), "rounds": rounds, "per_round": per_round, "rows": {}}
    print(f"{'row':<12} {'command':<14} {'n':>5} {'median ms':>10} {'p99 ms':>9} {'max ms':>9}")
    for row, per in rows.items():
        out["rows"][row] = {}
        for command, values in per.items():
            fig = ms(values)
            out["rows"][row][command] = fig
            print(
                f"{row:<12} {command:<14} {fig['n']:>5} {fig['median_ms']:>10.3f} {fig['p99_ms']:>9.3f}"
                f" {fig['max_ms']:>9.3f}"
            )
    write_results(a.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
