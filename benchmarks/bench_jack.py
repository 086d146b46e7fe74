#!/usr/bin/env python3
"""End to end over JACK (issue 2, "Performance"): what midimon adds on top of the transport.

    .venv/bin/python benchmarks/bench_jack.py [--quick]

Starts a private JACK server (``jackd -n midimon-bench-PID -S -R -d dummy -r 48000 -p 256``,
sync mode, dummy driver; JACK_DEFAULT_SERVER names it so nobody else's server is touched),
then measures round trips from this harness, paced (200 messages/s by default):

  (i)  transport alone: harness out -> a bare mido echo client in a separate process
       (rtmidi callback -> port.send) -> harness in;
  (ii) the same through ``midimon run`` as a subprocess, with a config mapping every Note to a
       SendMidi of the same note on its virtual output (``[device] virtual_output``);
  (iii) the transport again, so drift during the run shows.

The difference of (ii) and (i) is what midimon adds. Two JACK clients in a row (in -> Python
-> out) always add about one period (256 frames at 48 kHz = 5.33 ms) whatever the code does:
that is the transport, which is why it is measured in the same run.

JACK facts honoured (DESIGN.md): never poll jack_lsp; let a new client settle about 1 s before
connecting; connect with jack_connect (rtmidi's own connect does not take in sync mode); stop
everything we started by PID. Writes benchmarks/results/jack.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, pct, write_results

ROOT = Path(__file__).resolve().parent
pc = time.perf_counter
PERIOD_MS = 256 / 48000 * 1000


def summary_ms(values_s: list[float], sent: int) -> dict:
    v = [x * 1000 for x in values_s]
    if not v:
        return {"n": 0, "sent": sent, "lost": sent}
    return {
        "n": len(v),
        "sent": sent,
        "lost": sent - len(v),
        "p50_ms": round(pct(v, 50), 3),
        "p90_ms": round(pct(v, 90), 3),
        "p99_ms": round(pct(v, 99), 3),
        "max_ms": round(max(v), 3),
        "min_ms": round(min(v), 3),
        "mean_ms": round(statistics.fmean(v), 3),
    }


# ---------------------------------------------------------------------------- the echo child


def echo_child(tag: str) -> int:
    """A bare mido echo: a virtual input whose callback sends each message to a virtual output."""
    import mido

    out = mido.open_output(f"{tag}-echo-out", virtual=True, client_name=f"{tag}-echo-o")
    inp = mido.open_input(f"{tag}-echo-in", virtual=True, client_name=f"{tag}-echo-i", callback=out.send)
    stop = threading.Event()

    def on_signal(*_):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("ready", flush=True)
    stop.wait()
    inp.close()  # a JACK client killed with open ports stalls jackd: close them
    out.close()
    return 0


# ---------------------------------------------------------------------------- the harness


class Bench:
    def __init__(self, quick: bool, rate: float, samples: int) -> None:
        self.quick = quick
        self.rate = rate
        self.samples = samples
        self.tag = f"mmb{os.getpid()}"
        self.server = f"midimon-bench-{os.getpid()}"
        self.tmp = Path(tempfile.mkdtemp(prefix="midimon-bench-jack-"))
        self.env = {
            **os.environ,
            "JACK_NO_AUDIO_RESERVATION": "1",
            "JACK_NO_START_SERVER": "1",
            "MIDO_BACKEND": "mido.backends.rtmidi/UNIX_JACK",
            "JACK_DEFAULT_SERVER": self.server,
        }
        self.procs: list[subprocess.Popen] = []
        self.jackd: subprocess.Popen | None = None
        self.recv: dict[int, float] = {}
        self.sent: dict[int, float] = {}

    # -- processes ----------------------------------------------------------------------
    def start_jackd(self) -> None:
        log = open(self.tmp / "jackd.log", "w")
        self.jackd = subprocess.Popen(
            ["jackd", "-n", self.server, "-S", "-R", "-d", "dummy", "-r", "48000", "-p", "256"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(self.jackd)
        time.sleep(1.5)
        if self.jackd.poll() is not None:
            raise RuntimeError("jackd did not start:\n" + (self.tmp / "jackd.log").read_text())
        os.environ.update(
            {
                k: self.env[k]
                for k in ("JACK_NO_AUDIO_RESERVATION", "JACK_NO_START_SERVER", "MIDO_BACKEND", "JACK_DEFAULT_SERVER")
            }
        )

    def stop_proc(self, p: subprocess.Popen, timeout: float = 10.0) -> None:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            self.stop_proc(p)

    def jack_connect(self, src: str, dst: str) -> None:
        r = subprocess.run(["jack_connect", src, dst], env=self.env, capture_output=True, text=True, timeout=10)
        if r.returncode != 0 and "already" not in (r.stdout + r.stderr).lower():
            raise RuntimeError(f"jack_connect {src} {dst} failed: {(r.stderr or r.stdout).strip()}")

    def jack_disconnect(self, src: str, dst: str) -> None:
        subprocess.run(["jack_disconnect", src, dst], env=self.env, capture_output=True, text=True, timeout=10)

    # -- our ports ----------------------------------------------------------------------
    def open_ports(self) -> None:
        import mido

        self.mido = mido
        self.out = mido.open_output(f"{self.tag}-src", virtual=True, client_name=f"{self.tag}-harness-o")
        recv = self.recv

        def on_msg(msg, _pc=pc) -> None:
            t = _pc()
            if msg.type == "note_on":
                recv[msg.note * 128 + msg.velocity] = t

        self.inp = mido.open_input(f"{self.tag}-in", virtual=True, client_name=f"{self.tag}-harness-i", callback=on_msg)
        time.sleep(1.0)
        self.src_port = self.port_name("out", f"{self.tag}-src")
        self.in_port = self.port_name("in", f"{self.tag}-in")

    def port_name(self, kind: str, port: str) -> str:
        """The full JACK name of a port (client names get suffixes when they collide).

        Listed once through mido, never by polling jack_lsp. ``kind`` is the direction as the
        port's owner sees it: its "out" ports are inputs to us.
        """
        names = self.mido.get_input_names() if kind == "out" else self.mido.get_output_names()
        found = [n for n in names if n.endswith(":" + port)]
        if not found:
            raise RuntimeError(f"no JACK port named like *:{port} (have {names})")
        return found[-1]

    def close_ports(self) -> None:
        for p in (getattr(self, "inp", None), getattr(self, "out", None)):
            if p is not None:
                p.close()

    def play(self, n: int, warmup: int = 40) -> tuple[list[float], int]:
        """Send n note-ons paced at self.rate, each with a unique (note, velocity) id."""
        Message = self.mido.Message
        ids = [(i % 128, 1 + (i // 128) % 127) for i in range(n + warmup)]
        self.recv.clear()
        self.sent.clear()
        period = 1.0 / self.rate
        start = pc() + 0.05
        for i, (note, vel) in enumerate(ids):
            target = start + i * period
            d = target - pc()
            if d > 0:
                time.sleep(d)
            msg = Message("note_on", note=note, velocity=vel)
            t = pc()
            self.out.send(msg)
            if i >= warmup:
                self.sent[note * 128 + vel] = t
        time.sleep(0.5)
        lat = [self.recv[k] - t for k, t in self.sent.items() if k in self.recv]
        return lat, len(self.sent)

    # -- the two paths ------------------------------------------------------------------
    def transport(self, label: str) -> dict:
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--echo-child", self.tag],
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.append(child)
        try:
            line = child.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"the echo client did not start (got {line!r})")
            time.sleep(1.0)  # let the new client settle before connecting
            echo_in = self.port_name("in", f"{self.tag}-echo-in")
            echo_out = self.port_name("out", f"{self.tag}-echo-out")
            self.jack_connect(self.src_port, echo_in)
            self.jack_connect(echo_out, self.in_port)
            time.sleep(0.2)
            lat, sent = self.play(self.samples)
            self.jack_disconnect(self.src_port, echo_in)
            self.jack_disconnect(echo_out, self.in_port)
        finally:
            self.stop_proc(child)
        return {"path": label, **summary_ms(lat, sent)}

    def midimon(self) -> dict:
        home = self.tmp / "home"
        home.mkdir(exist_ok=True)
        out_name = f"{self.tag}-mm-out"
        lines = [
            "[device]",
            f'name = "{self.tag}-src"',
            f'virtual_output = "{out_name}"',
            "",
            "[[modes]]",
            'name = "Default"',
            "",
        ]
        for n in range(128):
            lines += [
                "[[modes.mappings]]",
                f'description = "echo {n}"',
                f'trigger = {{ type = "Note", note = {n} }}',
                f'action = {{ type = "SendMidi", message_type = "NoteOn", note = {n} }}',
                "",
            ]
        config = home / "config.toml"
        config.write_text("\n".join(lines))
        exe = Path(sys.executable).with_name("midimon")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "midimon.engine"]
        env = {**self.env, "MIDIMON_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [*cmd, "run", "--config", str(config)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.procs.append(proc)
        log: list[str] = []
        reader = threading.Thread(target=lambda: [log.append(l.rstrip("\n")) for l in proc.stdout], daemon=True)
        reader.start()

        def wait_log(text: str, timeout: float = 20.0) -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if any(text in l for l in log):
                    return
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
            raise RuntimeError(f"midimon did not log {text!r}:\n" + "\n".join(log))

        try:
            wait_log("midimon is running")
            wait_log("connected MIDI input")  # the daemon connects its input after a 1 s settle
            time.sleep(1.0)  # and our input to its new virtual output settles too
            self.jack_connect(self.port_name("out", out_name), self.in_port)
            time.sleep(0.2)
            lat, sent = self.play(self.samples)
        finally:
            self.stop_proc(proc)
            reader.join(2)
        errors = [l for l in log if " ERROR " in l or "Traceback" in l]
        return {
            "path": "midimon run: Note -> SendMidi to its virtual output",
            **summary_ms(lat, sent),
            "daemon_errors": errors[:5],
        }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rate", type=float, default=200.0, help="messages per second (default 200)")
    ap.add_argument("--samples", type=int, help="round trips per path (default 3000, quick 600)")
    ap.add_argument("--echo-child", metavar="TAG", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "results" / "jack.json"))
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    if args.echo_child:
        return echo_child(args.echo_child)
    for tool in ("jackd", "jack_connect"):
        if shutil.which(tool) is None:
            print(f"bench_jack: {tool} is not installed (Debian: apt-get install jackd2); skipped", file=sys.stderr)
            return 0
    samples = args.samples or (600 if args.quick else 3000)
    info = machine()
    print(
        f"machine: {info['nproc']} CPU, {info['cpu_model']}, Python {info['python']}, load {' '.join(info['loadavg_at_start'])}"
    )
    print(
        f"JACK dummy driver, 48 kHz, 256-frame period = {PERIOD_MS:.2f} ms, sync mode; {samples} paced note-ons at {args.rate:.0f}/s per path"
    )
    b = Bench(args.quick, args.rate, samples)
    rows = []
    try:
        b.start_jackd()
        b.open_ports()
        time.sleep(1.0)
        rows.append(b.transport("transport alone: bare mido echo (before)"))
        rows.append(b.midimon())
        rows.append(b.transport("transport alone: bare mido echo (after)"))
    finally:
        b.close_ports()
        time.sleep(0.2)
        b.stop_all()
    jack_log = (b.tmp / "jackd.log").read_text(errors="replace") if (b.tmp / "jackd.log").exists() else ""
    shutil.rmtree(b.tmp, ignore_errors=True)

    print(f"\n{'path':56} {'n':>5} {'lost':>4} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for r in rows:
        print(
            f"{r['path'][:56]:56} {r['n']:>5} {r['lost']:>4} {r.get('p50_ms', '-'):>8} {r.get('p90_ms', '-'):>8} "
            f"{r.get('p99_ms', '-'):>8} {r.get('max_ms', '-'):>8}"
        )
    echo = [r for r in rows if r["path"].startswith("transport") and r["n"]]
    mm = rows[1] if len(rows) > 1 else {}
    added = {}
    if echo and mm.get("n"):
        base50 = statistics.fmean(r["p50_ms"] for r in echo)
        base99 = statistics.fmean(r["p99_ms"] for r in echo)
        added = {
            "p50_ms": round(mm["p50_ms"] - base50, 3),
            "p99_ms": round(mm["p99_ms"] - base99, 3),
            "transport_p50_ms": round(base50, 3),
            "transport_p99_ms": round(base99, 3),
        }
        print(
            f"\nmidimon adds: p50 {added['p50_ms']:+.3f} ms, p99 {added['p99_ms']:+.3f} ms "
            f"(transport alone p50 {base50:.3f} ms, p99 {base99:.3f} ms; one period = {PERIOD_MS:.2f} ms)"
        )
    xruns = sum(1 for l in jack_log.splitlines() if "xrun" in l.lower() or "process error" in l.lower())
    out = {
        "benchmark": "jack",
        "quick": args.quick,
        "machine": info,
        "jack": {
            "driver": "dummy",
            "rate": 48000,
            "period_frames": 256,
            "period_ms": round(PERIOD_MS, 3),
            "sync": True,
            "log_problem_lines": xruns,
        },
        "rate_per_s": args.rate,
        "paths": rows,
        "midimon_adds": added,
    }
    write_results(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
