#!/usr/bin/env python3
"""Memory benchmark (issue 13, point 4): PSS of a running daemon with 3 small plugins.

    .venv/bin/python benchmarks/bench_memory.py [--quick]

Starts a real `midimon run` on a private home whose config maps three notes to three small
plugin files, plays each note through the control socket (`send`) until every plugin has run,
then sums the proportional set size (PSS, from ``/proc/PID/smaps_rollup``) over the daemon and
all its descendants: the plugin zygote and the three workers. PSS splits each shared page
between the processes that map it, so the sum counts the interpreter, the libraries and the
pages a worker shares with the zygote once, where a sum of RSS would count them in every
process. The control, in the same run, is a bare ``python -c`` that sleeps: what any Python
process costs here.

Target: <= 60 MiB summed (median of the samples). Writes benchmarks/results/memory.json.
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
from benchlib import machine, write_results

ROOT = Path(__file__).resolve().parent
PY = sys.executable
MIDIMON = str(Path(PY).with_name("midimon"))
TARGET_MIB = 60.0
NOTES = {36: "bench_a", 37: "bench_b", 38: "bench_c"}
PLUGIN = '''"""Memory bench plugin {name}."""
version = "1.0.0"


def execute(params, context):
    return context["note"] * 2
'''


def config_text() -> str:
    out = ['[[modes]]\nname = "Default"\n']
    for note, name in NOTES.items():
        out.append(
            f'[[modes.mappings]]\ntrigger = {{ type = "Note", note = {note} }}\n'
            f'action = {{ type = "Plugin", plugin = "{name}" }}\n'
        )
    return "\n".join(out)


class Sock:
    def __init__(self, path: Path) -> None:
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(str(path))
        self.buf = b""
        self.n = 0

    def call(self, command: str, args: dict | None = None) -> dict:
        self.n += 1
        self.s.sendall(json.dumps({"id": self.n, "command": command, "args": args or {}}).encode() + b"\n")
        while True:
            while b"\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise SystemExit("bench_memory: the daemon closed the socket")
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\n")
            answer = json.loads(line)
            if answer.get("id") == self.n:
                return answer

    def close(self) -> None:
        self.s.close()


def wait_socket(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> Sock:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench_memory: midimon run exited with {proc.returncode}")
        try:
            s = Sock(path)
            if s.call("ping").get("ok"):
                return s
            s.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"bench_memory: no answer on {path} within {timeout:.0f} s")


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def role(pid: int, daemon: int) -> str:
    if pid == daemon:
        return "daemon"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "sandbox.zygote" in cmd:
        return "zygote"
    return "worker" if "python" in cmd or "-c" in cmd else cmd[:40]


def sample(daemon: int) -> dict:
    procs = []
    for pid in descendants(daemon):
        try:
            procs.append(
                {
                    "pid": pid,
                    "role": role(pid, daemon),
                    "pss_kib": kib(pid, "Pss"),
                    "rss_kib": kib(pid, "Rss"),
                    # pages no other process maps: unlike PSS, independent of what else runs
                    "uss_kib": kib(pid, "Private_Clean") + kib(pid, "Private_Dirty"),
                }
            )
        except (OSError, KeyError):
            continue
    # a worker forked by the zygote keeps the zygote's command line: the zygote is the parent
    zyg = [p["pid"] for p in procs if p["role"] == "zygote"]
    if zyg:
        kids = set(descendants(zyg[0])) - {zyg[0]}
        for p in procs:
            if p["pid"] in kids:
                p["role"] = "worker"
    return {
        "procs": procs,
        "pss_mib": sum(p["pss_kib"] for p in procs) / 1024,
        "uss_mib": sum(p["uss_kib"] for p in procs) / 1024,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "results" / "memory.json"))
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    info = machine()
    print(
        f"machine: {info['nproc']} CPU, {info['cpu_model']}, Python {info['python']}, load {info['loadavg_at_start']}"
    )
    samples_n = 3 if args.quick else 10
    with tempfile.TemporaryDirectory(prefix="midimon-bench-memory-") as tmp:
        home = Path(tmp) / "home"
        (home / "plugins").mkdir(parents=True)
        (home / "config.toml").write_text(config_text())
        for name in NOTES.values():
            (home / "plugins" / f"{name}.py").write_text(PLUGIN.format(name=name))
        env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
        env["MIDIMON_HOME"] = str(home)
        if not os.path.exists("/dev/snd/seq"):
            env.setdefault("MIDO_BACKEND", "mido.backends.rtmidi/LINUX_ALSA")
        control = subprocess.Popen([PY, "-c", "import time; time.sleep(600)"])
        daemon = subprocess.Popen(
            [MIDIMON, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            sock = wait_socket(home / "run" / "midimon.sock", daemon)
            # play every note until each plugin has answered once (workers may start lazily)
            deadline = time.monotonic() + 60
            fired = 0
            while time.monotonic() < deadline:
                for note in NOTES:
                    sock.call("send", {"type": "note_on", "note": note, "velocity": 100})
                time.sleep(0.3)
                stats = sock.call("status")["result"].get("stats", {})
                fired, failed = stats.get("actions_fired", 0), stats.get("actions_failed", 0)
                if fired - failed >= 2 * len(NOTES) and failed == 0:
                    break
            else:
                raise SystemExit(f"bench_memory: the plugins did not all run (fired {fired}, failed {failed})")
            time.sleep(1.0)  # let start-up garbage settle
            samples = []
            for _ in range(samples_n):
                samples.append(sample(daemon.pid))
                control_pss = kib(control.pid, "Pss") / 1024
                time.sleep(0.5)
            sock.close()
        finally:
            control.kill()
            control.wait()
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait(5)
    last = samples[-1]
    workers = [p for p in last["procs"] if p["role"] == "worker"]
    total = statistics.median(s["pss_mib"] for s in samples)
    uss = statistics.median(s["uss_mib"] for s in samples)
    by_role: dict[str, float] = {}
    for p in last["procs"]:
        by_role[p["role"]] = by_role.get(p["role"], 0.0) + p["pss_kib"] / 1024
    print(f"\nPSS summed over {len(last['procs'])} processes ({len(workers)} workers), median of {samples_n} samples")
    print(f"{'process':10} {'PSS MiB':>8} {'RSS MiB':>8} {'USS MiB':>8}")
    for p in sorted(last["procs"], key=lambda p: p["role"]):
        print(f"{p['role']:10} {p['pss_kib'] / 1024:>8.1f} {p['rss_kib'] / 1024:>8.1f} {p['uss_kib'] / 1024:>8.1f}")
    print(
        f"USS summed (private pages only; PSS moves with what else on the machine maps the same libraries): {uss:.1f} MiB"
    )
    print(f"{'total':10} {total:>8.1f}   target <= {TARGET_MIB:g}: {'MET' if total <= TARGET_MIB else 'NOT MET'}")
    print(f"control: a bare python -c sleeping, PSS {control_pss:.1f} MiB")
    out = {
        "benchmark": "memory",
        "quick": args.quick,
        "machine": info,
        "pss_total_mib": round(total, 1),
        "uss_total_mib": round(uss, 1),
        "pss_by_role_mib": {k: round(v, 1) for k, v in by_role.items()},
        "processes": last["procs"],
        "workers": len(workers),
        "control_bare_python_pss_mib": round(control_pss, 1),
        "targets": {
            f"PSS daemon + zygote + workers (3 plugins), MiB <= {TARGET_MIB:g}": {
                "value": round(total, 1),
                "met": total <= TARGET_MIB,
            }
        },
    }
    write_results(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
