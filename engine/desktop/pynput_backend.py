"""Keystroke, Text and MouseClick through pynput (X11, macOS, Windows).

pynput is imported on the first press, never at import of this module: with no X server its
import raises, and with a dead one it can block, and `midimon status` must still answer.

On X11 pynput sends modifiers and named keys through XTest (like a real keyboard) and
character keys with XSendEvent to the focused window, borrowing a spare keycode for
characters the keymap lacks; that is how "é" and "✓" get typed on a US keymap. A few programs
ignore XSendEvent input (xterm unless allowSendEvents is on); see docs/platforms.md.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, Sequence

from midimon.engine.errors import ActionError, BackendUnavailable

from . import session
from .keys import Chord, parse_keys, physical_key, physical_modifiers

# Media "stop" has no pynput Key member; these are the platform codes pynput accepts as vk
# (an X keysym on X11, a virtual-key code on Windows). macOS has no public code for it.
_MEDIA_STOP_VK = {"linux": 0x1008FF15, "win32": 0xB2}

_BUTTONS = ("left", "right", "middle")

# Between the combinations of a sequence: some toolkits drop a press that lands in the same
# event batch as the previous release.
_SEQUENCE_GAP_S = 0.01


class PynputInput:
    """The keyboard and mouse half of a desktop back end."""

    name = "pynput"

    def __init__(self, env: Mapping[str, str] | None = None, platform: str | None = None) -> None:
        self._env = env if env is not None else os.environ
        self._platform = platform or sys.platform
        self._lock = threading.Lock()  # one X connection per controller; calls come from worker threads
        self._keyboard: Any = None
        self._mouse: Any = None
        self._modules: Any = None

    # -- status -----------------------------------------------------------------------------

    def problem(self) -> str | None:
        found = session.input_problem(self._env, self._platform)
        if found is None and self._platform == "darwin":
            found = _macos_accessibility_problem()
        return found

    def notes(self) -> list[str]:
        return session.input_notes(self._env, self._platform)

    # -- actions ----------------------------------------------------------------------------

    def keystroke(self, keys: str, modifiers: Sequence[str], hold_ms: int = 0) -> None:
        try:
            plan = parse_keys(keys, list(modifiers))
        except ValueError as exc:  # normally caught at config load; a plugin may still send one
            raise ActionError(f"Keystroke: {exc}") from None
        if hold_ms < 0:
            raise ActionError(f"Keystroke: hold_ms must be 0 or more, not {hold_ms}")
        with self._lock:
            keyboard, modules = self._keyboard_controller()
            for index, chord in enumerate(plan.chords):
                if index:
                    time.sleep(_SEQUENCE_GAP_S)
                self._run("Keystroke", str(plan), lambda c=chord: self._press_chord(keyboard, modules, c, hold_ms))

    def text(self, text: str) -> None:
        if not text:
            return
        with self._lock:
            keyboard, _ = self._keyboard_controller()
            self._run("Text", repr(_preview(text)), lambda: keyboard.type(text))

    def mouse_click(self, button: str, x: int | None, y: int | None, clicks: int = 1) -> None:
        name = str(button).lower()
        if name not in _BUTTONS:
            raise ActionError(f"MouseClick: unknown button '{button}' (use Left, Right or Middle)")
        if (x is None) != (y is None):
            raise ActionError("MouseClick: give both x and y, or neither to click where the pointer is")
        if clicks < 1:
            raise ActionError(f"MouseClick: clicks must be 1 or more, not {clicks}")
        with self._lock:
            mouse, modules = self._mouse_controller()
            target = getattr(modules.mouse.Button, name)

            def click() -> None:
                if x is not None and y is not None:
                    mouse.position = (int(x), int(y))
                mouse.click(target, clicks)

            self._run("MouseClick", f"{name} at {(x, y) if x is not None else 'pointer'}", click)

    # -- internals --------------------------------------------------------------------------

    def _press_chord(self, keyboard: Any, modules: Any, chord: Chord, hold_ms: int) -> None:
        held: list[Any] = []
        failed = True
        try:
            for name in physical_modifiers(chord.modifiers, self._platform):
                key = getattr(modules.keyboard.Key, name)
                keyboard.press(key)
                held.append(key)
            key = self._resolve(modules, physical_key(chord.key, self._platform))
            keyboard.press(key)
            held.append(key)
            if hold_ms:
                time.sleep(hold_ms / 1000)
            failed = False
        finally:
            # Release in reverse even after an error: a stuck Ctrl would break the user's desktop.
            errors = []
            for key in reversed(held):
                try:
                    keyboard.release(key)
                except Exception as exc:  # noqa: BLE001 - keep releasing the others
                    errors.append(exc)
            if errors and not failed:
                raise errors[0]

    def _resolve(self, modules: Any, key: str) -> Any:
        kb = modules.keyboard
        if len(key) == 1:
            return kb.KeyCode.from_char(key)
        if key == "media_stop":
            vk = _MEDIA_STOP_VK.get(self._platform)
            if vk is None:
                raise ActionError("the media key 'stop' cannot be sent on macOS")
            return kb.KeyCode.from_vk(vk)
        member = getattr(kb.Key, key, None)
        if member is None:
            raise ActionError(f"the key '{key}' cannot be sent on this platform")
        return member

    def _run(self, action: str, what: str, work: Any) -> None:
        try:
            work()
        except ActionError:
            raise
        except Exception as exc:  # noqa: BLE001 - pynput and Xlib raise many unrelated types
            # A dead X connection never recovers: drop the controllers so the next press
            # reconnects, and say "unavailable" when the display itself is gone.
            self._keyboard = self._mouse = None
            gone = self.problem()
            if gone:
                raise BackendUnavailable(gone) from None
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ActionError(f"{action} {what} failed: {detail}") from None

    def _import(self) -> Any:
        if self._modules is not None:
            return self._modules
        gone = self.problem()
        if gone:
            raise BackendUnavailable(gone)
        try:
            import pynput.keyboard
            import pynput.mouse
        except Exception as exc:  # noqa: BLE001 - ImportError, Xlib errors...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendUnavailable(f"pynput cannot start: {first}") from None
        self._modules = pynput
        return pynput

    def _keyboard_controller(self) -> tuple[Any, Any]:
        modules = self._import()
        if self._keyboard is None:
            self._keyboard = self._connect(modules.keyboard.Controller)
        return self._keyboard, modules

    def _mouse_controller(self) -> tuple[Any, Any]:
        modules = self._import()
        if self._mouse is None:
            self._mouse = self._connect(modules.mouse.Controller)
        return self._mouse, modules

    def _connect(self, controller: Any) -> Any:
        try:
            return controller()
        except Exception as exc:  # noqa: BLE001
            gone = self.problem()
            raise BackendUnavailable(gone or f"cannot open the display: {exc}") from None


def _preview(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _macos_accessibility_problem() -> str | None:
    # Without the permission macOS silently drops synthetic events; ask the system instead of
    # letting presses vanish. pynput depends on pyobjc, which provides HIServices on macOS.
    try:
        from HIServices import AXIsProcessTrusted  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - cannot tell; do not claim a problem we cannot see
        return None
    if AXIsProcessTrusted():
        return None
    return ("macOS has not granted Accessibility to the app running midimon: add it in "
            "System Settings > Privacy & Security > Accessibility")
