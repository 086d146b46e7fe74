"""The interface every desktop back end implements.

Keystroke, Text, MouseClick, Launch and VolumeControl actions only ever talk to a
``DesktopBackend``; which one runs (pynput on X11/macOS/Windows, a recording fake in tests, or
``Unavailable``) is chosen once by :func:`midimon.engine.desktop.auto`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from midimon.engine.errors import BackendUnavailable


class DesktopBackend(Protocol):
    name: str

    def problem(self) -> str | None:
        """None when the back end can work, else one line saying what is missing."""

    def notes(self) -> list[str]:
        """Limits worth showing in `midimon status` even when it works (e.g. Wayland)."""

    def keystroke(self, keys: str, modifiers: Sequence[str], hold_ms: int = 0) -> None:
        """Press ``keys`` (one key, a combo "ctrl+k", or a sequence "ctrl+k ctrl+c")."""

    def text(self, text: str) -> None: ...

    def mouse_click(self, button: str, x: int | None, y: int | None, clicks: int = 1) -> None: ...

    def launch(self, app: str) -> None: ...

    def volume(self, operation: str, value: int | None, step: int) -> None:
        """operation is Up, Down, Mute, Unmute, Toggle or Set (value 0-100)."""


class Unavailable:
    """A back end that explains, at every call, why nothing can happen."""

    name = "unavailable"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def problem(self) -> str | None:
        return self.reason

    def notes(self) -> list[str]:
        return []

    def _fail(self, *_a, **_k):
        raise BackendUnavailable(self.reason)

    keystroke = text = mouse_click = launch = volume = _fail


class Recording:
    """Records calls instead of performing them: for unit tests and `--dry-run`."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def problem(self) -> str | None:
        return None

    def notes(self) -> list[str]:
        return []

    def keystroke(self, keys, modifiers, hold_ms=0):
        self.calls.append(("keystroke", keys, tuple(modifiers), hold_ms))

    def text(self, text):
        self.calls.append(("text", text))

    def mouse_click(self, button, x, y, clicks=1):
        self.calls.append(("mouse_click", button, x, y, clicks))

    def launch(self, app):
        self.calls.append(("launch", app))

    def volume(self, operation, value, step):
        self.calls.append(("volume", operation, value, step))
