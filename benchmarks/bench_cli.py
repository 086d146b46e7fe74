#!/usr/bin/env python3
"""CLI start-up benchmark (issue 13, point 1): what a thin client pays beyond a bare Python start.

    .venv/bin/python benchmarks/bench_cli.py [--quick] [--runs N]

Starts a real `midimon run` on a private home (no MIDI API needed: with none, the daemon says so
and keeps serving its socket), then times, interleaved round-robin so that the machine's load
falls on every row alike, N wall-clock runs each of:

- the control, ``python -c pass`` with the same interpreter, environment and bytecode cache;
- ``midimon status --json``, ``midimon send note_on note=36 velocity=100``, ``midimon mode --json``
  against the daemon;
- ``midimon status --json`` with no daemon (the "not running" answer), and ``midimon --help``.

Bytecode is cached in a private ``PYTHONPYCACHEPREFIX`` (an installed midimon has its ``.pyc``
files; a checkout run with ``PYTHONDONTWRITEBYTECODE`` would measure the compiler instead), and
one warm-up round is not counted. Each row is reported as median and p99 and as "beyond the
control" (the row's median minus the control's median, and the same for p99).

Target: status and send <= 100 ms beyond the control (median). Writes benchmarks/results/cli.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, ms, pct, write_results

ROOT = Path(__file__).resolve().parent
PY = sys.executable
MIDIMON = str(Path(PY).with_name("midimon"))
CONFIG = """\
[[modes]]
name = "Default"
[[modes.mappings]]
trigger = { type = "Note", note = 36 }
action = { type = "Delay", ms = 0 }
[[modes]]
name = "Other"
"""
TARGET_MS = 100.0


def _env(home: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "XDG_RUNTIME_DIR")}
    env.update(MIDIMON_HOME=str(home), PYTHONPYCACHEPREFIX=str(cache))
    if not os.path.exists("/dev/snd/seq"):
        # no ALSA sequencer here: the daemon reports "no usable MIDI back end" and keeps serving
        env.setdefault("MIDO_BACKEND", "mido.backends.rtmidi/LINUX_ALSA")
    return env


def _wait_socket(path: Path, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench_cli: midimon run exited with {proc.returncode}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect(str(path))
                s.sendall(b'{"id": 1, "command": "ping", "args": {}}\n')
                if b'"ok": true' in s.recv(4096).replace(b'"ok":true', b'"ok": true'):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"bench_cli: no answer on {path} within {timeout:.0f} s")


def _time(argv: list[str], env: dict[str, str], expect: int) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env, capture_output=True)
    dt = time.perf_counter() - t0
    if p.returncode != expect:
        raise SystemExit(
            f"bench_cli: {' '.join(argv)} exited {p.returncode} (expected {expect}): {p.stderr.decode()[-500:]}"
        )
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--out", default=str(ROOT / "results" / "cli.json"))
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    runs = args.runs or (15 if args.quick else 100)
    info = machine()
    print(
        f"machine: {info['nproc']} CPU, {info['cpu_model']}, Python {info['python']}, load {info['loadavg_at_start']}"
    )
    with tempfile.TemporaryDirectory(prefix="midimon-bench-cli-") as tmp:
        home, empty, cache = Path(tmp) / "home", Path(tmp) / "empty", Path(tmp) / "pycache"
        home.mkdir()
        empty.mkdir()
        (home / "config.toml").write_text(CONFIG)
        env, env_none = _env(home, cache), _env(empty, cache)
        daemon = subprocess.Popen(
            [MIDIMON, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            _wait_socket(home / "run" / "midimon.sock", daemon)
            rows: dict[str, tuple[list[str], dict[str, str], int]] = {
                "python -c pass (control)": ([PY, "-c", "pass"], env, 0),
                "midimon status --json": ([MIDIMON, "status", "--json"], env, 0),
                "midimon send note_on note=36 velocity=100": (
                    [MIDIMON, "send", "note_on", "note=36", "velocity=100"],
                    env,
                    0,
                ),
                "midimon mode --json": ([MIDIMON, "mode", "--json"], env, 0),
                "midimon status --json, no daemon": ([MIDIMON, "status", "--json"], env_none, 1),
                "midimon --help": ([MIDIMON, "--help"], env, 0),
            }
            samples: dict[str, list[float]] = {k: [] for k in rows}
            for r in range(runs + 1):  # round 0 warms the bytecode cache and the page cache
                for name, (argv, e, expect) in rows.items():
                    dt = _time(argv, e, expect)
                    if r:
                        samples[name].append(dt)
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait(5)
    control = samples["python -c pass (control)"]
    c_med, c_p99 = statistics.median(control) * 1000, pct(control, 99) * 1000
    results: dict[str, dict] = {}
    print(f"\n{runs} runs each, interleaved; wall clock of the whole process")
    print(f"{'command':44} {'median ms':>10} {'p99 ms':>8} {'beyond control':>16} {'p99 beyond':>11}")
    for name, v in samples.items():
        s = ms(v)
        s["beyond_control_median_ms"] = round(s["median_ms"] - c_med, 3)
        s["beyond_control_p99_ms"] = round(s["p99_ms"] - c_p99, 3)
        results[name] = s
        print(
            f"{name:44} {s['median_ms']:>10.1f} {s['p99_ms']:>8.1f} {s['beyond_control_median_ms']:>+15.1f}  "
            f"{s['beyond_control_p99_ms']:>+10.1f}"
        )
    targets = {
        f"{row} beyond python -c pass, median <= {TARGET_MS:g} ms": {
            "value": results[row]["beyond_control_median_ms"],
            "p99": results[row]["beyond_control_p99_ms"],
            "met": results[row]["beyond_control_median_ms"] <= TARGET_MS,
        }
        for row in ("midimon status --json", "midimon send note_on note=36 velocity=100")
    }
    for k, t in targets.items():
        print(f"{k}: {t['value']:+.1f} ms ({'MET' if t['met'] else 'NOT MET'})")
    out = {
        "benchmark": "cli",
        "quick": args.quick,
        "machine": info,
        "runs": runs,
        "rows": results,
        "targets": targets,
    }
    write_results(args.out, out)
    print(json.dumps(targets, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
