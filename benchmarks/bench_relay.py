#!/usr/bin/env python3
"""The in-cycle JACK relay (issue 13 point 5) against its controls, in one run.

    .venv/bin/python benchmarks/bench_relay.py [--quick]

A private JACK server (dummy driver, 48 kHz, -p 256, sync mode), then paced note-ons from this
harness, each with a unique (note, velocity) id, through:

  1. the transport alone: harness out -> harness in, connected directly;
  2. a bare mido echo in its own process (what any Python JACK client pays);
  3. `midimon run` with the relay off (MIDIMON_JACK_RELAY=0): today's path;
  4. `midimon run` with the in-cycle relay;
  5-6. 3 and 4 again under load: a busy plugin called 10 times a second over the control
     socket (each call burns ~50 ms of CPU in its worker) and a reload storm (the config saved
     every 100 ms, so the daemon parses, validates and compiles under the GIL all the time);
  7. the transport alone again (drift).

Each path also plays bursts of 8 back-to-back note-ons (they share a JACK period) and counts
reordered arrivals: one arriving after a message sent later. Latency is reported beyond the
transport alone (the mean of 1 and 7). jackd's log is scanned for client process errors and
engine xruns; the dummy driver's own late wake-ups on a loaded machine (JackTimedDriver) are
counted apart. The daemon's PSS (itself and its workers) is sampled with the relay off and on.
Writes benchmarks/results/relay.json.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_jack import PERIOD_MS, Bench, summary_ms
from bench_memory import descendants
from benchlib import machine, pct, write_results

ROOT = Path(__file__).resolve().parent
pc = time.perf_counter
BURST = 8

BUSY_PLUGIN = '''"""Relay bench: a plugin that keeps its worker busy."""
version = "1.0.0"


def execute(params, context):
    total = 0
    for i in range(150000):
        total = total + i
    return total
'''


MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")  # an smaps header line: one mapping's range


def pss_mib(root: int) -> dict:
    """PSS of the daemon and its workers, with JACK's shared segment (/dev/shm/jack-*, mapped by
    every JACK client and jackd, and touched more or less by each) apart from midimon's own."""
    own = jack = 0
    for pid in descendants(root):
        try:
            text = Path(f"/proc/{pid}/smaps").read_text()
        except OSError:
            continue
        shm = False
        for line in text.splitlines():
            if MAPPING.match(line):
                shm = "/dev/shm/jack" in line
            elif line.startswith("Pss:"):
                kib = int(line.split()[1])
                if shm:
                    jack += kib
                else:
                    own += kib
    return {"own": round(own / 1024, 1), "jack_shm": round(jack / 1024, 1)}


