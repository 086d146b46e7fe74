"""Keystroke, Text and MouseClick: pynput on macOS and Windows; XTest plus pynput on X11.

Nothing heavy is imported at import of this module: pynput's import raises with no X server
and can block with a dead one, and `midimon status` must still answer.

On X11, Keystroke and Text go through XTest (x11_keys.py): pynput sends characters with
XSendEvent, which global hotkeys, Super combos and xterm ignore, and it garbled some borrowed
non-ASCII characters. pynput still moves and clicks the mouse there (through XTest too).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from midimon.engine.errors import ActionError, BackendUnavailable

from . import session
from .keys import Chord, parse_keys, physical_key, physical_modifiers

Release = Callable[[], None]

# Media "stop" has no pynput Key member: Windows' virtual-key code for it. macOS has no public
# code for it. (X11 keys go through x11_keys.py.)
_MEDIA_STOP_VK = {"win32": 0xB2}

_BUTTONS = ("left", "right", "middle")

# X11 keycodes borrowed for keys the keymap lacks are given back once the keyboard has been
# idle this long: by then every client has looked up the events that used them.
_RESTORE_KEYMAP_AFTER_S = 3.0

# Between the combinations of a sequence: some toolkits drop a press that lands in the same
# event batch as the previous release.
_SEQUENCE_GAP_S = 0.01


class PynputInput:
    """The keyboard and mouse half of a desktop back end."""

    name = "pynput"

    def __init__(self, env: Mapping[str, str] | None = None, platform: str | None = None) -> None:
        self._env = env if env is not None else os.environ
        self._platform = platform or sys.platform
        # Display connections are not thread-safe and actions run on worker threads.
        self._lock = threading.Lock()
        self._modules: Any = None
        self._keyboard: Any = None
        self._mouse: Any = None
        self._presser: Any = None

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
            presser = self._key_presser()
            for index, chord in enumerate(plan.chords):
                if index:
                    time.sleep(_SEQUENCE_GAP_S)
                self._run("Keystroke", str(plan), functools.partial(self._press_chord, presser, chord, hold_ms))

    def text(self, text: str) -> None:
        if not text:
            return
        with self._lock:
            if self._platform == "linux":
                presser = self._key_presser()
                self._run("Text", repr(_preview(text)), lambda: presser.type(text))
            else:
                keyboard = self._keyboard_controller()
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
            mouse = self._mouse_controller()
            target = getattr(self._import().mouse.Button, name)

            def click() -> None:
                if x is not None and y is not None:
                    mouse.position = (int(x), int(y))
                mouse.click(target, clicks)

            self._run("MouseClick", f"{name} at {(x, y) if x is not None else 'the pointer'}", click)

    def close(self) -> None:
        """Drop the display connections (tests call this before stopping their X server)."""
        with self._lock:
            self._drop()

    # -- internals --------------------------------------------------------------------------

    def _press_chord(self, presser: Any, chord: Chord, hold_ms: int) -> None:
        releases: list[Release] = []
        failed = True
        try:
            held = physical_modifiers(chord.modifiers, self._platform)
            for name in held:
                releases.append(presser.press(name, shift_held=False))
            key = physical_key(chord.key, self._platform)
            releases.append(presser.press(key, shift_held="shift" in held))
            if hold_ms:
                time.sleep(hold_ms / 1000)
            failed = False
        finally:
            # Release in reverse even after an error: a stuck Ctrl would break the user's desktop.
            errors = []
            for release in reversed(releases):
                try:
                    release()
                except Exception as exc:
                    errors.append(exc)
            if errors and not failed:
                raise errors[0]

    def _run(self, action: str, what: str, work: Callable[[], Any]) -> None:
        try:
            work()
        except ActionError:
            raise
        except Exception as exc:
            # A dead X connection never recovers: drop the connections so the next press
            # reconnects, and say "unavailable" when the display itself is gone.
            self._drop()
            gone = self.problem()
            if gone:
                raise BackendUnavailable(gone) from None
            raise ActionError(f"{action} {what} failed: {_first_line(exc)}") from None

    def _import(self) -> Any:
        if self._modules is not None:
            return self._modules
        gone = self.problem()
        if gone:
            raise BackendUnavailable(gone)
        try:
            import pynput.keyboard
            import pynput.mouse
        except Exception as exc:
            raise BackendUnavailable(f"pynput cannot start: {_first_line(exc)}") from None
        self._modules = pynput
        return pynput

    def _key_presser(self) -> Any:
        presser = self._presser
        if presser is not None and hasattr(presser, "restore"):
            if time.monotonic() - presser.last_used > _RESTORE_KEYMAP_AFTER_S:
                presser.restore()
        if self._presser is None:
            modules = self._import()  # the same display checks and messages on every platform
            if self._platform == "linux":
                from .x11_keys import XTestKeyboard

                self._presser = self._connect(XTestKeyboard)
            else:
                self._presser = _PynputKeys(self._keyboard_controller(), modules, self._platform)
        return self._presser

    def _keyboard_controller(self) -> Any:
        modules = self._import()
        if self._keyboard is None:
            self._keyboard = self._connect(modules.keyboard.Controller)
        return self._keyboard

    def _mouse_controller(self) -> Any:
        modules = self._import()
        if self._mouse is None:
            self._mouse = self._connect(modules.mouse.Controller)
        return self._mouse

    def _connect(self, factory: Callable[[], Any]) -> Any:
        try:
            return factory()
        except Exception as exc:
            raise BackendUnavailable(self.problem() or f"cannot open the display: {_first_line(exc)}") from None

    def _drop(self) -> None:
        presser, self._presser = self._presser, None
        if presser is not None and hasattr(presser, "close"):
            try:
                presser.close()
            except Exception:
                pass
        self._keyboard = self._mouse = None


class _PynputKeys:
    """Key presses through pynput (macOS, Windows), with the interface of XTestKeyboard."""

    def __init__(self, keyboard: Any, modules: Any, platform: str) -> None:
        self._keyboard = keyboard
        self._kb = modules.keyboard
        self._platform = platform

    def press(self, key: str, shift_held: bool) -> Release:
        target = self._resolve(key)
        self._keyboard.press(target)
        return lambda: self._keyboard.release(target)

    def _resolve(self, key: str) -> Any:
        if len(key) == 1:
            return self._kb.KeyCode.from_char(key)
        if key == "media_stop":
            vk = _MEDIA_STOP_VK.get(self._platform)
            if vk is None:
                raise ActionError("the media key 'stop' cannot be sent on macOS")
            return self._kb.KeyCode.from_vk(vk)
        member = getattr(self._kb.Key, key, None)
        if member is None:
            raise ActionError(f"the key '{key}' cannot be sent on this platform")
        return member


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _preview(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _macos_accessibility_problem() -> str | None:
    # Without the permission macOS silently drops synthetic events; ask the system instead of
    # letting presses vanish. pynput depends on pyobjc, which provides HIServices on macOS.
    try:
        from HIServices import AXIsProcessTrusted  # type: ignore[import-not-found]  # pyobjc, macOS only
    except Exception:
        return None
    if AXIsProcessTrusted():
        return None
    return (
        "macOS has not granted Accessibility to the app running midimon: add it in "
        "System Settings > Privacy & Security > Accessibility"
    )
