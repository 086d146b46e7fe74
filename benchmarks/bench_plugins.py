#!/usr/bin/env python3
"""Plugin benchmark (issue 13, point 3): 20 small plugin files dropped at once, until all are
loaded, against one; the first call after a load; a warm rescan; save -> new version active.

    .venv/bin/python benchmarks/bench_plugins.py [--quick]

A ``PluginManager`` runs on a private home (the first-party plugins load at its start, before
anything is timed). Each round drops N small plugin files (a few lines each, like a user's
first plugins) into the plugins folder at once and times ``sync()``, the rescan the folder
watcher runs after its quiet period, until it returns: every new version is swapped in and
ready to run (its worker forked from the zygote, its code compiled by RestrictedPython, its
top level run). Then each plugin is called once (``execute``): if workers started lazily this
first call would pay the start, so it is reported beside the load. The files are removed and
synced away before the next round. N = 1 and N = 20 alternate, so both see the same machine.

An unused first-party plugin loads ``idle`` (no worker until its first call): each round loads
``http_request`` idle again and times its first call (the worker's start and its
``initialize()`` included) beside the second, the figure that goes beside the load's.

The row's figure is (median time for 20 - median time for 1) / 19: what each plugin beyond the
first adds to a batch. Target <= 5 ms (the plan: "plugin loading adds < 5 ms"); the first
call's extra latency must stay under 20 ms. Writes benchmarks/results/plugins.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, ms, pct, write_results

ROOT = Path(__file__).resolve().parent
TARGET_PER_PLUGIN_MS = 5.0
TARGET_FIRST_CALL_MS = 20.0
PLUGIN = '''"""Bench plugin {i}."""
version = "1.0.{i}"


def execute(params, context):
    return {i}
'''


def cpu_ms(pid: int) -> float:
    """CPU time a single-threaded process (the zygote, a worker) has used so far, in ms."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6
    except OSError:
        return 0.0


