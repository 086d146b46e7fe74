"""`midimon run` as a process and the CLI that talks to it."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
from livekit import modes_config, wait_for

EXE = os.path.join(os.path.dirname(sys.executable), "midimon")


def env_for(home):
    env = {**os.environ, "MIDIMON_HOME": str(home), "MIDO_BACKEND": "mido.backends.rtmidi/LINUX_ALSA"}
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def cli(home, *args, timeout=30):
    return subprocess.run([EXE, *args], env=env_for(home), capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def running(short_home):
    (short_home / "config.toml").write_text(modes_config("A", "B"))
    procs = []

    def start():
        p = subprocess.Popen(
            [EXE, "run"], env=env_for(short_home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        procs.append(p)
        wait_for(
            lambda: cli(short_home, "mode").returncode == 0 or p.poll() is not None, 15, what="the daemon to answer"
        )
        assert p.poll() is None, p.stdout.read()
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.terminate()
            p.wait(10)


def test_status_json_is_one_document(running, short_home):
    running()
    r = cli(short_home, "status", "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)  # exactly one JSON document
    assert st["mode"] == "A" and st["config"].endswith("config.toml") and st["last_reload"]["ok"]
    human = cli(short_home, "status")
    assert "mode:    A" in human.stdout and "reload:  ok" in human.stdout


def test_reload_prints_phases_and_fails_with_file_line_key(running, short_home):
    running()
    r = cli(short_home, "reload")
    assert r.returncode == 0 and "load+validate+compile" in r.stdout and "swap" in r.stdout
    cfg = short_home / "config.toml"
    text = modes_config("A", "B").replace("velocity = 1 }", "velocity = 1000 }", 1)
    # write via a rename the watcher also sees; the explicit reload must report the same error
    cfg.write_text(text)
    r = cli(short_home, "reload")
    assert r.returncode == 1
    line = text.splitlines().index(next(l for l in text.splitlines() if "velocity = 1000" in l)) + 1
    assert f"{cfg}:{line}" in r.stderr and "modes[0].mappings[0].action" in r.stderr
    st = json.loads(cli(short_home, "status", "--json").stdout)
    assert st["last_reload"]["ok"] is False and st["mode"] == "A"
    j = cli(short_home, "reload", "--json")
    assert j.returncode == 1 and json.loads(j.stdout)["ok"] is False


def test_sighup_goes_through_the_same_reload(running, short_home):
    p = running()
    p.send_signal(signal.SIGHUP)
    wait_for(
        lambda: json.loads(cli(short_home, "status", "--json").stdout)["last_reload"].get("source") == "SIGHUP",
        10,
        what="the SIGHUP reload",
    )


def test_second_run_on_the_same_home_refuses_clearly(running, short_home):
    running()
    r = subprocess.run([EXE, "run"], env=env_for(short_home), capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "already running" in r.stderr and str(short_home) in r.stderr
    assert cli(short_home, "mode").returncode == 0  # the first one is untouched


def test_stale_socket_from_a_crash_is_replaced(running, short_home):
    run = short_home / "run"
    run.mkdir(mode=0o700)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(run / "midimon.sock"))
    s.close()  # the file stays: nobody answers on it
    assert (run / "midimon.sock").exists()
    p = running()
    assert cli(short_home, "mode").stdout.strip() == "A"
    p.send_signal(signal.SIGKILL)  # a crash: the socket file is left behind again
    p.wait(5)
    assert (run / "midimon.sock").exists()
    running()
    assert cli(short_home, "mode", "B").returncode == 0


def test_mode_send_stop_and_not_running(running, short_home):
    p = running()
    assert cli(short_home, "mode", "B").stdout.strip() == "mode: A -> B"
    assert cli(short_home, "mode", "Nope").returncode == 1
    r = cli(short_home, "send", "note_on", "note=36", "velocity=100", "channel=3", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["sent"]["channel"] == 3
    assert cli(short_home, "send", "note_on", "note=999").returncode == 1
    r = cli(short_home, "stop")
    assert r.returncode == 0 and "stopped" in r.stdout
    assert p.wait(10) == 0
    r = cli(short_home, "status")
    assert r.returncode == 1 and "not running" in r.stderr
    # and the mode came back
    p = running()
    assert cli(short_home, "mode").stdout.strip() == "B"


def test_service_unit_text(short_home, tmp_path):
    r = cli(short_home, "service", "install", "--print", "--platform", "linux", "--json")
    doc = json.loads(r.stdout)
    unit = doc["text"]
    assert doc["path"].endswith("systemd/user/midimon.service")
    assert f"ExecStart={EXE} run" in unit and f"ExecReload={EXE} reload" in unit
    assert "Restart=on-failure" in unit and "WantedBy=default.target" in unit
    assert f'Environment="MIDIMON_HOME={short_home}"' in unit
    mac = json.loads(cli(short_home, "service", "install", "--print", "--platform", "macos", "--json").stdout)
    assert "<key>KeepAlive</key>" in mac["text"] and f"<string>{EXE}</string>" in mac["text"]
    assert mac["path"].endswith("Library/LaunchAgents/io.midimon.daemon.plist")


def test_service_install_and_uninstall_write_and_remove_the_unit(short_home, tmp_path):
    env = {**env_for(short_home), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    r = subprocess.run(
        [EXE, "service", "install", "--no-start", "--platform", "linux"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    unit = tmp_path / "xdg" / "systemd" / "user" / "midimon.service"
    assert unit.exists() and "ExecReload=" in unit.read_text(), r.stderr
    r = subprocess.run(
        [EXE, "service", "uninstall", "--platform", "linux"], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and not unit.exists()
    r = subprocess.run(
        [EXE, "service", "uninstall", "--platform", "linux"], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 1 and "no midimon service" in r.stderr
