#!/usr/bin/env python3
"""What the plan's manifest shapes cost when a folder plugin loads (issue 11, point 4).

    .venv/bin/python benchmarks/bench_plugin_toml.py [--quick] [--runs N]

Times, interleaved round-robin so the machine's load falls on every row alike:

- ``discovery.read`` of a folder plugin whose plugin.toml uses ``entry`` and a real checksum
  (the control);
- the same with the plan's manifest verbatim (``binary = "x.so"``, ``checksum = "sha256:..."``):
  the deprecation and placeholder warnings, the real checksum computed for the message;
- a plugin.toml with an unknown key: the error path, which places the key with
  ``config.locate`` (only errors pay for line numbers);
- ``mkdocs build --strict`` of the docs site (a few runs; what the suite's docs test costs).

The target is the plan's "plugin loading adds <5 ms overhead": the plan's shapes must add well
under 1 ms to a folder plugin's read. Writes benchmarks/results/plugin_toml.json.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, ms, write_results

from midimon.plugins import discovery
from midimon.plugins.manifest import ManifestError

ROOT = Path(__file__).resolve().parent.parent
ENTRY = 'def execute(params, context):\n    return params.get("url")\n'
PLAN = """[plugin]
name = "NAME"
version = "1.0.0"
description = "Make HTTP requests as actions"
author = "MIDIMon Team"
license = "MIT"
type = "action"  # or "trigger"
binary = "NAME.so"
checksum = "sha256:..."

[plugin.capabilities]
network = true
"""


def folder(base: Path, name: str, manifest: str) -> discovery.Candidate:
    d = base / name
    d.mkdir()
    (d / f"{name}.py").write_text(ENTRY)
    (d / "plugin.toml").write_text(manifest.replace("NAME", name))
    return discovery.Candidate(name, "folder", d)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=0)
    args = ap.parse_args()
    runs = args.runs or (300 if args.quick else 3000)
    out: dict = {"machine": machine(), "runs": runs}
    with tempfile.TemporaryDirectory(prefix="midimon-bench-toml-") as tmp:
        base = Path(tmp)
        real = "sha256:" + hashlib.sha256(ENTRY.encode()).hexdigest()
        entry_manifest = PLAN.replace('binary = "NAME.so"', 'entry = "NAME.py"').replace("sha256:...", real)
        control = folder(base, "control", entry_manifest)
        plan = folder(base, "plan", PLAN)
        broken = folder(base, "broken", PLAN.replace('license = "MIT"', 'license = "MIT"\nentyr = "broken.py"'))

        def read_broken() -> None:
            try:
                discovery.read(broken)
            except ManifestError:
                return
            raise AssertionError("the unknown key was not refused")

        rows: dict[str, Callable[[], object]] = {
            "entry_and_real_checksum": lambda: discovery.read(control),
            "plan_manifest_verbatim": lambda: discovery.read(plan),
            "unknown_key_error": read_broken,
        }
        times: dict[str, list[float]] = {k: [] for k in rows}
        for fn in rows.values():  # warm caches (schema checks, imports)
            fn()
        for _ in range(runs):
            for key, fn in rows.items():
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
        out["read"] = {k: ms(v) for k, v in times.items()}
        base_median = out["read"]["entry_and_real_checksum"]["median_ms"]
        out["plan_overhead_median_ms"] = round(out["read"]["plan_manifest_verbatim"]["median_ms"] - base_median, 3)

        builds = []
        for _ in range(1 if args.quick else 5):
            site = base / "site"
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
                cwd=ROOT,
                env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
                capture_output=True,
                text=True,
            )
            builds.append(time.perf_counter() - t0)
            if done.returncode != 0:
                raise SystemExit(f"mkdocs build failed:\n{done.stdout}{done.stderr}")
        out["mkdocs_build_strict"] = ms(builds)
    for key, row in out["read"].items():
        print(f"{key:28} median {row['median_ms']:.3f} ms  p99 {row['p99_ms']:.3f} ms")
    print(f"plan manifest overhead (median): {out['plan_overhead_median_ms']:.3f} ms")
    b = out["mkdocs_build_strict"]
    print(f"mkdocs build --strict: median {b['median_ms'] / 1000:.2f} s  max {b['max_ms'] / 1000:.2f} s  (n={b['n']})")
    write_results(Path(__file__).resolve().parent / "results" / "plugin_toml.json", out)


if __name__ == "__main__":
    main()
