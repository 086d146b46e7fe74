#!/usr/bin/env python3
"""Config benchmark (issue 13, point 2): ``midimon.config.load_config`` in process, 1,000
mappings against 100 against 1.

    .venv/bin/python benchmarks/bench_config.py [--quick]

Generates realistic MIDIMon-style configs (table-style ``[modes.mappings.trigger]`` sections,
a mix of every trigger and action type, several modes plus global mappings) with 1, 100 and
1,000 mappings, writes them to a temporary directory, and times ``load_config(path)`` (read,
sha256, TOML, legacy rewrite, pydantic validation, cross checks) on each, interleaved round by
round so that the machine's load falls on every size alike. The row's figure is the size's
median (and p99) minus the 1-mapping control's. Then, for information: a reload's whole build
(the engine's checks and ``compile_table`` on top), the loader's phases one by one, and the
four real configs in ../shared/compat/midimon/ when present.

Targets: 100 mappings <= 5 ms beyond 1, 1,000 <= 50 ms beyond 1 (median; p99 reported).
Writes benchmarks/results/config.json.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, ms, pct, write_results

from midimon.config import legacy, load_config, loader
from midimon.config.home import Home
from midimon.config.models import Config
from midimon.engine.table import compile_table

ROOT = Path(__file__).resolve().parent
COMPAT = ROOT.parent.parent / "shared" / "compat" / "midimon"
pc = time.perf_counter
SIZES = (1, 100, 1000)
TARGETS_MS = {100: 5.0, 1000: 50.0}


# ---------------------------------------------------------------------------- the configs

TRIGGERS = [  # (weight, kind)
    (38, "Note"),
    (8, "VelocityRange"),
    (8, "LongPress"),
    (6, "DoubleTap"),
    (6, "NoteChord"),
    (12, "EncoderTurn"),
    (12, "CC"),
    (5, "Aftertouch"),
    (5, "PitchBend"),
]
ACTIONS = [
    (32, "Keystroke"),
    (12, "Shell"),
    (6, "Launch"),
    (8, "VolumeControl"),
    (6, "ModeChange"),
    (14, "SendMidi"),
    (4, "Text"),
    (6, "Sequence"),
    (6, "Conditional"),
    (3, "MouseClick"),
    (3, "Repeat"),
]
KEYS = ["space", "a", "b", "c", "f1", "f5", "tab", "return", "left", "right", "up", "down", "z", "s", "escape"]
MODS = [[], ["cmd"], ["ctrl"], ["ctrl", "shift"], ["alt"], ["cmd", "shift"]]


def pick(rng: random.Random, table) -> str:
    return rng.choices([k for _, k in table], weights=[w for w, _ in table])[0]


def trigger_toml(rng: random.Random, kind: str, i: int) -> list[str]:
    note = i % 128
    out = [f'type = "{kind}"']
    if kind == "Note":
        out.append(f"note = {note}")
        if rng.random() < 0.3:
            out.append(f"velocity_min = {rng.randint(1, 60)}")
    elif kind == "VelocityRange":
        out += [
            f"note = {note}",
            "soft_max = 40",
            "medium_max = 80",
            f'level = "{rng.choice(["soft", "medium", "hard"])}"',
        ]
    elif kind == "LongPress":
        out += [f"note = {note}", f"duration_ms = {rng.choice([500, 1000, 1500])}"]
    elif kind == "DoubleTap":
        out += [f"note = {note}", "timeout_ms = 300"]
    elif kind == "NoteChord":
        out += [f"notes = [{note}, {(note + 4) % 128}, {(note + 7) % 128}]", "timeout_ms = 80"]
    elif kind == "EncoderTurn":
        out += [
            f"cc = {i % 128}",
            f'direction = "{rng.choice(["Clockwise", "CounterClockwise"])}"',
            f'encoding = "{rng.choice(["twos_complement", "sign_magnitude", "binary_offset"])}"',
        ]
    elif kind == "CC":
        out += [f"cc = {i % 128}", "value_min = 64", "value_max = 127"]
    elif kind == "Aftertouch":
        out.append(f"pressure_min = {rng.randint(1, 100)}")
    elif kind == "PitchBend":
        out += ["value_min = 8192", "value_max = 16383"]
    if rng.random() < 0.15:
        out.append(f"channel = {rng.randint(0, 15)}")
    return out


def action_inline(rng: random.Random, kind: str, modes: list[str]) -> str:
    """A simple action as an inline table (used inside Sequence / Conditional / Repeat)."""
    if kind == "Keystroke":
        return f'{{ type = "Keystroke", keys = "{rng.choice(KEYS)}", modifiers = {json.dumps(rng.choice(MODS))} }}'
    if kind == "Delay":
        return f'{{ type = "Delay", ms = {rng.choice([10, 50, 100])} }}'
    if kind == "SendMidi":
        return f'{{ type = "SendMidi", message_type = "NoteOn", note = {rng.randint(0, 127)}, velocity = 100 }}'
    return '{ type = "Text", text = "hello" }'


def action_toml(rng: random.Random, kind: str, modes: list[str]) -> list[str]:
    out = [f'type = "{kind}"']
    if kind == "Keystroke":
        out += [f'keys = "{rng.choice(KEYS)}"', f"modifiers = {json.dumps(rng.choice(MODS))}"]
    elif kind == "Shell":
        out += [f'command = "notify-send midimon pad-{rng.randint(0, 999)}"', "timeout_ms = 5000"]
    elif kind == "Launch":
        out.append(f'app = "{rng.choice(["firefox", "Terminal", "Spotify", "code"])}"')
    elif kind == "VolumeControl":
        op = rng.choice(["Up", "Down", "Mute", "Toggle"])
        out += [f'operation = "{op}"', "step = 5"]
    elif kind == "ModeChange":
        out.append(f'mode = "{rng.choice(modes + ["next", "previous"])}"')
    elif kind == "SendMidi":
        mt = rng.choice(["NoteOn", "CC", "ProgramChange"])
        out.append(f'message_type = "{mt}"')
        out += {
            "NoteOn": [f"note = {rng.randint(0, 127)}"],
            "CC": [f"controller = {rng.randint(0, 127)}"],
            "ProgramChange": [f"program = {rng.randint(0, 127)}"],
        }[mt]
        out.append(f"channel = {rng.randint(0, 15)}")
    elif kind == "Text":
        out.append('text = "git status\\n"')
    elif kind == "Sequence":
        subs = [action_inline(rng, k, modes) for k in ("Keystroke", "Delay", "Keystroke")]
        out.append("actions = [" + ", ".join(subs) + "]")
    elif kind == "Conditional":
        cond = rng.choice(
            [
                '{ type = "TimeRange", start = "09:00", end = "17:00" }',
                f'{{ type = "ModeIs", mode = "{rng.choice(modes)}" }}',
                '{ type = "DayOfWeek", days = ["Mon", "Tue", "Wed", "Thu", "Fri"] }',
            ]
        )
        out += [
            f"condition = {cond}",
            f"then_action = {action_inline(rng, 'Keystroke', modes)}",
            f"else_action = {action_inline(rng, 'Keystroke', modes)}",
        ]
    elif kind == "MouseClick":
        out += ['button = "Left"', "clicks = 2"]
    elif kind == "Repeat":
        out += ["count = 3", "delay_ms = 20", f"action = {action_inline(rng, 'Keystroke', modes)}"]
    return out


def make_config(n: int, seed: int = 2) -> str:
    rng = random.Random(seed)
    n_modes = 4 if n < 500 else 8
    modes = [f"Mode{i}" for i in range(n_modes)]
    n_global = max(1, n // 10)
    per_mode = (n - n_global) // n_modes
    lines = [
        "# generated by benchmarks/bench_config.py",
        "[device]",
        'name = "Maschine Mikro MK3"',
        "auto_connect = true",
        'virtual_output = "midimon"',
        "",
        "[advanced_settings]",
        "chord_timeout_ms = 50",
        "double_tap_timeout_ms = 300",
        "hold_threshold_ms = 1000",
        "",
        "[logging]",
        'level = "info"',
        "",
    ]
    count = 0

    def mapping(section: str, i: int) -> None:
        nonlocal count
        t, a = pick(rng, TRIGGERS), pick(rng, ACTIONS)
        lines.append(f"# pad {i}: {t} -> {a}")
        lines.append(f"[[{section}]]")
        lines.append(f'description = "{t} {i} -> {a}"')
        lines.append(f"[{section}.trigger]")
        lines.extend(trigger_toml(rng, t, i))
        lines.append(f"[{section}.action]")
        lines.extend(action_toml(rng, a, modes))
        if a == "SendMidi" and rng.random() < 0.5:
            lines.append(f"[{section}.velocity_curve]")
            lines.extend(['type = "Curve"', 'curve = "Exponential"', "intensity = 0.4"])
        lines.append("")
        count += 1

    for m, name in enumerate(modes):
        lines += ["[[modes]]", f'name = "{name}"', f'color = "{rng.choice(["blue", "green", "red", "purple"])}"', ""]
        for j in range(per_mode):
            mapping("modes.mappings", m * per_mode + j)
    while count < n:
        mapping("global_mappings", count)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- timing


def time_loads(paths: dict[int, Path], rounds: dict[int, int]) -> dict[int, list[float]]:
    """load_config(path) for every size, interleaved; a size runs until it has its rounds."""
    for path in paths.values():
        for _ in range(3):
            load_config(path)
    out: dict[int, list[float]] = {n: [] for n in paths}
    gc.collect()
    for r in range(max(rounds.values())):
        for n, path in paths.items():
            if r < rounds[n]:
                t0 = pc()
                load_config(path)
                out[n].append(pc() - t0)
    return out


def engine_checks(home: Path) -> list:
    try:
        from midimon.engine.checks import config_checks
    except ImportError:  # an older tree: the checks lived in the daemon
        from midimon.engine.daemon import config_checks

        return list(config_checks())
    return list(config_checks(Home.at(home)))


def time_build(path: Path, checks: list, runs: int) -> list[float]:
    """A reload's whole build: load with the engine's checks, then compile the table."""
    out = []
    for r in range(runs + 3):
        t0 = pc()
        result = load_config(path, checks=checks)
        compile_table(result.config, str(path), result.sha256)
        if r >= 3:
            out.append(pc() - t0)
    return out


def time_phases(path: Path, checks: list, runs: int) -> dict:
    """The loader's phases one at a time, the way config/loader.py runs them."""
    names = ["read+sha256+decode", "toml parse", "legacy rewrite", "pydantic validate", "cross checks"]
    names += ["engine checks", "compile_table"]
    samples: dict[str, list[float]] = {k: [] for k in names}
    for r in range(runs + 3):
        was = gc.isenabled()
        gc.disable()  # as load_config does
        t = [pc()]
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        source = data.decode("utf-8")
        t.append(pc())
        raw = loader._parse_toml(source, str(path))
        t.append(pc())
        if legacy.may_need_rewrite(source):
            legacy.rewrite(raw)
        t.append(pc())
        config = Config.model_validate(raw)
        t.append(pc())
        list(loader._cross_checks(config))
        t.append(pc())
        [d for c in checks for d in c(config)]
        t.append(pc())
        if was:
            gc.enable()
        compile_table(config, str(path), digest)
        t.append(pc())
        if r >= 3:
            for k, name in enumerate(names):
                samples[name].append(t[k + 1] - t[k])
    total = sum(statistics.median(v) for v in samples.values())
    out = {}
    for name, v in samples.items():
        med = statistics.median(v)
        out[name] = {
            "median_ms": round(med * 1000, 3),
            "p99_ms": round(pct(v, 99) * 1000, 3),
            "share": round(med / total, 3),
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "results" / "config.json"))
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    rounds = {1: 400, 100: 400, 1000: 100} if not args.quick else {1: 60, 100: 60, 1000: 15}
    info = machine()
    print(
        f"machine: {info['nproc']} CPU, {info['cpu_model']}, Python {info['python']}, load {' '.join(info['loadavg_at_start'])}"
    )
    print(f"TOML parser on the good path: {'rtoml' if loader.rtoml is not None else loader.tomllib.__name__}")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="midimon-bench-config-") as tmp:
        paths = {}
        for n in SIZES:
            paths[n] = Path(tmp) / f"config-{n}.toml"
            paths[n].write_text(make_config(n))
            loaded = load_config(paths[n])
            count = sum(len(m.mappings) for m in loaded.config.modes) + len(loaded.config.global_mappings)
            assert count == n, (count, n)
        samples = time_loads(paths, rounds)
        control = samples[1]
        c_med, c_p99 = statistics.median(control) * 1000, pct(control, 99) * 1000
        checks = engine_checks(Path(tmp))
        for n, path in paths.items():
            row = ms(samples[n])
            row["beyond_1_median_ms"] = round(row["median_ms"] - c_med, 3)
            row["beyond_1_p99_ms"] = round(row["p99_ms"] - c_p99, 3)
            results[str(n)] = {
                "mappings": n,
                "bytes": path.stat().st_size,
                "load_config": row,
                "build_with_engine_checks_and_compile": ms(time_build(path, checks, max(10, rounds[n] // 4))),
                "phases": time_phases(path, checks, max(10, rounds[n] // 4)),
            }
            if n in TARGETS_MS:
                results[str(n)]["target_beyond_1_ms"] = TARGETS_MS[n]
                results[str(n)]["met"] = row["beyond_1_median_ms"] <= TARGETS_MS[n]
        compat = {}
        if COMPAT.is_dir():
            for f in sorted(COMPAT.glob("*.toml")):
                result = load_config(f)
                runs = 20 if args.quick else 100
                t = []
                for _ in range(runs):
                    t0 = pc()
                    load_config(f)
                    t.append(pc() - t0)
                count = sum(len(m.mappings) for m in result.config.modes) + len(result.config.global_mappings)
                compat[f.name] = {"mappings": count, "warnings": len(result.warnings), **ms(t)}
    print("\nload_config(path) from a file on disk, sizes interleaved")
    print(f"{'config':30} {'KiB':>5} {'median ms':>10} {'p99 ms':>8} {'beyond 1':>9} {'p99 beyond':>11} {'target':>7}")
    for n, r in results.items():
        b = r["load_config"]
        target = f"<={r['target_beyond_1_ms']:g}" if "target_beyond_1_ms" in r else "control"
        verdict = ("MET" if r["met"] else "NOT MET") if "met" in r else ""
        print(
            f"{'generated, ' + n + ' mappings':30} {r['bytes'] / 1024:>5.0f} {b['median_ms']:>10.2f} {b['p99_ms']:>8.2f} "
            f"{b['beyond_1_median_ms']:>+9.2f} {b['beyond_1_p99_ms']:>+11.2f} {target:>7} {verdict}"
        )
    for name, r in compat.items():
        print(f"{name[:30]:30} {'':>5} {r['median_ms']:>10.2f} {r['p99_ms']:>8.2f}   ({r['warnings']} warnings)")
    print("\na reload's build (engine checks + compile_table on top), median / p99 ms")
    for n, r in results.items():
        b = r["build_with_engine_checks_and_compile"]
        print(f"  {n:>5} mappings: {b['median_ms']:.2f} / {b['p99_ms']:.2f}")
    print("\nwhere the time goes (median ms, share of the sum)")
    names = list(results["100"]["phases"])
    print(f"{'phase':22} " + " ".join(f"{n + ' mappings':>20}" for n in results))
    for k in names:
        print(
            f"{k:22} "
            + " ".join(
                f"{results[n]['phases'][k]['median_ms']:>11.3f} ({results[n]['phases'][k]['share'] * 100:4.1f}%)"
                for n in results
            )
        )
    out = {
        "benchmark": "config",
        "quick": args.quick,
        "machine": info,
        "parser": "rtoml" if loader.rtoml is not None else loader.tomllib.__name__,
        "generated": results,
        "compat": compat,
        "targets": {
            f"load_config {n} mappings beyond 1, median_ms<={TARGETS_MS[int(n)]:g}": {
                "value": r["load_config"]["beyond_1_median_ms"],
                "p99": r["load_config"]["beyond_1_p99_ms"],
                "met": r["met"],
            }
            for n, r in results.items()
            if "met" in r
        },
    }
    write_results(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
