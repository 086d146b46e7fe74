"""Keystroke, Text and MouseClick on a real X server (Xvfb), observed by a Tk window in another
process. Every test ends with an F12 marker so it reads exactly the events it caused, and the
marker's modifier state proves no modifier was left held."""

from __future__ import annotations

import time

import pytest

from midimon.engine.desktop.pynput_backend import PynputInput
from midimon.engine.errors import ActionError

pytestmark = pytest.mark.x11

SHIFT, CONTROL, MOD4 = 1, 4, 64  # X modifier masks; Super is Mod4 on the default keymap


@pytest.fixture(scope="module")
def backend(recorder):
    assert recorder.geometry["x"] == 100 and recorder.geometry["y"] == 100, recorder.geometry
    backend = PynputInput()
    yield backend
    backend.close()


def sync(recorder, backend: PynputInput) -> None:
    """Wait until every event sent so far has reached the window, then forget them."""
    backend.keystroke("f12", [])
    recorder.until("F12")


def observe(recorder, backend: PynputInput, act) -> list[dict]:
    sync(recorder, backend)
    act()
    backend.keystroke("f12", [])
    events = recorder.until("F12")
    return events


def presses(events: list[dict]) -> list[tuple[str, str, int]]:
    return [(e["keysym"], e["char"], e["state"]) for e in events if e["t"] == "press"]


def test_the_marker_arrives_with_no_modifier_held(recorder, backend):
    recorder.drain()
    backend.keystroke("f12", [])
    press = recorder.next(kind="press")
    assert (press["keysym"], press["state"]) == ("F12", 0)
    assert recorder.next(kind="release")["keysym"] == "F12"


def test_letters_digits_and_punctuation(recorder, backend):
    events = observe(recorder, backend, lambda: [backend.keystroke(k, []) for k in ("a", "Z", "7", ",")])
    assert presses(events) == [("a", "a", 0), ("z", "z", 0), ("7", "7", 0), ("comma", ",", 0)]


def test_shift_a_gives_capital_a_both_spellings(recorder, backend):
    events = observe(recorder, backend, lambda: (backend.keystroke("shift+a", []), backend.keystroke("a", ["shift"])))
    typed = [p for p in presses(events) if p[0] != "Shift_L"]
    assert typed == [("A", "A", SHIFT), ("A", "A", SHIFT)]
    assert [p[0] for p in presses(events)].count("Shift_L") == 2


def test_function_keys_including_ones_the_keymap_lacks(recorder, backend):
    events = observe(recorder, backend, lambda: [backend.keystroke(k, []) for k in ("F8", "f1", "F13", "f20")])
    assert [p[0] for p in presses(events)] == ["F8", "F1", "F13", "F20"]
    # The keycode borrowed for F20 is given back at close (or when idle).
    backend.close()
    from Xlib.display import Display

    display = Display()
    try:
        from Xlib import XK

        assert display.keysym_to_keycode(XK.string_to_keysym("F20")) == 0
    finally:
        display.close()


def test_ctrl_k(recorder, backend):
    events = observe(recorder, backend, lambda: backend.keystroke("ctrl+k", []))
    assert presses(events) == [("Control_L", "", 0), ("k", "\x0b", CONTROL)]


def test_cmd_means_ctrl_on_linux_and_super_means_super(recorder, backend):
    events = observe(recorder, backend, lambda: (backend.keystroke("s", ["cmd"]), backend.keystroke("super+e", [])))
    got = presses(events)
    assert got[:2] == [("Control_L", "", 0), ("s", "\x13", CONTROL)]
    assert got[2][0] == "Super_L"
    assert got[3][0] == "e" and got[3][2] & MOD4


def test_a_sequence_releases_between_combinations(recorder, backend):
    events = observe(recorder, backend, lambda: backend.keystroke("ctrl+k ctrl+c", []))
    assert presses(events) == [
        ("Control_L", "", 0),
        ("k", "\x0b", CONTROL),
        ("Control_L", "", 0),
        ("c", "\x03", CONTROL),
    ]
    order = [(e["t"], e["keysym"]) for e in events]
    assert order.index(("release", "Control_L")) < order.index(("press", "c"))


def test_hold_ms_keeps_the_key_down(recorder, backend):
    started = time.monotonic()
    events = observe(recorder, backend, lambda: backend.keystroke("f5", [], hold_ms=300))
    assert time.monotonic() - started >= 0.3
    down = next(e for e in events if e["t"] == "press" and e["keysym"] == "F5")
    up = next(e for e in events if e["t"] == "release" and e["keysym"] == "F5")
    assert up["time"] - down["time"] >= 250  # X server timestamps, in ms


def test_media_keys(recorder, backend):
    events = observe(
        recorder, backend, lambda: [backend.keystroke(k, []) for k in ("playpause", "next", "volumeup", "stop")]
    )
    assert [p[0] for p in presses(events)] == [
        "XF86AudioPlay",
        "XF86AudioNext",
        "XF86AudioRaiseVolume",
        "XF86AudioStop",
    ]


def test_text_with_non_ascii_characters(recorder, backend):
    events = observe(recorder, backend, lambda: backend.text("héllo ✓ Ünï, OK!"))
    assert "".join(p[1] for p in presses(events) if p[1]) == "héllo ✓ Ünï, OK!"


def test_mouse_clicks_land_on_the_window_where_asked(recorder, backend):
    def clicks() -> None:
        backend.mouse_click("Left", 150, 160)
        backend.mouse_click("right", 300, 200)
        backend.mouse_click("Middle", 120, 110, clicks=2)

    events = observe(recorder, backend, clicks)
    buttons = [(e["num"], e["x_root"], e["y_root"]) for e in events if e["t"] == "button"]
    assert buttons == [(1, 150, 160), (3, 300, 200), (2, 120, 110), (2, 120, 110)]


def test_click_without_coordinates_uses_the_pointer(recorder, backend):
    observe(recorder, backend, lambda: backend.mouse_click("left", 210, 220))
    events = observe(recorder, backend, lambda: backend.mouse_click("left", None, None))
    assert [(e["num"], e["x_root"], e["y_root"]) for e in events if e["t"] == "button"] == [(1, 210, 220)]


def test_bad_fields_fail_loudly_and_send_nothing(recorder, backend):
    sync(recorder, backend)
    with pytest.raises(ActionError, match="did you mean 'space'"):
        backend.keystroke("spce", [])
    with pytest.raises(ActionError, match="both x and y"):
        backend.mouse_click("left", 10, None)
    with pytest.raises(ActionError, match="unknown button"):
        backend.mouse_click("thumb", None, None)
    backend.keystroke("f12", [])
    assert recorder.until("F12") == []
