#!/usr/bin/env python3
"""What round 2's confinement and command grants cost: the seccomp allow list per system call,
a worker start with the privilege drop, the zygote's codec preload, a ``shell.run`` with a
fresh HOME against one in the data folder.

Run: .venv/bin/python benchmarks/bench_round2_confine.py [--out FILE] [--quick]
Prints a table and writes JSON (default: benchmarks/results/round2_confine.json).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine, ms, write_results

from midimon.sandbox import AuditLog, Grants, Limits, PluginHost, spawner
from midimon.sandbox.capabilities.base import CapabilityContext
from midimon.sandbox.capabilities.shell import ShellCapability
from midimon.sandbox.services import HostServices

#: A tight loop of a real system call (getppid: no vDSO shortcut), in a fresh process that
#: confines itself first (or not): nanoseconds per call.
SYSCALL_LOOP = r"""
import json, os, sys, time
OUT = os.dup(1)
if sys.argv[1] != "plain":
    from midimon.sandbox import confine, syscalls
    if sys.argv[1] == "deny_list":  # the filter round 1 had: 12 calls refused, all else allowed
        import struct
        def deny_list(machine=None):
            denied = [41, 53, 101, 425, 310, 311, 56, 57, 58, 59, 322, 435]
            st = lambda c, k: struct.pack("=HBBI", c, 0, 0, k)
            jq = lambda k, t, f: struct.pack("=HBBI", 0x15, t, f, k)
            prog = [st(0x20, 4), jq(0xC000003E, 1, 0), st(0x06, 0x50001), st(0x20, 0),
                    struct.pack("=HBBI", 0x35, 0, 1, 0x40000000), st(0x06, 0x50001)]
            prog += [jq(nr, len(denied) - i, 0) for i, nr in enumerate(sorted(denied))]
            return prog + [st(0x06, 0x7FFF0000), st(0x06, 0x50001)]
        syscalls.program = deny_list
    confine.apply((OUT,))
n = int(sys.argv[2])
best = None
for _ in range(5):
    t = time.perf_counter_ns()
    for _ in range(n):
        os.getppid()
    dt = (time.perf_counter_ns() - t) / n
    best = dt if best is None or dt < best else best
os.write(OUT, json.dumps(best).encode())
"""


def syscall_cost(mode: str, n: int) -> float:
    proc = subprocess.run([sys.executable, "-c", SYSCALL_LOOP, mode, str(n)], capture_output=True, timeout=120)
    return float(json.loads(proc.stdout))


def codec_preload() -> float:
    """Seconds a fresh interpreter spends importing every codec (what a root zygote adds)."""
    code = "import time; t = time.perf_counter(); from midimon.sandbox.privileges import preload_codecs; "
    code += "preload_codecs(); print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout)


def worker_starts(n: int, tmp: Path) -> list[float]:
    spawner.prepare()
    out = []
    for i in range(n):
        t = time.perf_counter()
        host = PluginHost(
            f"b{i}",
            "def f():\n    return 1\n",
            f"b{i}.py",
            limits=Limits(call_timeout=5),
            data_dir=tmp / f"d{i}",
            audit=AuditLog(tmp / "audit.jsonl"),
        )
        host.start()
        host.call("f")
        out.append(time.perf_counter() - t)
        host.stop()
    return out


def zygote_starts(n: int) -> list[float]:
    out = []
    for _ in range(n):
        spawner.shutdown()
        t = time.perf_counter()
        spawner.prepare()
        out.append(time.perf_counter() - t)
    return out


def shell_runs(n: int, tmp: Path, data_home: bool) -> list[float]:
    grants = Grants.from_dict({"capabilities": ["subprocess"], "allow": {"commands": ["true"], "data_home": data_home}})
    ctx = CapabilityContext("bench", grants, HostServices(), tmp / "shell", AuditLog(tmp / "audit.jsonl"))
    cap = ShellCapability(ctx)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        cap.run(["true"])
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "round2_confine.json"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 10 if args.quick else 40
    loops = 50_000 if args.quick else 300_000
    results: dict[str, Any] = {"machine": machine(), "root": os.geteuid() == 0}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        results["getppid_ns"] = {
            mode: min(syscall_cost(mode, loops) for _ in range(3)) for mode in ("plain", "deny_list", "allow_list")
        }
        results["codec_preload"] = ms([codec_preload() for _ in range(3)])
        results["worker_start"] = ms(worker_starts(n, tmp))
        results["zygote_start"] = ms(zygote_starts(max(3, n // 5)))
        results["shell_true_fresh_home"] = ms(shell_runs(n, tmp, False))
        results["shell_true_data_home"] = ms(shell_runs(n, tmp, True))
    spawner.shutdown()
    g = results["getppid_ns"]
    print(
        f"getppid: plain {g['plain']:.0f} ns, round 1's deny list {g['deny_list']:.0f} ns, "
        f"the allow list {g['allow_list']:.0f} ns"
    )
    for key in ("codec_preload", "worker_start", "zygote_start", "shell_true_fresh_home", "shell_true_data_home"):
        r = results[key]
        print(f"{key:<24} median {r['median_ms']:8.2f} ms  p99 {r['p99_ms']:8.2f} ms  (n={r['n']})")
    write_results(args.out, results)


if __name__ == "__main__":
    main()