def children(pid: int) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.add(int(entry))
            except OSError:
                continue
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--out", default=str(ROOT / "results" / "plugins.json"))
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    rounds = args.rounds or (4 if args.quick else 15)
    info = machine()
    print(
        f"machine: {info['nproc']} CPU, {info['cpu_model']}, Python {info['python']}, load {info['loadavg_at_start']}"
    )
    tmp = tempfile.TemporaryDirectory(prefix="midimon-bench-plugins-")
    os.environ["MIDIMON_HOME"] = tmp.name
    from midimon.config.home import Home
    from midimon.plugins.manager import PluginManager
    from midimon.sandbox import HostServices, spawner

    home = Home.at(tmp.name)
    m = PluginManager(
        home, services=HostServices(), publish=lambda k, d: None, submit=lambda p, e, d: None, watch=False
    )
    m.start()  # the zygote and the first-party plugins: not timed
    base = set(m.runtime.active)
    folder = home.plugins
    load: dict[int, list[float]] = {1: [], 20: []}
    first_call: list[float] = []
    warm_call: list[float] = []
    idle_first: list[float] = []
    idle_second: list[float] = []
    idle_name = "http_request"
    idle_at_start = sorted(n for n, v in m.runtime.active.items() if v.idle)
    rescan: list[float] = []
    stamp = 0
    cpu: dict[str, list[float]] = {"daemon": [], "zygote": [], "workers": []}
    try:
        for r in range(rounds + 1):  # round 0 warms up and is not counted
            for n in (1, 20):
                stamp += 1
                names = [f"bench_{stamp}_{i:02d}" for i in range(n)]
                for i, name in enumerate(names):  # written aside, then moved in: a save's rename
                    tmpfile = folder / f".{name}.tmp"
                    tmpfile.write_text(PLUGIN.format(i=i))
                    os.replace(tmpfile, folder / f"{name}.py")
                zygote = spawner._zygote.pid or 0
                before = children(zygote)
                c_daemon, c_zygote = time.process_time() * 1000, cpu_ms(zygote)
                t0 = time.perf_counter()
                m.sync("bench")
                dt = time.perf_counter() - t0
                if r and n == 20:  # where the CPU went, per plugin (workers: until they are ready)
                    cpu["daemon"].append((time.process_time() * 1000 - c_daemon) / n)  # every thread
                    cpu["zygote"].append((cpu_ms(zygote) - c_zygote) / n)
                    cpu["workers"].append(sum(cpu_ms(p) for p in children(zygote) - before) / n)
                missing = [x for x in names if x not in m.runtime.active or not m.runtime.active[x].ready.is_set()]
                if missing:
                    raise SystemExit(f"bench_plugins: not loaded after sync: {missing[:3]} {m.problems[-3:]}")
                for i, name in enumerate(names):
                    t0 = time.perf_counter()
                    assert m.runtime.call(name, "execute", {}, {}) == i
                    t1 = time.perf_counter()
                    m.runtime.call(name, "execute", {}, {})
                    t2 = time.perf_counter()
                    if r:
                        first_call.append(t1 - t0)
                        warm_call.append(t2 - t1)
                if r:
                    load[n].append(dt)
                    if n == 20:
                        t0 = time.perf_counter()
                        m.sync("bench")  # nothing changed
                        rescan.append((time.perf_counter() - t0) / (len(base) + n))
                if n == 20:  # an idle first-party plugin: loaded again idle, then called twice
                    v = m.runtime.active[idle_name]
                    m.runtime.load(v.candidate, v.verified, {}, v.settings, None, lazy=True)
                    assert m.runtime.active[idle_name].idle
                    t0 = time.perf_counter()
                    m.runtime.call(idle_name, "credentials", {}, {})  # a pure function of it
                    t1 = time.perf_counter()
                    m.runtime.call(idle_name, "credentials", {}, {})
                    t2 = time.perf_counter()
                    if r:
                        idle_first.append(t1 - t0)
                        idle_second.append(t2 - t1)
                for name in names:
                    (folder / f"{name}.py").unlink()
                m.sync("bench")
                assert set(m.runtime.active) == base, set(m.runtime.active) ^ base
    finally:
        m.close()
        tmp.cleanup()
    med1, med20 = statistics.median(load[1]), statistics.median(load[20])
    per = (med20 - med1) / 19 * 1000
    per_p99 = (pct(load[20], 99) - pct(load[1], 99)) / 19 * 1000
    extra_first = (statistics.median(first_call) - statistics.median(warm_call)) * 1000
    print(f"\n{rounds} rounds; sync() until every new plugin is ready, files dropped at once")
    print(f"{'what':52} {'median':>10} {'p99':>10}")
    print(f"{'1 plugin dropped (control)':52} {med1 * 1000:>8.1f}ms {pct(load[1], 99) * 1000:>8.1f}ms")
    print(f"{'20 plugins dropped':52} {med20 * 1000:>8.1f}ms {pct(load[20], 99) * 1000:>8.1f}ms")
    print(f"{'per plugin beyond the first ((20 - 1) / 19)':52} {per:>8.2f}ms {per_p99:>8.2f}ms   target <= 5 ms")
    fc, wc = ms(first_call), ms(warm_call)
    print(f"{'first call after the load':52} {fc['median_ms']:>8.3f}ms {fc['p99_ms']:>8.3f}ms")
    print(f"{'a second call (control)':52} {wc['median_ms']:>8.3f}ms {wc['p99_ms']:>8.3f}ms")
    print(f"{'first call beyond the second':52} {extra_first:>8.3f}ms {'':>10}   target < 20 ms")
    fi, si = ms(idle_first), ms(idle_second)
    extra_idle = fi["median_ms"] - si["median_ms"]
    print(f"{'idle first-party plugin: first call (starts it)':52} {fi['median_ms']:>8.3f}ms {fi['p99_ms']:>8.3f}ms")
    print(f"{'the same plugin: second call (control)':52} {si['median_ms']:>8.3f}ms {si['p99_ms']:>8.3f}ms")
    print(f"{'idle plugin: first call beyond the second':52} {extra_idle:>8.3f}ms {'':>10}   target < 20 ms")
    print(f"idle at start (no mapping uses them): {', '.join(idle_at_start) or 'none'}")
    cpu_med = {k: round(statistics.median(v), 2) for k, v in cpu.items()}
    total_cpu = sum(cpu_med.values())
    print(
        f"{'CPU per plugin (20 dropped): daemon + zygote + worker':52} {total_cpu:>8.2f}ms "
        f"({cpu_med['daemon']:.2f} + {cpu_med['zygote']:.2f} + {cpu_med['workers']:.2f}); "
        f"on {os.cpu_count()} CPUs the wall floor is {total_cpu / (os.cpu_count() or 1):.2f} ms"
    )
    rs = ms(rescan)
    print(f"{'warm rescan (nothing changed), per plugin':52} {rs['median_ms']:>8.3f}ms {rs['p99_ms']:>8.3f}ms")
    out = {
        "benchmark": "plugins",
        "quick": args.quick,
        "machine": info,
        "rounds": rounds,
        "first_party_plugins_running": sorted(base),
        "load_1": ms(load[1]),
        "load_20": ms(load[20]),
        "per_plugin_beyond_first_ms": {"median": round(per, 3), "p99": round(per_p99, 3)},
        "first_call": fc,
        "second_call": wc,
        "first_call_beyond_second_median_ms": round(extra_first, 3),
        "idle_first_party_at_start": idle_at_start,
        "idle_plugin_first_call": fi,
        "idle_plugin_second_call": si,
        "idle_plugin_first_call_beyond_second_median_ms": round(extra_idle, 3),
        "warm_rescan_per_plugin": rs,
        "cpu_per_plugin_ms": {**cpu_med, "total": round(total_cpu, 2)},
        "wall_floor_per_plugin_ms": round(total_cpu / (os.cpu_count() or 1), 2),
        "targets": {
            f"20 plugins dropped, per plugin beyond the first, median_ms<={TARGET_PER_PLUGIN_MS:g}": {
                "value": round(per, 3),
                "p99": round(per_p99, 3),
                "met": per <= TARGET_PER_PLUGIN_MS,
            },
            f"first call beyond the second, median_ms<{TARGET_FIRST_CALL_MS:g}": {
                "value": round(extra_first, 3),
                "met": extra_first < TARGET_FIRST_CALL_MS,
            },
            f"idle first-party plugin, first call beyond the second, median_ms<{TARGET_FIRST_CALL_MS:g}": {
                "value": round(extra_idle, 3),
                "p99_first_call_ms": fi["p99_ms"],
                "met": extra_idle < TARGET_FIRST_CALL_MS,
            },
        },
    }
    write_results(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
