#!/usr/bin/env python3
"""Benchmarks of midimon.sandbox: the cost of running plugin code in a worker under guards.

Run: .venv/bin/python benchmarks/bench_sandbox.py [--out FILE] [--quick]
Prints a table and writes the figures as JSON (default: benchmarks/results/sandbox.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from midimon.sandbox import AuditLog, Limits, PluginHost, PluginTimeout, compile_plugin, prepare
from midimon.sandbox.guards import PluginGuards
from midimon.sandbox.modules import make_importer
from midimon.sandbox.safe_builtins import allowed_bases, make_builtins
from midimon.sandbox.stubs import CapabilityError

TRIVIAL = "def f():\n    return 1\n"
TYPICAL = """
import json, math
class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y
def body(events):
    out = {}
    total = 0
    for e in events:
        key = e["type"] + ":" + str(e["note"])
        p = Point(e["note"], e["velocity"])
        d = math.sqrt(p.x * p.x + p.y * p.y)
        total += d
        if key in out:
            out[key] = out[key] + 1
        else:
            out[key] = 1
    names = sorted(out)
    parts = [n.upper() for n in names if n.startswith("note")]
    return {"total": round(total, 3), "n": len(parts), "j": json.dumps(names[:3])}
EVENTS = [{"type": "note_on", "note": i % 128, "velocity": (i * 7) % 128} for i in range(200)]
def run():
    return body(EVENTS)
"""


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "p50_us": round(s[len(s) // 2] * 1e6, 1),
        "p99_us": round(s[int(len(s) * 0.99)] * 1e6, 1),
        "mean_us": round(statistics.fmean(s) * 1e6, 1),
        "n": len(s),
    }


def timed(fn: Callable[[], Any], n: int, warmup: int = 200) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def restricted_namespace(source: str) -> dict[str, Any]:
    """Run plugin code in-process under the same guards the worker uses (to isolate their cost)."""
    compiled = compile_plugin(source, "bench.py")
    guards = PluginGuards(lambda text: None, allowed_bases=allowed_bases())
    importer, _ = make_importer()
    ns: dict[str, Any] = {
        "__builtins__": make_builtins(importer, {"CapabilityError": CapabilityError}),
        "__name__": "plugin",
        **guards.globals(),
    }
    exec(compiled.code, ns)
    return ns


def memory_of(pid: int) -> dict[str, float]:
    def kb(path: str, key: str) -> float:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return float(line.split()[1])
        return 0.0

    return {
        "rss_mib": round(kb(f"/proc/{pid}/status", "VmRSS:") / 1024, 1),
        "pss_mib": round(kb(f"/proc/{pid}/smaps_rollup", "Pss:") / 1024, 1),
    }


def _spawn_child(conn: Any) -> None:
    import midimon.sandbox.worker_main  # noqa: F401  (what a spawned worker must import)

    conn.send("ready")


def spawn_start_time(n: int) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    out = []
    for _ in range(n):
        parent, child = ctx.Pipe()
        t = time.perf_counter()
        proc = ctx.Process(target=_spawn_child, args=(child,))
        proc.start()
        parent.recv()
        out.append(time.perf_counter() - t)
        proc.join()
    return out


def machine() -> dict[str, str]:
    model = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "")
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_1min": f"{os.getloadavg()[0]:.2f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "sandbox.json"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # timeouts below are on purpose
    n = 2000 if args.quick else 10000
    results: dict[str, Any] = {"machine": machine()}
    tmp = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    audit = AuditLog(tmp / "audit.jsonl")

    t = time.perf_counter()
    prepare()
    results["zygote_start_ms"] = round((time.perf_counter() - t) * 1e3, 1)

    starts, hosts = [], []
    for i in range(10):
        t = time.perf_counter()
        h = PluginHost(f"b{i}", TRIVIAL, "bench.py", data_dir=tmp / f"d{i}", audit=audit)
        h.start()
        starts.append(time.perf_counter() - t)
        hosts.append(h)
    results["worker_start"] = {
        k.replace("_us", "_ms"): round(v / 1000, 2) for k, v in percentiles(starts).items() if k != "n"
    }
    results["spawn_start_for_comparison"] = {
        k.replace("_us", "_ms"): round(v / 1000, 2)
        for k, v in percentiles(spawn_start_time(3 if args.quick else 5)).items()
        if k != "n"
    }
    mems = [memory_of(h.state["pid"]) for h in hosts]
    results["memory_per_worker"] = {
        "rss_mib": statistics.median(m["rss_mib"] for m in mems),
        "pss_mib": statistics.median(m["pss_mib"] for m in mems),
    }
    for h in hosts[1:]:
        h.stop()

    host = hosts[0]
    results["trivial_call_worker"] = percentiles(timed(lambda: host.call("f"), n))
    plain_ns: dict[str, Any] = {}
    exec(compile(TRIVIAL, "plain.py", "exec"), plain_ns)
    plain_f = plain_ns["f"]
    results["trivial_call_plain"] = percentiles(timed(plain_f, n))

    typical = PluginHost("typ", TYPICAL, "typ.py", data_dir=tmp / "typ", audit=audit)
    typical.start()
    plain_typ: dict[str, Any] = {}
    exec(compile(TYPICAL, "plain.py", "exec"), plain_typ)
    guarded_typ = restricted_namespace(TYPICAL)
    m = n // 10
    # Interleaved, so that load from other processes hits both sides alike; the slowdown is
    # the median of per-pair ratios.
    plain_s, guarded_s, worker_s = [], [], []
    for fn in (plain_typ["run"], guarded_typ["run"], lambda: typical.call("run")):
        timed(fn, 0, 50)
    for _ in range(m):
        for fn, out in (
            (plain_typ["run"], plain_s),
            (guarded_typ["run"], guarded_s),
            (lambda: typical.call("run"), worker_s),
        ):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    results["typical_body_plain"] = percentiles(plain_s)
    results["typical_body_guarded_inprocess"] = percentiles(guarded_s)
    results["typical_body_worker"] = percentiles(worker_s)
    results["typical_guard_slowdown"] = round(statistics.median(g / p for g, p in zip(guarded_s, plain_s)), 2)
    typical.stop()

    hundred = "\n".join(TYPICAL.strip().splitlines() * 4).splitlines()[:100]
    source_100 = "\n".join(hundred) + "\n"
    results["compile_per_100_lines"] = percentiles(timed(lambda: compile_plugin(source_100, "c.py"), 200, 20))

    restarts = []
    for _ in range(10):
        host.stop()
        host._status = "restarting"  # what a timeout or crash leaves behind
        t = time.perf_counter()
        host.call("f")
        restarts.append(time.perf_counter() - t)
    results["worker_restart_ms"] = {
        k.replace("_us", "_ms"): round(v / 1000, 2) for k, v in percentiles(restarts).items() if k != "n"
    }
    host.stop()

    loop = PluginHost(
        "loop",
        "def spin():\n    while True:\n        pass\ndef ok():\n    return 1\n",
        "loop.py",
        data_dir=tmp / "loop",
        audit=audit,
        limits=Limits(call_timeout=0.2, max_failures=10_000),
    )
    loop.start()
    overshoot = []
    for _ in range(5 if args.quick else 20):
        t = time.perf_counter()
        try:
            loop.call("spin")
        except PluginTimeout:
            pass
        overshoot.append(time.perf_counter() - t - 0.2)
        loop.call("ok")
    results["deadline_overshoot_ms"] = {
        "p50": round(statistics.median(overshoot) * 1e3, 2),
        "max": round(max(overshoot) * 1e3, 2),
    }
    loop.stop()

    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {json.dumps(value)}")
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
