"""No display, Wayland, a dead DISPLAY: one clear line, and nothing imported or sent."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from midimon.engine.desktop import auto
from midimon.engine.desktop.pynput_backend import PynputInput
from midimon.engine.desktop.session import detect, input_notes, input_problem
from midimon.engine.errors import BackendUnavailable


def test_no_display_is_one_line_at_status_and_at_the_press():
    backend = PynputInput(env={}, platform="linux")
    assert "DISPLAY is not set" in backend.problem()
    for call in (
        lambda: backend.keystroke("a", []),
        lambda: backend.text("x"),
        lambda: backend.mouse_click("left", None, None),
    ):
        with pytest.raises(BackendUnavailable, match="DISPLAY is not set"):
            call()


def test_wayland_without_xwayland_and_with_it():
    env = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}
    assert detect(env, "linux").kind == "wayland"
    assert "Wayland session without XWayland" in input_problem(env, "linux")
    xwayland = dict(env, DISPLAY=":0")
    assert detect(xwayland, "linux").kind == "xwayland"
    assert "X11 (XWayland) windows only" in input_notes(xwayland, "linux")[0]
    assert detect({"XDG_SESSION_TYPE": "wayland"}, "linux").kind == "wayland"


def test_a_display_nobody_serves():
    assert "no X server answers on DISPLAY=:4242" in input_problem({"DISPLAY": ":4242"}, "linux")


def test_status_names_the_actions_affected():
    desktop = auto(env={}, platform="linux")
    assert desktop.problem().startswith("Keystroke, Text, MouseClick: no X display")
    assert "Keystroke, Text, MouseClick" in desktop.problems()


def test_importing_the_package_and_asking_status_never_imports_pynput():
    code = (
        "import sys, midimon.engine.desktop as d; b = d.auto(); b.problem(); "
        "print('pynput' in sys.modules, 'Xlib' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr
