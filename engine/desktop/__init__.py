"""Desktop back ends: Keystroke, Text, MouseClick, Launch and VolumeControl.

The action executor asks :func:`auto` once for a :class:`DesktopBackend` and calls its
methods off the engine loop (they block for a few milliseconds, or up to a few seconds for a
volume tool). Every call either happens or raises ``BackendUnavailable`` / ``ActionError``
with one line for the user. Importing this package is cheap: pynput loads on the first press.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from .base import DesktopBackend, Recording, Unavailable
from .keys import Chord, KeyPlan, parse_keys
from .launch import Launcher
from .pynput_backend import PynputInput
from .volume import Volume

__all__ = [
    "Chord",
    "Desktop",
    "DesktopBackend",
    "KeyPlan",
    "Recording",
    "Unavailable",
    "auto",
    "parse_keys",
    "problem",
]


class Desktop:
    """Keyboard and mouse, launch and volume composed into one DesktopBackend.

    Each part fails on its own: with no DISPLAY, Keystroke raises BackendUnavailable while
    Launch and VolumeControl still work.
    """

    def __init__(self, input: PynputInput, launcher: Launcher, volume_: Volume) -> None:
        self.input = input
        self.launcher = launcher
        self.volume_control = volume_
        self.name = f"{input.name}+{launcher.name}+{volume_.name}"

    def problems(self) -> dict[str, str]:
        """Every missing piece, by the actions it affects."""
        found = {
            "Keystroke, Text, MouseClick": self.input.problem(),
            "Launch": self.launcher.problem(),
            "VolumeControl": self.volume_control.problem(),
        }
        return {actions: why for actions, why in found.items() if why}

    def problem(self) -> str | None:
        for actions, why in self.problems().items():
            return f"{actions}: {why}"
        return None

    def notes(self) -> list[str]:
        return self.input.notes()

    def keystroke(self, keys: str, modifiers: Sequence[str], hold_ms: int = 0) -> None:
        self.input.keystroke(keys, modifiers, hold_ms)

    def text(self, text: str) -> None:
        self.input.text(text)

    def mouse_click(self, button: str, x: int | None, y: int | None, clicks: int = 1) -> None:
        self.input.mouse_click(button, x, y, clicks)

    def launch(self, app: str) -> None:
        self.launcher.launch(app)

    def volume(self, operation: str, value: int | None, step: int) -> None:
        self.volume_control.volume(operation, value, step)

    def close(self) -> None:
        """Drop the X connections and give borrowed keycodes back (at daemon shutdown)."""
        self.input.close()


def auto(env: Mapping[str, str] | None = None, platform: str | None = None) -> Desktop:
    """The desktop back end for this machine. Never raises: missing pieces show in
    ``problem()`` and raise BackendUnavailable when an action needs them."""
    platform = platform or sys.platform
    env = env if env is not None else os.environ
    return Desktop(PynputInput(env, platform), Launcher(platform, env), Volume(platform))


def problem() -> str | None:
    """The first missing piece on this machine, for `midimon status`; None when all work."""
    return auto().problem()
