"""The CLI as a user runs it: real processes, real MIDI back ends."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from testkit.daemon import DaemonProcess

MIDIMON = str(Path(sys.executable).with_name("midimon"))


def run(*args, env=None, timeout=60):
    return subprocess.run(
        [MIDIMON, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


@pytest.mark.jack
def test_devices_lists_jack_ports_as_json(harness, jack_env):
    p = run("devices", "--json", env=jack_env)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["ok"] is True
    assert any(harness.out_name in name for name in doc["inputs"])
    human = run("devices", env=jack_env)
    assert human.returncode == 0 and harness.out_name in human.stdout


def test_without_a_midi_api_devices_says_what_to_do_and_the_daemon_keeps_running(tmp_path):
    env = {"MIDO_BACKEND": "mido.backends.rtmidi/LINUX_ALSA"}
    if os.path.exists("/dev/snd/seq"):
        pytest.skip("this machine has an ALSA sequencer")
    p = run("devices", "--json", env=env)
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["ok"] is False and "MIDO_BACKEND" in doc["error"]
    home = tmp_path / "home"
    home.mkdir()
    d = DaemonProcess(home, None, env=env)
    try:
        d.wait_log("no usable MIDI back end")
        d.wait_log("midimon is running")
        time.sleep(1.0)
        assert d.proc.poll() is None  # still running
        assert (home / "config.toml").exists()  # the starter config was written
        assert "wrote a commented starter config" in d.log()
        assert "Traceback" not in d.log()
    finally:
        assert d.stop() == 0


def test_invalid_config_at_start_is_one_clear_message(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[[modes]]\nname = "A"\n[[modes.mappings]]\ntrigger = { type = "Note", note = 300 }\naction = { type = "Delay", ms = 1 }\n'
    )
    p = run("run", env={"MIDIMON_HOME": str(home)}, timeout=30)
    assert p.returncode == 1
    assert "config.toml:4:" in p.stderr and "modes[0].mappings[0].trigger.note" in p.stderr
    assert "Traceback" not in p.stderr


def test_version_and_help():
    assert run("--version").stdout.startswith("midimon ")
    p = run()
    assert p.returncode == 2 and "run" in p.stdout and "validate" in p.stdout
