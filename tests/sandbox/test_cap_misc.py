"""shell, midi, system, audio and store, each against a real counterpart or recording service."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from midimon.sandbox import HostServices, PluginCallError, PluginHost

CLIENT = """
def run(argv, timeout=None):
    return shell.run(argv, timeout=timeout)
def run_string(cmd):
    return shell.run(cmd)
def send(port, msg):
    return midi.send(port, msg)
def ports():
    return midi.ports()
def key(k):
    return system.keystroke(k)
def text(t):
    return system.text(t)
def volume(level):
    return system.volume(level=level)
def launch(app):
    return system.launch(app)
def play(p):
    return audio.play(p)
def put(k, v):
    return store.set(k, v)
def get(k):
    return store.get(k, "missing")
def all_keys():
    return store.keys()
"""


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def services(self) -> HostServices:
        rec = self.calls
        return HostServices(
            midi_send=lambda port, msg: rec.append(("midi", (port, msg))),
            midi_output_ports=lambda: ["Synth", "Other"],
            keystroke=lambda k: rec.append(("key", k)),
            type_text=lambda t: rec.append(("text", t)),
            set_volume=lambda level, change: rec.append(("volume", (level, change))),
            launch=lambda app: rec.append(("launch", app)),
            play_audio=lambda path: rec.append(("play", path)),
        )


# -- shell --------------------------------------------------------------------------------------


def test_shell_runs_declared_executable(make_host: Callable[..., PluginHost]) -> None:
    host = make_host(CLIENT, {"capabilities": ["subprocess"], "allow": {"commands": ["echo"]}})
    result = host.call("run", ["echo", "hi", "$HOME", ";", "id"])
    assert result["returncode"] == 0 and result["stdout"] == "hi $HOME ; id\n"


def test_shell_refuses_undeclared_and_strings(make_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    host = make_host(CLIENT, {"capabilities": ["subprocess"], "allow": {"commands": ["echo"]}})
    with pytest.raises(PluginCallError, match="commands"):
        host.call("run", ["sh", "-c", f"touch {marker}"])
    with pytest.raises(PluginCallError, match="list of strings"):
        host.call("run_string", f"echo hi; touch {marker}")
    with pytest.raises(PluginCallError):
        host.call("run", ["/bin/../bin/touch", str(marker)])
    assert not marker.exists()


def test_shell_deny_beats_allow(make_host: Callable[..., PluginHost]) -> None:
    host = make_host(
        CLIENT, {"capabilities": ["subprocess"], "allow": {"commands": ["echo"]}, "deny": {"commands": ["echo"]}}
    )
    with pytest.raises(PluginCallError, match="explicitly denied"):
        host.call("run", ["echo", "x"])


def test_shell_timeout_and_output_cap(make_host: Callable[..., PluginHost]) -> None:
    host = make_host(CLIENT, {"capabilities": ["subprocess"], "allow": {"commands": ["sleep", "yes"]}})
    started = time.monotonic()
    result = host.call("run", ["sleep", "30"], 0.3)
    assert result["timed_out"] is True and time.monotonic() - started < 2
    result = host.call("run", ["yes"], 5)
    assert result["truncated"] is True and len(result["stdout"]) <= 64 * 1024


# -- midi ---------------------------------------------------------------------------------------


def test_midi_send_to_declared_port(make_host: Callable[..., PluginHost]) -> None:
    rec = Recorder()
    host = make_host(CLIENT, {"capabilities": ["midi"], "allow": {"ports": ["Synth"]}}, services=rec.services())
    host.call("send", "Synth", {"type": "note_on", "note": 60, "velocity": 100})
    assert rec.calls == [("midi", ("Synth", {"type": "note_on", "channel": 0, "note": 60, "velocity": 100}))]
    assert host.call("ports") == ["Synth"]


def test_midi_refuses_port_sysex_and_bad_messages(make_host: Callable[..., PluginHost]) -> None:
    rec = Recorder()
    host = make_host(CLIENT, {"capabilities": ["midi"], "allow": {"ports": ["Synth"]}}, services=rec.services())
    with pytest.raises(PluginCallError, match="ports"):
        host.call("send", "Other", {"type": "note_on", "note": 1})
    with pytest.raises(PluginCallError, match="SysEx"):
        host.call("send", "Synth", {"type": "sysex", "data": [1, 2]})
    with pytest.raises(PluginCallError, match="0 to 127"):
        host.call("send", "Synth", {"type": "note_on", "note": 300})
    with pytest.raises(PluginCallError, match="does not take"):
        host.call("send", "Synth", {"type": "note_on", "note": 1, "evil": 1})
    assert rec.calls == []


def test_midi_sysex_when_declared(make_host: Callable[..., PluginHost]) -> None:
    rec = Recorder()
    host = make_host(
        CLIENT, {"capabilities": ["midi"], "allow": {"ports": ["Synth"], "sysex": True}}, services=rec.services()
    )
    host.call("send", "Synth", {"type": "sysex", "data": [0x7E, 0x7F, 6, 1]})
    assert rec.calls[0][1][1]["data"] == [0x7E, 0x7F, 6, 1]


def test_missing_service_gives_a_clear_error(make_host: Callable[..., PluginHost]) -> None:
    host = make_host(CLIENT, {"capabilities": ["midi"], "allow": {"ports": ["Synth"]}})
    with pytest.raises(PluginCallError, match="not available in this context"):
        host.call("send", "Synth", {"type": "start"})


# -- system and audio ---------------------------------------------------------------------------


def test_system_actions_through_services(make_host: Callable[..., PluginHost]) -> None:
    rec = Recorder()
    host = make_host(
        CLIENT, {"capabilities": ["system_control"], "allow": {"apps": ["firefox"]}}, services=rec.services()
    )
    host.call("key", "ctrl+t")
    host.call("text", "hello")
    host.call("volume", 0.5)
    host.call("launch", "firefox")
    assert rec.calls == [("key", "ctrl+t"), ("text", "hello"), ("volume", (0.5, None)), ("launch", "firefox")]
    with pytest.raises(PluginCallError, match="apps"):
        host.call("launch", "xterm")


def test_system_scope_limits_actions(make_host: Callable[..., PluginHost]) -> None:
    rec = Recorder()
    host = make_host(
        CLIENT,
        {"capabilities": ["system_control"], "allow": {"system": ["volume"]}, "deny": {"system": ["text"]}},
        services=rec.services(),
    )
    with pytest.raises(PluginCallError):
        host.call("key", "alt+f4")
    with pytest.raises(PluginCallError, match="explicitly denied"):
        host.call("text", "rm -rf ~")
    host.call("volume", 0.1)
    assert rec.calls == [("volume", (0.1, None))]


def test_audio_plays_only_allowed_files(make_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    rec = Recorder()
    data = tmp_path / "d"
    (data / "files").mkdir(parents=True)
    (data / "files" / "ding.wav").write_bytes(b"RIFF")
    elsewhere = tmp_path / "elsewhere.wav"
    elsewhere.write_bytes(b"RIFF")
    (data / "files" / "link.wav").symlink_to(elsewhere)
    host = make_host(CLIENT, {"capabilities": ["audio"]}, services=rec.services(), data_dir=data)
    host.call("play", "ding.wav")
    for bad in (str(elsewhere), "link.wav", "../elsewhere.wav", "/etc/passwd"):
        with pytest.raises(PluginCallError):
            host.call("play", bad)
    assert rec.calls == [("play", str((data / "files" / "ding.wav").resolve()))]


# -- store --------------------------------------------------------------------------------------


def test_store_survives_restart_and_new_host(make_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    data = tmp_path / "s"
    host = make_host(CLIENT, data_dir=data)
    host.call("put", "count", {"n": 3})
    host.stop()
    again = make_host(CLIENT, data_dir=data)
    assert again.call("get", "count") == {"n": 3}
    assert again.call("all_keys") == ["count"]
    assert again.call("get", "nope") == "missing"


def test_store_is_size_capped(make_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    host = make_host(CLIENT, data_dir=tmp_path / "s")
    host.call("put", "a", "x" * 600_000)
    with pytest.raises(PluginCallError, match="limit"):
        host.call("put", "b", "y" * 600_000)
    assert host.call("get", "b") == "missing"
