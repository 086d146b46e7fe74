"""MIDI notes over JACK become real keystrokes on an X display: a Tk window records them."""

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.jack, pytest.mark.x11]

RECORDER = Path(__file__).resolve().parent.parent / "desktop" / "x_recorder.py"


@pytest.fixture(scope="module")
def display():
    """The Xvfb display scripts/test started, or a private one."""
    if os.environ.get("MIDIMON_TEST_DISPLAY"):
        yield os.environ["MIDIMON_TEST_DISPLAY"]
        return
    if not shutil.which("Xvfb"):
        if os.environ.get("MIDIMON_REQUIRE_REAL"):
            pytest.fail("Xvfb is not installed but MIDIMON_REQUIRE_REAL is set")
        pytest.skip("Xvfb is not installed (apt install xvfb)")
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    number = b""
    while not number.endswith(b"\n"):
        chunk = os.read(read, 16)
        if not chunk:
            break
        number += chunk
    os.close(read)
    yield ":" + number.decode().strip()
    proc.terminate()
    proc.wait(5)


class Window:
    def __init__(self, display: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(RECORDER), "400x300+100+100"],
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env={**os.environ, "DISPLAY": display},
        )
        self.q: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.next("ready", 15)

    def _read(self):
        for line in self.proc.stdout:
            self.q.put(json.loads(line))

    def next(self, kind=None, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ev = self.q.get(timeout=0.1)
            except queue.Empty:
                continue
            if kind is None or ev["t"] == kind:
                return ev
        raise AssertionError(f"the window received no {kind or 'event'} within {timeout} s")

    def presses_until(self, keysym: str, timeout=15.0):
        out = []
        while True:
            ev = self.next(timeout=timeout)
            if ev["t"] == "press":
                if ev["keysym"] == keysym:
                    return out
                out.append(ev)

    def close(self):
        self.proc.terminate()
        self.proc.wait(5)


def test_notes_type_keys_and_text_into_a_focused_window(harness, start_daemon, display):
    window = Window(display)
    try:
        d = start_daemon(
            f"""
[device]
name = "{harness.out_name}"

[[modes]]
name = "Keys"
[[modes.mappings]]
trigger = {{ type = "Note", note = 36 }}
action = {{ type = "Keystroke", keys = "a" }}
[[modes.mappings]]
trigger = {{ type = "Note", note = 37 }}
action = {{ type = "Keystroke", keys = "b", modifiers = ["shift"] }}
[[modes.mappings]]
trigger = {{ type = "Note", note = 38 }}
action = {{ type = "Keystroke", keys = "F5" }}
[[modes.mappings]]
trigger = {{ type = "Note", note = 39 }}
action = {{ type = "Keystroke", keys = "ctrl+k" }}
[[modes.mappings]]
trigger = {{ type = "Note", note = 40 }}
action = {{ type = "Text", text = "hé✓" }}
[[modes.mappings]]
trigger = {{ type = "Note", note = 41 }}
action = {{ type = "Keystroke", keys = "escape" }}
""",
            env_extra={"DISPLAY": display},
        )
        d.wait_log("connected MIDI input")
        time.sleep(0.3)
        for note in (36, 37, 38, 39, 40, 41):
            harness.send("note_on", note=note, velocity=100)
            harness.send("note_off", note=note)
            time.sleep(0.15)  # one action at a time: the pool may otherwise interleave them
        got = window.presses_until("Escape")
        keysyms = [e["keysym"] for e in got if not e["keysym"].startswith(("Shift", "Control"))]
        chars = "".join(e["char"] for e in got if e["keysym"] not in ("F5",) and e["char"] and not e["state"] & 4)
        assert keysyms[:3] == ["a", "B", "F5"], got
        ctrl_k = [e for e in got if e["keysym"] == "k"]
        assert ctrl_k and ctrl_k[0]["state"] & 4, "ctrl+k arrived without Control held"
        assert chars.endswith("hé✓"), chars
    finally:
        window.close()
