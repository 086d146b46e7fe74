"""The exact command line each volume tool gets, and the choice and fallback between tools."""

from __future__ import annotations

import pytest

from midimon.engine.desktop.volume import (
    Volume,
    amixer_argv,
    available_tools,
    normalize,
    osascript_argv,
    pactl_argv,
    wpctl_argv,
)
from midimon.engine.errors import ActionError, BackendUnavailable


def test_wpctl():
    assert wpctl_argv("up", None, 5) == ["wpctl", "set-volume", "-l", "1.0", "@DEFAULT_AUDIO_SINK@", "5%+"]
    assert wpctl_argv("down", None, 10) == ["wpctl", "set-volume", "@DEFAULT_AUDIO_SINK@", "10%-"]
    assert wpctl_argv("set", 40, 5) == ["wpctl", "set-volume", "@DEFAULT_AUDIO_SINK@", "40%"]
    assert wpctl_argv("mute", None, 5) == ["wpctl", "set-mute", "@DEFAULT_AUDIO_SINK@", "1"]
    assert wpctl_argv("unmute", None, 5) == ["wpctl", "set-mute", "@DEFAULT_AUDIO_SINK@", "0"]
    assert wpctl_argv("toggle", None, 5) == ["wpctl", "set-mute", "@DEFAULT_AUDIO_SINK@", "toggle"]


def test_pactl_up_is_absolute_and_stops_at_100():
    assert pactl_argv("up", None, 5, current=40) == ["pactl", "set-sink-volume", "@DEFAULT_SINK@", "45%"]
    assert pactl_argv("up", None, 5, current=98) == ["pactl", "set-sink-volume", "@DEFAULT_SINK@", "100%"]
    assert pactl_argv("up", None, 5, current=120) == ["pactl", "set-sink-volume", "@DEFAULT_SINK@", "120%"]
    assert pactl_argv("down", None, 3) == ["pactl", "set-sink-volume", "@DEFAULT_SINK@", "-3%"]
    assert pactl_argv("set", 0, 5) == ["pactl", "set-sink-volume", "@DEFAULT_SINK@", "0%"]
    assert pactl_argv("toggle", None, 5) == ["pactl", "set-sink-mute", "@DEFAULT_SINK@", "toggle"]


def test_amixer_and_osascript():
    assert amixer_argv("up", None, 5) == ["amixer", "-q", "sset", "Master", "5%+"]
    assert amixer_argv("mute", None, 5) == ["amixer", "-q", "sset", "Master", "mute"]
    assert amixer_argv("set", 70, 5) == ["amixer", "-q", "sset", "Master", "70%"]
    assert osascript_argv("set", 30, 5) == ["osascript", "-e", "set volume output volume 30"]
    assert osascript_argv("up", None, 7)[2].endswith("+ 7)")
    assert osascript_argv("mute", None, 5) == ["osascript", "-e", "set volume output muted true"]


def test_tool_order_follows_what_is_installed():
    present = {"pactl", "amixer"}
    which = lambda name: f"/usr/bin/{name}" if name in present else None
    assert available_tools("linux", which) == ["pactl", "amixer"]
    present.add("wpctl")
    assert available_tools("linux", which) == ["wpctl", "pactl", "amixer"]
    assert available_tools("darwin", lambda n: "/usr/bin/osascript") == ["osascript"]
    assert available_tools("win32", which) == []


@pytest.mark.parametrize(
    "op, value, step, message",
    [
        ("Louder", None, 5, "unknown volume operation"),
        ("Set", None, 5, "needs value"),
        ("Set", 101, 5, "0..100"),
        ("Up", None, 0, "step must be 1..100"),
    ],
)
def test_bad_fields(op, value, step, message):
    with pytest.raises(ValueError, match=message):
        normalize(op, value, step)


def test_case_insensitive_operations():
    assert normalize("Up", None, 5) == ("up", None, 5)
    assert normalize("SET", 40, 5) == ("set", 40, 5)


def test_runs_the_first_tool_and_falls_back_when_it_cannot_reach_a_server():
    ran: list[list[str]] = []

    def run(argv):
        ran.append(list(argv))
        if argv[0] == "wpctl":
            raise ActionError("wpctl failed: Could not connect to PipeWire")
        if argv[:2] == ["pactl", "get-sink-volume"]:
            return "Volume: front-left: 26214 /  40% / -23.88 dB,   front-right: 26214 /  40% / -23.88 dB\n"
        return ""

    Volume("linux", tools=["wpctl", "pactl"], run=run).volume("Up", None, 10)
    assert ran == [
        ["wpctl", "set-volume", "-l", "1.0", "@DEFAULT_AUDIO_SINK@", "10%+"],
        ["pactl", "get-sink-volume", "@DEFAULT_SINK@"],
        ["pactl", "set-sink-volume", "@DEFAULT_SINK@", "50%"],
    ]


def test_every_tool_failing_is_one_error_naming_each():
    def run(argv):
        raise ActionError(f"{argv[0]} failed: nope")

    with pytest.raises(ActionError, match="wpctl failed: nope; amixer failed: nope"):
        Volume("linux", tools=["wpctl", "amixer"], run=run).volume("Mute", None, 5)


def test_no_tool_is_backend_unavailable_with_how_to_get_one():
    volume = Volume("linux", tools=[])
    assert "pulseaudio-utils" in volume.problem()
    with pytest.raises(BackendUnavailable, match="apt install"):
        volume.volume("Up", None, 5)
    with pytest.raises(BackendUnavailable, match="pycaw"):
        Volume("win32").volume("Up", None, 5)