class FrameHarness:
    """Two JACK clients of midimon's own relay library, timing in JACK frames: the out client
    reports the frame each note left at, the in client the frame it arrived at. Both read one
    server clock, so a path's latency is exact, free of the Python harness's scheduling noise
    (its wall-clock p99 moves by ~2 ms between two runs of the same path here)."""

    def __init__(self, tag: str, cache: Path) -> None:
        from midimon.engine.backends.jackrelay import build
        from midimon.engine.backends.jackrelay.client import Relay

        lib = build.load(cache)
        self.out, self.inp = Relay(lib, f"{tag}-fo"), Relay(lib, f"{tag}-fi")
        self.oi = self.out.add_port(f"{tag}-fsrc", output=True)
        self.ii = self.inp.add_port(f"{tag}-fin", output=False)
        self.src, self.dst = self.out.port_name(self.oi), self.inp.port_name(self.ii)
        self.left: dict[int, int] = {}
        self.arrived: dict[int, int] = {}
        self.order: list[int] = []
        self.out.stamp_sent(True)
        self.out.on_raw = self._left
        self.inp.on_raw = self._arrive
        self.rate = self.out.rate

    def _left(self, seq: int, _port: int, flags: int, frame: int, _data: bytes) -> None:
        if flags & 4:  # FLAG_SENT
            self.left[seq] = frame

    def _arrive(self, _seq: int, _port: int, _flags: int, frame: int, data: bytes) -> None:
        if len(data) == 3 and data[0] & 0xF0 == 0x90:
            key = data[1] * 128 + data[2]
            self.arrived[key] = frame
            self.order.append(key)

    def connect(self, src: str, dst: str) -> None:
        if not self.out.connect(src, dst):
            raise RuntimeError(f"jack_connect {src} {dst} failed")

    def disconnect(self, src: str, dst: str) -> None:
        subprocess.run(["jack_disconnect", src, dst], capture_output=True, timeout=10)

    def play(self, n: int, rate: float, burst: int) -> dict:
        ids = [(i % 128) * 128 + 1 + (i // 128) % 127 for i in range(n)]
        self.left.clear()
        self.arrived.clear()
        self.order.clear()
        gap = burst / rate
        start = pc() + 0.05
        for b0 in range(0, n, burst):
            d = start + (b0 // burst) * gap - pc()
            if d > 0:
                time.sleep(d)
            for key in ids[b0 : b0 + burst]:
                self.out.send(self.oi, bytes([0x90, key // 128, key % 128]), key)
        time.sleep(0.5)
        frames = sorted((self.arrived[k] - self.left[k]) % 2**32 for k in ids if k in self.arrived and k in self.left)
        rank = {k: i for i, k in enumerate(ids)}
        highest, reordered = -1, 0
        for k in self.order:
            if rank[k] < highest:
                reordered += 1
            highest = max(highest, rank[k])
        ms = [f / self.rate * 1000 for f in frames]
        out: dict = {"n": len(frames), "sent": n, "lost": n - len(frames), "reordered": reordered}
        if frames:
            out.update(
                p50_frames=frames[len(frames) // 2],
                p99_frames=frames[min(len(frames) - 1, int(len(frames) * 0.99))],
                max_frames=frames[-1],
                p50_ms=round(pct(ms, 50), 3),
                p99_ms=round(pct(ms, 99), 3),
            )
        return out

    def close(self) -> None:
        self.out.close()
        self.inp.close()


class RelayBench(Bench):
    def open_ports(self) -> None:
        super().open_ports()
        self.arrivals: list[int] = []
        recv, arrivals = self.recv, self.arrivals

        def on_msg(msg, _pc=pc) -> None:
            t = _pc()
            if msg.type == "note_on":
                key = msg.note * 128 + msg.velocity
                recv[key] = t
                arrivals.append(key)

        self.inp.callback = on_msg

    def play_ids(self, n: int, burst: int, warmup: int = 40) -> dict:
        """n note-ons, ``burst`` back to back at a time, paced to self.rate on average."""
        Message = self.mido.Message
        ids = [(i % 128, 1 + (i // 128) % 127) for i in range(n + warmup)]
        self.recv.clear()
        self.arrivals.clear()
        sent: dict[int, float] = {}
        order: dict[int, int] = {}
        gap = burst / self.rate
        start = pc() + 0.05
        for b0 in range(0, len(ids), burst):
            d = start + (b0 // burst) * gap - pc()
            if d > 0:
                time.sleep(d)
            for i in range(b0, min(b0 + burst, len(ids))):
                note, vel = ids[i]
                t = pc()
                self.out.send(Message("note_on", note=note, velocity=vel))
                if i >= warmup:
                    sent[note * 128 + vel] = t
                    order[note * 128 + vel] = i
        time.sleep(0.5)
        lat = [self.recv[k] - t for k, t in sent.items() if k in self.recv]
        highest, reordered = -1, 0
        for key in self.arrivals:
            i = order.get(key)
            if i is None:
                continue
            if i < highest:
                reordered += 1
            highest = max(highest, i)
        return {**summary_ms(lat, len(sent)), "reordered": reordered}

    def measure(self, label: str, into: str, out_of: str) -> dict:
        """Wall clock through the mido harness, then JACK frames through the frame harness
        (``into``/``out_of``: the path's input and output ports)."""
        paced = self.play_ids(self.samples, 1)
        bursts = self.play_ids(self.bursts, BURST)
        fh = self.frames
        fh.connect(fh.src, into)
        fh.connect(out_of, fh.dst)
        time.sleep(0.3)
        try:
            frames = fh.play(self.samples, self.rate, 1)
            frames["burst"] = fh.play(self.bursts, self.rate, BURST)
        finally:
            fh.disconnect(fh.src, into)
            fh.disconnect(out_of, fh.dst)
        return {
            "path": label,
            **paced,
            "burst": {k: bursts.get(k) for k in ("n", "sent", "lost", "reordered", "p50_ms", "p99_ms")},
            "frames": frames,
        }

    def direct(self, label: str) -> dict:
        self.jack_connect(self.src_port, self.in_port)
        time.sleep(0.3)
        try:
            return self.measure(label, self.frames.dst, self.frames.src)
        finally:
            self.jack_disconnect(self.src_port, self.in_port)

    def echo(self, label: str) -> dict:
        child = subprocess.Popen(
            [sys.executable, str(ROOT / "bench_jack.py"), "--echo-child", self.tag],
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.append(child)
        try:
            if child.stdout is None or child.stdout.readline().strip() != "ready":
                raise RuntimeError("the echo client did not start")
            time.sleep(1.0)
            echo_in = self.port_name("in", f"{self.tag}-echo-in")
            echo_out = self.port_name("out", f"{self.tag}-echo-out")
            self.jack_connect(self.src_port, echo_in)
            self.jack_connect(echo_out, self.in_port)
            time.sleep(0.3)
            fin = self.port_name("in", f"{self.tag}-echo-in")
            return self.measure(label, fin, echo_out)
        finally:
            self.stop_proc(child)

    def run_midimon(self, label: str, relay: bool, load: bool) -> dict:
        home = self.tmp / f"home-{len(self.procs)}"
        (home / "plugins").mkdir(parents=True)
        out_name = f"{self.tag}-mm-out"
        lines = [
            f'[device]\nname = "{self.tag}-src"\nvirtual_output = "{out_name}"\n',
            '[[modes]]\nname = "Default"\n',
        ]
        for n in range(128):
            lines.append(
                f'[[modes.mappings]]\ntrigger = {{ type = "Note", note = {n} }}\n'
                f'action = {{ type = "SendMidi", message_type = "NoteOn", note = {n} }}\n'
            )
        lines.append(
            '[[modes.mappings]]\ntrigger = { type = "CC", cc = 100 }\naction = { type = "Plugin", plugin = "busy" }\n'
        )
        config_text = "\n".join(lines)
        (home / "config.toml").write_text(config_text)
        (home / "plugins" / "busy.py").write_text(BUSY_PLUGIN)
        exe = Path(sys.executable).with_name("midimon")
        env = {**self.env, "MIDIMON_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        env.pop("XDG_RUNTIME_DIR", None)
        if not relay:
            env["MIDIMON_JACK_RELAY"] = "0"
        proc = subprocess.Popen(
            [str(exe), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self.procs.append(proc)
        log: list[str] = []
        assert proc.stdout is not None
        stdout = proc.stdout
        reader = threading.Thread(target=lambda: [log.append(l.rstrip("\n")) for l in stdout], daemon=True)
        reader.start()

        def wait_log(text: str, timeout: float = 30.0) -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if any(text in l for l in log):
                    return
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
            raise RuntimeError(f"midimon did not log {text!r}:\n" + "\n".join(log[-30:]))

        stop = threading.Event()
        load_threads: list[threading.Thread] = []
        calls = [0, 0]
        try:
            wait_log("midimon is running")
            wait_log("connected MIDI input")
            time.sleep(1.0)
            self.jack_connect(self.port_name("out", out_name), self.in_port)
            time.sleep(0.3)
            from midimon.config.home import Home
            from midimon.engine.live.client import Client

            sock = Home.at(home).socket
            if load:
                load_threads = [
                    threading.Thread(target=self._busy, args=(sock, stop, calls), daemon=True),
                    threading.Thread(target=self._storm, args=(sock, stop, calls), daemon=True),
                ]
                for t in load_threads:
                    t.start()
                time.sleep(1.0)
            # the daemon's input port, named after the harness port it reads (a JACK input port
            # is a mido output name)
            into = next(
                n for n in self.mido.get_output_names() if n.startswith("midimon") and n.endswith(":" + self.src_port)
            )
            row = self.measure(label, into, self.port_name("out", out_name))
            with Client(sock) as c:
                st = c.call("status")
            row["relay"] = {
                k: st.get("jack_relay", {}).get(k)
                for k in ("active", "reason", "relayed", "forward_dropped", "out_dropped", "xruns", "table_swaps")
            }
            row["reloads_ok"] = (st.get("last_reload") or {}).get("ok")
            row["pss_mib"] = pss_mib(proc.pid)
            row["load"] = {"plugin_calls": calls[0], "reloads": calls[1]} if load else None
        finally:
            stop.set()
            for t in load_threads:
                t.join(5)
            self.stop_proc(proc)
            reader.join(2)
        row["daemon_errors"] = [l for l in log if " ERROR " in l or "Traceback" in l][:5]
        return row

    @staticmethod
    def _busy(sock: Path, stop: threading.Event, calls: list[int]) -> None:
        from midimon.engine.live.client import Client

        with Client(sock) as c:
            while not stop.wait(0.1):
                try:
                    c.call("send", {"type": "control_change", "control": 100, "value": 64})
                    calls[0] += 1
                except Exception:
                    return

    @staticmethod
    def _storm(sock: Path, stop: threading.Event, calls: list[int]) -> None:
        from midimon.engine.live.client import Client

        with Client(sock, timeout=30) as c:
            while not stop.wait(0.05):
                try:
                    c.call("reload")  # scope "all": plugins rescanned, config parsed and compiled
                    calls[1] += 1
                except Exception:
                    return


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rate", type=float, default=200.0, help="messages per second (default 200)")
    ap.add_argument("--samples", type=int, help="paced round trips per path (default 3000, quick 600)")
    ap.add_argument("--out", default=str(ROOT / "results" / "relay.json"))
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    for tool in ("jackd", "jack_connect"):
        if shutil.which(tool) is None:
            print(f"bench_relay: {tool} is not installed (Debian: apt-get install jackd2); skipped", file=sys.stderr)
            return 0
    samples = args.samples or (600 if args.quick else 3000)
    info = machine()
    print(
        f"machine: {info['nproc']} CPU, {info['cpu_model']}, Python {info['python']}, load {' '.join(info['loadavg_at_start'])}"
    )
    print(
        f"JACK dummy, 48 kHz, -p 256 (one period {PERIOD_MS:.2f} ms), sync; {samples} paced note-ons at {args.rate:.0f}/s per path, then bursts of {BURST}"
    )
    b = RelayBench(args.quick, args.rate, samples)
    b.bursts = max(BURST * 50, samples // 2)
    rows: list[dict] = []
    try:
        b.start_jackd()
        b.open_ports()
        b.frames = FrameHarness(b.tag, b.tmp / "cache")
        time.sleep(1.0)
        rows.append(b.direct("transport alone: harness out -> harness in (before)"))
        rows.append(b.echo("bare mido echo"))
        rows.append(b.run_midimon("midimon, relay off (today's path)", relay=False, load=False))
        rows.append(b.run_midimon("midimon, in-cycle relay", relay=True, load=False))
        rows.append(b.run_midimon("midimon, relay off, under load", relay=False, load=True))
        rows.append(b.run_midimon("midimon, in-cycle relay, under load", relay=True, load=True))
        rows.append(b.direct("transport alone: harness out -> harness in (after)"))
    finally:
        if getattr(b, "frames", None) is not None:
            b.frames.close()
        b.close_ports()
        time.sleep(0.2)
        b.stop_all()
    jack_log = (b.tmp / "jackd.log").read_text(errors="replace") if (b.tmp / "jackd.log").exists() else ""
    shutil.rmtree(b.tmp, ignore_errors=True)

    base = [r for r in rows if r["path"].startswith("transport") and r.get("n")]
    base50 = statistics.fmean(r["p50_ms"] for r in base) if base else 0.0
    base99 = statistics.fmean(r["p99_ms"] for r in base) if base else 0.0
    fbase = [r["frames"] for r in base if r.get("frames", {}).get("n")]
    f50 = statistics.fmean(f["p50_frames"] for f in fbase) if fbase else 0.0
    f99 = statistics.fmean(f["p99_frames"] for f in fbase) if fbase else 0.0
    print(
        f"\n{'path':40} {'lost':>4} {'reord':>5} {'p50':>6} {'p99':>6} {'+p50':>6} {'+p99':>6} {'b.lost/reord':>12}"
        f" | {'+p50 fr':>7} {'+p99 fr':>7} {'max fr':>6} {'lost/reord':>10} {'b.reord':>7} | {'PSS*':>5}"
    )
    print(
        "wall clock (ms) through the mido harness | JACK frames through the frame harness (256 = one period); "
        "+: beyond the transport alone; b.: bursts of 8; PSS*: MiB, daemon + workers without JACK's shared segment"
    )
    for r in rows:
        if r.get("n"):
            r["beyond_transport"] = {"p50_ms": round(r["p50_ms"] - base50, 3), "p99_ms": round(r["p99_ms"] - base99, 3)}
        f = r.get("frames") or {}
        if f.get("n"):
            f["beyond_transport"] = {
                "p50_frames": f["p50_frames"] - f50,
                "p99_frames": f["p99_frames"] - f99,
                "p99_ms": round((f["p99_frames"] - f99) / 48000 * 1000, 3),
            }
        bt, fb = r.get("beyond_transport", {}), f.get("beyond_transport", {})
        burst, fburst = r.get("burst", {}), f.get("burst", {})
        print(
            f"{r['path'][:40]:40} {r.get('lost', '-'):>4} {r.get('reordered', '-'):>5} "
            f"{r.get('p50_ms', '-'):>6} {r.get('p99_ms', '-'):>6} {bt.get('p50_ms', '-'):>6} {bt.get('p99_ms', '-'):>6} "
            f"{str(burst.get('lost')) + '/' + str(burst.get('reordered')):>12}"
            f" | {fb.get('p50_frames', '-'):>7} {fb.get('p99_frames', '-'):>7} {f.get('max_frames', '-'):>6} "
            f"{str(f.get('lost')) + '/' + str(f.get('reordered')):>10} {fburst.get('reordered', '-'):>7}"
            f" | {(r.get('pss_mib') or {}).get('own', ''):>5}"
        )
    lines = jack_log.splitlines()
    client_errors = [
        l
        for l in lines
        if any(s in l for s in ("was not finished", "was not run", "process error", "JackEngine::XRun"))
    ]
    driver_late = [l for l in lines if "JackTimedDriver::Process XRun" in l]
    print(
        f"\njackd log: {len(client_errors)} client process errors / engine xruns, {len(driver_late)} late wake-ups of the dummy driver"
    )
    write_results(
        args.out,
        {
            "benchmark": "relay",
            "quick": args.quick,
            "machine": info,
            "jack": {
                "driver": "dummy",
                "rate": 48000,
                "period_frames": 256,
                "period_ms": round(PERIOD_MS, 3),
                "sync": True,
            },
            "rate_per_s": args.rate,
            "burst": BURST,
            "transport_p50_ms": round(base50, 3),
            "transport_p99_ms": round(base99, 3),
            "paths": rows,
            "jackd_client_errors": client_errors[:20],
            "jackd_driver_late_wakeups": len(driver_late),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
