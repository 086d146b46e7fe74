"""Real parts for the desktop tests: an Xvfb display with a recording window, a PulseAudio
server with a null sink. Each is started by Popen and stopped by its PID; a test that needs one
is skipped, with the reason, only when the program is not installed (and fails instead under
MIDIMON_REQUIRE_REAL=1, as scripts/test sets)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def missing(reason: str) -> None:
    """Skip, or fail when scripts/test promised every real part (MIDIMON_REQUIRE_REAL=1)."""
    if os.environ.get("MIDIMON_REQUIRE_REAL") == "1":
        pytest.fail(reason + " and MIDIMON_REQUIRE_REAL=1")
    pytest.skip(reason)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    """A private X display; yields its DISPLAY value and sets it in os.environ meanwhile."""
    if not shutil.which("Xvfb"):
        missing("Xvfb is not installed (apt install xvfb)")
    read, write = os.pipe()
    # -displayfd lets Xvfb pick a free display number itself and tell us: no race with other
    # test runs or engineers on the same machine.
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        number = b""
        deadline = time.monotonic() + 10
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = os.read(read, 16)
            if not chunk:
                break
            number += chunk
        if not number.strip():
            pytest.fail(f"Xvfb did not report a display number (exit code {proc.poll()})")
        display = ":" + number.decode().strip()
        saved = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = display
        try:
            yield display
        finally:
            if saved is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = saved
    finally:
        os.close(read)
        _stop(proc)


class Recorder:
    """The events the recording window received, read from its stdout by a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.events: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.geometry = self.next(timeout=15, kind="ready")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def next(self, timeout: float = 5.0, kind: str | None = None) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the recording window received no {kind or 'event'} within {timeout} s")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if kind is None or event["t"] == kind:
                return event

    def drain(self) -> None:
        while True:
            try:
                self.events.get_nowait()
            except queue.Empty:
                return

    def until(self, keysym: str, timeout: float = 5.0) -> list[dict]:
        """Every event up to the release of ``keysym`` (a marker key the test presses last)."""
        seen = []
        while True:
            event = self.next(timeout)
            if event["t"] == "release" and event["keysym"] == keysym:
                return [e for e in seen if e.get("keysym") != keysym]
            seen.append(event)


@pytest.fixture(scope="module")
def recorder(xvfb: str) -> Iterator[Recorder]:
    probe = subprocess.run(
        [sys.executable, "-c", "import tkinter; tkinter.Tk().destroy()"], capture_output=True, text=True, timeout=30
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        pytest.fail(f"tkinter cannot open a window on {xvfb}: {last} (apt install libtk8.6)")
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "x_recorder.py"), "400x300+100+100"],
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        yield Recorder(proc)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PulseAudio server with one null sink; yields the PULSE_SERVER value and sets it."""
    if not (shutil.which("pulseaudio") and shutil.which("pactl")):
        missing("PulseAudio is not installed (apt install pulseaudio pulseaudio-utils)")
    # AF_UNIX paths are limited to ~100 bytes: pytest's tmp paths can exceed that.
    base = Path(tmp_path_factory.mktemp("pulse"))
    short = Path("/tmp") / f"midimon-pa-{os.getpid()}"
    short.mkdir(mode=0o700, exist_ok=True)
    socket_path = short / "native"
    env = dict(os.environ, HOME=str(base), XDG_RUNTIME_DIR=str(short), XDG_CONFIG_HOME=str(base))
    env.pop("DISPLAY", None)  # keep it from looking for an X11 session bus
    proc = subprocess.Popen(
        [
            "pulseaudio",
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--disable-shm=yes",
            "-L",
            "module-null-sink sink_name=midimon_test",
            "-L",
            f"module-native-protocol-unix auth-anonymous=1 socket={socket_path}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(base / "pulseaudio.log").open("w"),
    )
    server = f"unix:{socket_path}"
    saved = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = server
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["pactl", "info"], capture_output=True, timeout=5).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (base / "pulseaudio.log").read_text().strip().splitlines()
                pytest.fail(f"PulseAudio did not start: {log[-1] if log else 'no output'}")
            time.sleep(0.1)
        yield server
    finally:
        if saved is None:
            os.environ.pop("PULSE_SERVER", None)
        else:
            os.environ["PULSE_SERVER"] = saved
        _stop(proc)
        shutil.rmtree(short, ignore_errors=True)
