"""VolumeControl against a real PulseAudio server with a null sink, read back with pactl."""

from __future__ import annotations

import subprocess

import pytest

from midimon.engine.desktop.volume import Volume, parse_pactl_volume
from midimon.engine.errors import ActionError


def level() -> int:
    return parse_pactl_volume(
        subprocess.run(
            ["pactl", "get-sink-volume", "@DEFAULT_SINK@"], capture_output=True, text=True, check=True
        ).stdout
    )


def muted() -> bool:
    out = subprocess.run(["pactl", "get-sink-mute", "@DEFAULT_SINK@"], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "Mute: yes"


@pytest.fixture
def volume(pulse) -> Volume:
    return Volume("linux", tools=["pactl"])  # pinned: a wpctl on the machine must not be used


def test_set_up_down(volume):
    volume.volume("Set", 40, 5)
    assert level() == 40
    volume.volume("Up", None, 5)
    assert level() == 45
    volume.volume("down", None, 10)
    assert level() == 35


def test_up_stops_at_100_and_down_at_0(volume):
    volume.volume("Set", 98, 5)
    volume.volume("Up", None, 5)
    assert level() == 100
    volume.volume("Up", None, 5)
    assert level() == 100
    volume.volume("Set", 3, 5)
    volume.volume("Down", None, 5)
    assert level() == 0


def test_mute_unmute_toggle(volume):
    volume.volume("Unmute", None, 5)
    assert not muted()
    volume.volume("Mute", None, 5)
    assert muted()
    volume.volume("Toggle", None, 5)
    assert not muted()


def test_a_server_that_is_gone_is_an_error_not_silence(volume, monkeypatch, tmp_path):
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/nobody")
    with pytest.raises(ActionError, match="pactl failed"):
        volume.volume("Up", None, 5)
