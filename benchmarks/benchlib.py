"""What every benchmark script shares: the machine it ran on, percentiles."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = []
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "loadavg_at_start": load,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank); NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def ms(values_s: list[float]) -> dict:
    v = [x * 1000 for x in values_s]
    return {
        "n": len(v),
        "median_ms": round(statistics.median(v), 3),
        "p99_ms": round(pct(v, 99), 3),
        "min_ms": round(min(v), 3),
        "max_ms": round(max(v), 3),
    }


def write_results(path: str | Path, out: dict) -> None:
    """Write a benchmark's figures (with the load average at its end) as JSON and say where."""
    try:
        out.setdefault("machine", {})["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        pass
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {path}")
