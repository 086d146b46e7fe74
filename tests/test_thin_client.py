"""The commands that talk to a running daemon import only what talking over the socket needs.

Each command runs in its own interpreter (the way a shell alias or a Stream Deck button runs
it) against a real `midimon run` and against no daemon at all; afterwards the probe reports
every module the process imported. pydantic and the config models, the sandbox, the HTTP,
MQTT and Spotify clients and the daemon's own parts must not be among them. `--help` must
still list every command, and each command's own help must work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from testkit.daemon import DaemonProcess

from midimon.engine import cli

# Modules a thin command must never import (a prefix covers its submodules).
HEAVY = (
    "pydantic",
    "midimon.config.models",
    "midimon.config.loader",
    "midimon.sandbox",
    "httpx",
    "paho",
    "spotipy",
    "mido",
    "rtmidi",
    "watchdog",
    "RestrictedPython",
    "jsonschema",
    "cryptography",
    "midimon.engine.daemon",
)

PROBE = """
import json, os, sys
from midimon.engine.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
with open(os.environ["MIDIMON_PROBE_OUT"], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""

CONFIG = """\
[[modes]]
name = "Default"
[[modes.mappings]]
trigger = { type = "Note", note = 36 }
action = { type = "Delay", ms = 0 }
[[modes]]
name = "Other"
"""

# command lines that only talk to the daemon (`plugins grant` asks the sandbox's grant rules
# whether a grant is dangerous before it asks the daemon, so it is not among them)
THIN_COMMANDS = [
    ("status", "--json"),
    ("send", "note_on", "note=36", "velocity=100", "--json"),
    ("mode", "--json"),
    ("mode", "Other", "--json"),
    ("reload", "--json"),
    ("learn", "--wait", "0.2", "--json"),
    ("watch", "--since", "0", "--count", "1", "--json"),
    ("plugins", "list", "--json"),
    ("plugins", "info", "http_request", "--json"),
]


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "MIDIMON_HOME": str(home)}
    env.pop("XDG_RUNTIME_DIR", None)
    if not os.path.exists("/dev/snd/seq"):  # no ALSA sequencer: the daemon says so and keeps serving
        env["MIDO_BACKEND"] = "mido.backends.rtmidi/LINUX_ALSA"
    return env


def start_probe(tmp_path: Path, home: Path, *argv: str) -> tuple[subprocess.Popen[str], Path]:
    out = tmp_path / "probe.json"
    out.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, *argv],
        env={**_env(home), "MIDIMON_PROBE_OUT": str(out)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, out


def finish_probe(proc: subprocess.Popen[str], out: Path) -> tuple[int, str, set[str]]:
    stdout, stderr = proc.communicate(timeout=60)
    assert out.exists(), f"the probe did not finish: {stderr[-2000:]}"
    doc = json.loads(out.read_text())
    return doc["code"], stdout, set(doc["modules"])


def probe(tmp_path: Path, home: Path, *argv: str) -> tuple[int, str, set[str]]:
    return finish_probe(*start_probe(tmp_path, home, *argv))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("thin") / "home"
    home.mkdir()
    d = DaemonProcess(home, CONFIG, env={k: v for k, v in _env(home).items() if k == "MIDO_BACKEND"})
    try:
        d.wait_log("midimon is running", timeout=60)
        yield d
    finally:
        d.stop()


def test_the_probe_sees_heavy_imports(tmp_path: Path) -> None:
    # the guard below must be able to fail: `validate` loads the config, so pydantic shows
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(CONFIG)
    code, _, modules = probe(tmp_path, home, "validate", "--json")
    assert code == 0
    assert "pydantic" in heavy(modules) and "midimon.config.models" in heavy(modules)


@pytest.mark.parametrize("argv", THIN_COMMANDS, ids=" ".join)
def test_thin_command_against_a_running_daemon_imports_nothing_heavy(daemon, tmp_path: Path, argv) -> None:
    code, stdout, modules = probe(tmp_path, daemon.home, *argv)
    doc = json.loads(stdout)  # one JSON document, from the daemon
    if argv[0] == "learn":  # nothing is played: the daemon answers that it heard nothing
        assert code == 1 and doc["ok"] is False
    else:
        assert code == 0, stdout
    if argv[:2] == ("plugins", "list"):
        assert doc["daemon_running"] is True  # answered over the socket, not read from the files
    assert heavy(modules) == []


def test_monitor_streams_through_the_thin_client(daemon, tmp_path: Path) -> None:
    from midimon.engine.live.client import Client

    proc, out = start_probe(tmp_path, daemon.home, "monitor", "--count", "1", "--no-fired", "--json")
    deadline = time.monotonic() + 30
    with Client(daemon.home / "run" / "midimon.sock", timeout=5) as c:
        # until the monitor has subscribed, a note goes unseen: play one every 0.2 s until it exits
        while proc.poll() is None and time.monotonic() < deadline:
            c.call("send", {"type": "note_on", "note": 40, "velocity": 1})
            time.sleep(0.2)
    code, stdout, modules = finish_probe(proc, out)
    assert code == 0
    assert json.loads(stdout.splitlines()[0])["event"]["note"] == 40
    assert heavy(modules) == []


def test_thin_commands_still_do_their_work(daemon, tmp_path: Path) -> None:
    env = _env(daemon.home)
    midimon = str(Path(sys.executable).with_name("midimon"))

    def run(*argv: str) -> dict:
        p = subprocess.run([midimon, *argv, "--json"], env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        return json.loads(p.stdout)

    before = run("status")["stats"]["events"]
    run("send", "note_on", "note=36", "velocity=100")
    after = run("status")
    assert after["stats"]["events"] == before + 1
    run("mode", "Other")
    assert run("mode")["mode"] == "Other"
    run("mode", "Default")
    assert run("mode")["mode"] == "Default"


@pytest.mark.parametrize(
    "argv", [("status", "--json"), ("send", "note_on", "note=36"), ("stop", "--json")], ids=" ".join
)
def test_thin_command_without_a_daemon_says_so_and_imports_nothing_heavy(tmp_path: Path, argv) -> None:
    home = tmp_path / "nobody"
    home.mkdir()
    code, stdout, modules = probe(tmp_path, home, *argv)
    assert code == 1
    if "--json" in argv:
        doc = json.loads(stdout)
        assert doc["ok"] is False and "not running" in doc["error"]
    assert heavy(modules) == []


def test_every_registered_command_is_in_the_shortcut_table() -> None:
    for module in cli.MODULES:
        _, sub = cli._build(module)
        for command in sub.choices:
            assert cli.COMMANDS.get(command) == module, f"add {command!r}: {module!r} to midimon.engine.cli.COMMANDS"


def test_help_lists_every_command_and_each_command_has_help(tmp_path: Path) -> None:
    env = _env(tmp_path)
    midimon = str(Path(sys.executable).with_name("midimon"))
    top = subprocess.run([midimon, "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert top.returncode == 0
    _, sub = cli._build(None)
    assert sub.choices, "the full parser registers no command"
    for command in sub.choices:
        assert f"    {command} " in top.stdout, f"{command} missing from midimon --help"
        p = subprocess.run([midimon, command, "--help"], env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and p.stdout.startswith(f"usage: midimon {command}"), p.stderr


def test_a_misspelt_command_lists_every_command(tmp_path: Path) -> None:
    p = subprocess.run(
        [str(Path(sys.executable).with_name("midimon")), "stauts"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2
    for command in ("status", "send", "run", "validate", "plugins"):
        assert f"'{command}'" in p.stderr
