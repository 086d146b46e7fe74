"""Plugin benchmarks: discovery + load of 20 plugins (first and warm), save -> new version
active, and a Plugin action's dispatch cost over a built-in action.

    .venv/bin/python benchmarks/bench_plugins.py [--json benchmarks/results/plugins.json]

"Load" of one plugin = scan entry, read the file once, sha256, signature check (unsigned,
policy allow), static declarations, a worker forked from the zygote, RestrictedPython compile
and the module's top level in the worker, and the swap into the registry. The first load starts
the workers in parallel (Runtime.load_many); the figure is the wall time of the whole first
scan divided by 20. "Warm" = a rescan
that finds nothing changed (what every watcher event and `midimon reload` costs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        # other work on the machine shows in these figures: record how busy it was
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(values_ms):
    return {
        "median_ms": round(statistics.median(values_ms), 3),
        "p95_ms": round(pct(values_ms, 95), 3),
        "p99_ms": round(pct(values_ms, 99), 3),
        "n": len(values_ms),
    }


PLUGIN = '''"""Bench plugin {i}."""
version = "1.0.{i}"
params_schema = {{"type": "object"}}
def execute(params, context):
    return {i}
'''


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="midimon-bench-"))
    os.environ["MIDIMON_HOME"] = str(home)
    from midimon.config.models import DelayAction, PluginAction
    from midimon.engine.actions import ActionRunner
    from midimon.plugins.manager import PluginManager
    from midimon.sandbox import prepare

    prepare()
    plugins = home / "plugins"
    plugins.mkdir()
    for i in range(20):
        (plugins / f"bench_{i:02d}.py").write_text(PLUGIN.format(i=i))
    first, warm = [], []
    load_before = machine()["loadavg_1_5_15"]
    for _ in range(args.rounds):
        m = PluginManager(home=home, watch=False)
        m.submit = lambda ev: None
        t0 = time.perf_counter()
        m.start()
        first.append((time.perf_counter() - t0) * 1000 / 20)
        assert len(m.runtime.active) == 20, m.runtime.errors
        for _ in range(20):
            t0 = time.perf_counter()
            m.sync("bench")
            warm.append((time.perf_counter() - t0) * 1000 / 20)
        m.close()

    # save -> new version active, through the watcher
    m = PluginManager(home=home, watch=True)
    m.submit = lambda ev: None
    m.start()
    target = plugins / "bench_00.py"
    swap = []
    for n in range(40):
        gen = m.runtime.active["bench_00"].generation
        tmp = target.with_name(".bench_00.py.tmp")
        tmp.write_text(PLUGIN.format(i=100 + n))
        t0 = time.perf_counter()
        os.replace(tmp, target)
        while m.runtime.active["bench_00"].generation == gen or not m.runtime.active["bench_00"].ready.is_set():
            time.sleep(0.0005)
        swap.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.05)

    # dispatch: Plugin action vs a built-in action through the same ActionRunner
    runner = ActionRunner(None, plugins=m.plugin_call)
    plugin_action = PluginAction(type="Plugin", plugin="bench_01", params={})
    builtin = DelayAction(type="Delay", ms=0)
    ctx = {
        "note": 36,
        "velocity": 100,
        "trigger": "Note",
        "description": "bench",
        "mode": "Default",
        "timestamp": time.time(),
        "channel": 0,
        "device": "bench",
        "cc": None,
        "value": None,
    }
    p_times, b_times = [], []
    for _ in range(50):
        runner.run(plugin_action, ctx)
    for _ in range(1000):
        t0 = time.perf_counter()
        runner.run(plugin_action, ctx)
        p_times.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        runner.run(builtin, ctx)
        b_times.append((time.perf_counter() - t0) * 1000)
    m.close()
    result = {
        "machine": {**machine(), "loadavg_at_start": load_before},
        "load_first_per_plugin": summary(first),
        "load_warm_per_plugin": summary(warm),
        "save_to_active": {**summary(swap), "p50_ms": round(statistics.median(swap), 3)},
        "dispatch_plugin_action": summary(p_times),
        "dispatch_builtin_action": summary(b_times),
        "dispatch_overhead_median_ms": round(statistics.median(p_times) - statistics.median(b_times), 3),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
