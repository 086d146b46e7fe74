#!/usr/bin/env python3
"""Benchmarks of midimon.engine.live: how fast a save becomes behaviour, a reload, a ping.

Run: .venv/bin/python benchmarks/bench_live.py [--quick] [--out FILE]
Prints a table and writes JSON (default benchmarks/results/live.json).

(a) save -> active: an in-process daemon (memory MIDI back end) watching its config; the config
    is replaced atomically (os.replace) and we poll, every 0.5 ms, until the engine's table is
    the new one. Nearly all of it is the watcher's trailing debounce (120 ms).
(b) reload of 100 mappings: Daemon.reload(text=...) phase by phase (load+validate+compile off
    the loop; swap between two events on the loop).
(c) control socket ping round trip on one connection, and with a new connection per ping.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def machine() -> dict:
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def summary(xs: list[float]) -> dict:
    return {
        "n": len(xs),
        "p50": pct(xs, 50),
        "p95": pct(xs, 95),
        "p99": pct(xs, 99),
        "max": max(xs),
        "mean": statistics.fmean(xs),
    }


def config(n_mappings: int, tag: str) -> str:
    out = f'[device]\nname = "pads"\n\n[[modes]]\nname = "M"\n# {tag}\n'
    for i in range(n_mappings):
        out += (
            f'[[modes.mappings]]\ndescription = "m{i}"\ntrigger = {{ type = "Note", note = {i % 128}, '
            f'channel = {i // 128} }}\naction = {{ type = "SendMidi", port = "sink", message_type = "NoteOn", '
            f"note = {i % 128}, velocity = 1 }}\n"
        )
    return out


def make_daemon(home: Path, text: str):
    from midimon.engine.backends.memory import MemoryBackend
    from midimon.engine.daemon import Daemon
    from midimon.engine.desktop.base import Unavailable
    from midimon.engine.live import attach

    (home / "config.toml").write_text(text)
    d = Daemon(home / "config.toml", backend=MemoryBackend(["pads", "sink"]), desktop=Unavailable("bench"), home=home)
    attach(d)
    d.start()
    return d


def bench_save(d, home: Path, n: int) -> dict:
    cfg = home / "config.toml"
    samples = []
    for i in range(n):
        text = config(10, f"s{i}")
        want = hashlib.sha256(text.encode()).hexdigest()
        tmp = home / ".config.toml.tmp"
        tmp.write_text(text)
        t0 = time.perf_counter()
        os.replace(tmp, cfg)
        while d.engine.table.sha256 != want:
            time.sleep(0.0005)
            if time.perf_counter() - t0 > 5:
                raise RuntimeError("the save was never picked up")
        samples.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.05)
    return summary(samples)


def bench_reload(d, n: int, mappings: int = 100) -> dict:
    totals, build, swap = [], [], []
    d.extensions["live"].watcher.close()  # only explicit reloads here
    for i in range(n):
        text = config(mappings, f"r{i}").encode()
        t0 = time.perf_counter()
        out = d.reload(text=text, source="bench")
        totals.append((time.perf_counter() - t0) * 1000)
        assert out["ok"] and out["mappings"] == mappings, out
        build.append(out["phase_ms"]["load_validate_compile_ms"])
        swap.append(out["phase_ms"]["swap_ms"])
    return {"total_ms": summary(totals), "load_validate_compile_ms": summary(build), "swap_ms": summary(swap)}


def bench_ping(d, n: int) -> dict:
    from midimon.engine.live.client import Client

    sock = d.extensions["live"].socket_path
    same = []
    with Client(sock) as c:
        for _ in range(50):
            c.call("ping")
        for _ in range(n):
            t0 = time.perf_counter()
            c.call("ping")
            same.append((time.perf_counter() - t0) * 1e6)
    fresh = []
    for _ in range(max(50, n // 10)):
        t0 = time.perf_counter()
        with Client(sock) as c:
            c.call("ping")
        fresh.append((time.perf_counter() - t0) * 1e6)
    return {"one_connection_us": summary(same), "new_connection_us": summary(fresh)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "live.json"))
    args = ap.parse_args()
    logging.getLogger("midimon").setLevel(logging.WARNING)
    base = Path(tempfile.mkdtemp(prefix="mmb"))
    os.environ["MIDIMON_HOME"] = str(base)
    os.environ.pop("XDG_RUNTIME_DIR", None)
    d = make_daemon(base, config(10, "start"))
    try:
        time.sleep(0.3)
        res = {"machine": machine()}
        res["save_to_active_ms"] = bench_save(d, base, 15 if args.quick else 60)
        res["ping"] = bench_ping(d, 500 if args.quick else 5000)
        res["reload_100_mappings"] = bench_reload(d, 10 if args.quick else 100)
    finally:
        d.stop()
        shutil.rmtree(base, ignore_errors=True)
    s, r, p = res["save_to_active_ms"], res["reload_100_mappings"], res["ping"]
    print(f"machine: {res['machine']['nproc']} x {res['machine']['cpu']}, Python {res['machine']['python']}")
    print(
        f"save -> active (os.replace)     p50 {s['p50']:7.1f} ms   p95 {s['p95']:7.1f} ms   max {s['max']:7.1f} ms  (n={s['n']})"
    )
    for k in ("total_ms", "load_validate_compile_ms", "swap_ms"):
        x = r[k]
        print(f"reload 100 mappings {k:<26} p50 {x['p50']:6.2f} ms  p95 {x['p95']:6.2f} ms  max {x['max']:6.2f} ms")
    for k, x in p.items():
        print(f"ping {k:<22} p50 {x['p50']:7.0f} us  p99 {x['p99']:7.0f} us  (n={x['n']})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
