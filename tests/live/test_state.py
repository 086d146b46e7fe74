"""state.json: atomic, restored at start, corrupt files moved aside, SIGKILL-proof."""

import json
import os
import random
import signal
import subprocess
import sys
import time

from livekit import modes_config, wait_for

from midimon.engine.live.state import read_state, write_state


def test_mode_and_stats_come_back_after_a_restart(live_daemon, short_home):
    d = live_daemon(modes_config("A", "B", "C"))
    d.daemon.engine.set_mode("C")
    d.press(36)
    wait_for(lambda: d.daemon.engine.stats.events == 2, 5, what="two events")
    d.stop()
    saved = json.loads((short_home / "state.json").read_text())
    assert saved["mode"] == "C" and saved["stats"]["events"] == 2
    d2 = live_daemon(None)
    assert d2.daemon.engine.mode == "C"
    assert d2.daemon.engine.stats.events == 2
    assert d2.marker() == 2


def test_a_removed_mode_falls_back_to_the_first(live_daemon, short_home, caplog):
    (short_home / "state.json").write_text(json.dumps({"version": 1, "mode": "Gone"}))
    d = live_daemon(modes_config("A", "B"))
    assert d.daemon.engine.mode == "A"
    assert "saved mode 'Gone' is not in the config" in caplog.text


def test_mode_change_is_written_soon(live_daemon, short_home):
    d = live_daemon(modes_config("A", "B"))
    d.daemon.engine.set_mode("B")
    wait_for(lambda: _saved_mode(short_home) == "B", 5, what="state.json to say B")


def _saved_mode(home):
    try:  # not written yet is "not yet", not a failure
        return json.loads((home / "state.json").read_text()).get("mode")
    except FileNotFoundError:
        return None


def test_corrupt_state_is_moved_aside_not_fatal(live_daemon, short_home, caplog):
    (short_home / "state.json").write_text('{"mode": "B", ')
    d = live_daemon(modes_config("A", "B"))
    assert d.daemon.engine.mode == "A"
    aside = list(short_home.glob("state.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == '{"mode": "B", '
    assert "is corrupt" in caplog.text


def test_leftover_temporary_files_are_cleaned(short_home):
    (short_home / ".state.json.123.456.tmp").write_text("half")
    write_state(short_home / "state.json", {"mode": "A"})
    assert read_state(short_home / "state.json") == {"mode": "A"}
    assert not list(short_home.glob(".state.json.*.tmp"))


WRITER = r"""
import sys, time
from pathlib import Path
from midimon.engine.live.state import write_state
path = Path(sys.argv[1])
i = 0
print("ready", flush=True)
while True:
    i += 1
    # sizes vary so that a torn write would show as bad JSON
    write_state(path, {"mode": f"M{i}", "i": i, "pad": "x" * (i * 7919 % 200000)})
"""


def test_sigkill_during_state_writes_always_leaves_a_valid_file(tmp_path):
    path = tmp_path / "state.json"
    write_state(path, {"mode": "M0", "i": 0})
    rng = random.Random(1234)
    seen = set()
    for _ in range(40):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.05))
        p.send_signal(signal.SIGKILL)
        p.wait(5)
        p.stdout.close()
        data = json.loads(path.read_bytes())  # raises if torn
        assert data["mode"] == f"M{data['i']}"
        assert len(data.get("pad", "")) == data["i"] * 7919 % 200000
        seen.add(data["i"])
    assert len(seen) > 5  # the kills really landed at different points of the writing


def test_sigkill_of_the_real_daemon_while_it_writes(short_home):
    """`midimon run` switching modes (each switch writes state.json), killed at random moments."""
    from midimon.engine.live.client import Client

    cfg = short_home / "config.toml"
    cfg.write_text(modes_config("A", "B", "C", "D"))
    env = {**os.environ, "MIDIMON_HOME": str(short_home), "MIDO_BACKEND": "mido.backends.rtmidi/LINUX_ALSA"}
    exe = os.path.join(os.path.dirname(sys.executable), "midimon")
    rng = random.Random(99)
    for round_ in range(4):
        p = subprocess.Popen([exe, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock = short_home / "run" / "midimon.sock"
        before = json.loads((short_home / "state.json").read_text())["mode"] if round_ else "A"
        c = wait_for(lambda: _try_connect(Client, sock), 15, what="the control socket")
        assert c.call("mode")["mode"] == before  # the mode came back after the kill
        deadline = time.monotonic() + rng.uniform(0.3, 0.8)
        while time.monotonic() < deadline:
            c.call("mode", {"name": "next"})
        p.send_signal(signal.SIGKILL)
        p.wait(5)
        c.close()
        data = json.loads((short_home / "state.json").read_text())
        assert data["mode"] in ("A", "B", "C", "D")


def _try_connect(Client, sock):
    try:
        return Client(sock, timeout=5).connect()
    except Exception:
        return None
