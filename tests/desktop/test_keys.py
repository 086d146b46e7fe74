"""Key names and modifiers: the parser the config loader runs at load time."""

from __future__ import annotations

import pytest

from midimon.engine.desktop.keys import Chord, parse_keys, physical_modifiers


def chords(keys: str, modifiers: list[str] | None = None) -> list[tuple[tuple[str, ...], str]]:
    return [(c.modifiers, c.key) for c in parse_keys(keys, modifiers or []).chords]


@pytest.mark.parametrize(
    "name, key",
    [
        ("a", "a"),
        ("A", "a"),
        ("7", "7"),
        (",", ","),
        ("é", "é"),
        ("space", "space"),
        ("Return", "enter"),
        ("enter", "enter"),
        ("Escape", "esc"),
        ("esc", "esc"),
        ("tab", "tab"),
        ("backspace", "backspace"),
        ("delete", "delete"),
        ("up", "up"),
        ("DownArrow", "down"),
        ("left", "left"),
        ("right", "right"),
        ("home", "home"),
        ("end", "end"),
        ("PageUp", "page_up"),
        ("page_down", "page_down"),
        ("pgdn", "page_down"),
        ("F8", "f8"),
        ("f1", "f1"),
        ("f20", "f20"),
        ("play", "media_play_pause"),
        ("playpause", "media_play_pause"),
        ("next", "media_next"),
        ("previous", "media_previous"),
        ("volumeup", "media_volume_up"),
        ("voldown", "media_volume_down"),
        ("mute", "media_volume_mute"),
        ("stop", "media_stop"),
        ("plus", "+"),
        ("minus", "-"),
    ],
)
def test_key_names(name, key):
    assert chords(name) == [((), key)]


@pytest.mark.parametrize(
    "modifier, logical",
    [
        ("cmd", "cmd"),
        ("command", "cmd"),
        ("Meta", "super"),
        ("super", "super"),
        ("win", "super"),
        ("ctrl", "ctrl"),
        ("Control", "ctrl"),
        ("alt", "alt"),
        ("option", "alt"),
        ("shift", "shift"),
    ],
)
def test_modifier_aliases(modifier, logical):
    assert chords("c", [modifier]) == [((logical,), "c")]


def test_combos_sequences_and_the_modifiers_field_apply_to_every_step():
    assert chords("ctrl+k ctrl+c") == [(("ctrl",), "k"), (("ctrl",), "c")]
    assert chords("k c", ["ctrl"]) == [(("ctrl",), "k"), (("ctrl",), "c")]
    assert chords("shift+alt+t", ["cmd"]) == [(("cmd", "alt", "shift"), "t")]
    assert chords("Cmd+Shift+4") == [(("cmd", "shift"), "4")]


def test_plus_key_and_tapping_a_modifier_alone():
    assert chords("ctrl++") == [(("ctrl",), "+")]
    assert chords("+") == [((), "+")]
    assert chords("shift") == [((), "shift")]
    assert chords("shift", ["shift"]) == [((), "shift")]


def test_fn_is_accepted_and_reported_as_ignored():
    plan = parse_keys("f8", ["fn"])
    assert plan.chords == (Chord((), "f8"),)
    assert plan.ignored == ("fn",)
    assert parse_keys("fn+f8").ignored == ("fn",)


@pytest.mark.parametrize(
    "keys, modifiers, message",
    [
        ("spce", [], "unknown key 'spce' — did you mean 'space'?"),
        ("F21", [], "unknown key 'F21'"),
        ("c", ["ctlr"], "unknown modifier 'ctlr' — did you mean 'ctrl'?"),
        ("a+b", [], "only the last part of a combination may be a key"),
        ("ctrl+", [], "empty key name"),
        ("", [], "keys is empty"),
        ("   ", [], "keys is empty"),
        ("fn", [], "'fn' cannot be sent on its own"),
        ("ctrl+fn", [], "'fn' must come before"),
        ("ctrl+xyzzy", [], "unknown key 'xyzzy'"),
    ],
)
def test_errors_name_the_problem(keys, modifiers, message):
    with pytest.raises(ValueError) as info:
        parse_keys(keys, modifiers)
    assert message in str(info.value)


def test_cmd_is_ctrl_on_linux_and_windows_and_command_on_macos():
    assert physical_modifiers(("cmd",), "linux") == ("ctrl",)
    assert physical_modifiers(("cmd",), "win32") == ("ctrl",)
    assert physical_modifiers(("cmd",), "darwin") == ("cmd",)
    assert physical_modifiers(("super",), "linux") == ("cmd",)  # pynput's name for Super
    # ctrl+cmd+f (macOS full screen) collapses to one Ctrl on Linux
    assert physical_modifiers(("ctrl", "cmd"), "linux") == ("ctrl",)


def test_every_key_of_the_real_midimon_configs_parses():
    for keys, modifiers in [
        ("space", ["cmd"]),
        ("4", ["cmd", "shift"]),
        ("up", ["ctrl"]),
        ("f", ["ctrl", "cmd"]),
        ("escape", ["cmd", "option"]),
        ("q", ["cmd"]),
        ("F8", []),
        ("F7", []),
        ("F9", []),
        ("F1", []),
        ("b", ["cmd"]),
    ]:
        assert parse_keys(keys, modifiers).chords
