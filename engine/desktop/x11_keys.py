"""Keystroke and Text on X11 through the XTest extension, the way a physical keyboard types.

pynput sends character keys with XSendEvent to the focused window and gives them only the
Shift/Ctrl/Alt state it tracks itself. Such events never trigger passive grabs, so global
hotkeys (OBS, the window manager, ctrl+alt+t) ignore them, and super+e arrives as a bare "e".
pynput's type() also mixed up characters it had to borrow keycodes for ("Ünï" arrived as
"ÜnÜ" in tests). XTest events are indistinguishable from real ones. Like xdotool, a keysym that the keymap
lacks (F13..F20 on most layouts, "é" on a US one) is put on an unused keycode; it is given
back when the keyboard has been idle a few seconds, or at close.

python-xlib comes with pynput on Linux; it is imported on first use only.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

# Canonical key names (see keys.py) -> X keysym names.
_KEYSYM_NAMES = {
    "space": "space",
    "enter": "Return",
    "esc": "Escape",
    "tab": "Tab",
    "backspace": "BackSpace",
    "delete": "Delete",
    "insert": "Insert",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "home": "Home",
    "end": "End",
    "page_up": "Prior",
    "page_down": "Next",
    "print_screen": "Print",
    "scroll_lock": "Scroll_Lock",
    "pause": "Pause",
    "caps_lock": "Caps_Lock",
    "num_lock": "Num_Lock",
    "menu": "Menu",
    # physical modifiers, as named by keys.physical_modifiers (pynput's names)
    "ctrl": "Control_L",
    "shift": "Shift_L",
    "alt": "Alt_L",
    "cmd": "Super_L",
    **{f"f{n}": f"F{n}" for n in range(1, 21)},
}
# XF86 media keysyms have no names in python-xlib's default tables.
_MEDIA_KEYSYMS = {
    "media_volume_down": 0x1008FF11,
    "media_volume_mute": 0x1008FF12,
    "media_volume_up": 0x1008FF13,
    "media_play_pause": 0x1008FF14,
    "media_stop": 0x1008FF15,
    "media_previous": 0x1008FF16,
    "media_next": 0x1008FF17,
}

Release = Callable[[], None]


def keysym_for(key: str) -> int:
    """The X keysym of a canonical key name or of one character."""
    if len(key) == 1:
        code = ord(key)
        # Latin-1 keysyms equal their code point; the rest use the Unicode keysym range,
        # which every Xlib client since X11R6.9 understands.
        return code if 0x20 <= code < 0x100 else 0x01000000 | code
    if key in _MEDIA_KEYSYMS:
        return _MEDIA_KEYSYMS[key]
    from Xlib import XK

    keysym = XK.string_to_keysym(_KEYSYM_NAMES[key])
    if not keysym:
        raise LookupError(f"no X keysym for '{key}'")
    return int(keysym)


class XTestKeyboard:
    """Presses keys on one X display; not thread-safe (the caller holds a lock)."""

    def __init__(self) -> None:
        from Xlib import display

        self._display: Any = display.Display()
        # keysym -> (keycode, width) of keycodes we mapped. They stay mapped until restore():
        # X clients re-read the keymap lazily, when they look up an event, so a mapping taken
        # back right after the release can turn a typed "é" into nothing.
        self._borrowed: OrderedDict[int, tuple[int, int]] = OrderedDict()
        self.last_used = time.monotonic()

    def close(self) -> None:
        try:
            self.restore()
        finally:
            self._display.close()

    def restore(self) -> None:
        """Give back every borrowed keycode (called when idle and at close)."""
        while self._borrowed:
            _, (keycode, width) = self._borrowed.popitem(last=False)
            self._display.change_keyboard_mapping(keycode, [[0] * width])
        self._display.sync()

    def press(self, key: str, shift_held: bool) -> Release:
        """Press ``key`` now; return the function that releases it (and anything added)."""
        self.last_used = time.monotonic()
        keysym = keysym_for(key)
        if keysym in self._borrowed:
            self._borrowed.move_to_end(keysym)
        found = self._locate(keysym)
        if found is None:
            found = (self._borrow(keysym), 0)
        keycode, level = found
        if level == 1 and not shift_held:
            # "!" lives on Shift+1: hold Shift for it, as a typist would.
            shift = self._locate(keysym_for("shift"))
            if shift is None:
                raise LookupError("the X keymap has no Shift key")
            self._fake(True, shift[0])
            self._fake(True, keycode)

            def release_both() -> None:
                self._fake(False, keycode)
                self._fake(False, shift[0])

            return release_both
        self._fake(True, keycode)
        return lambda: self._fake(False, keycode)

    def type(self, text: str) -> None:
        """Type ``text`` one character at a time, as xdotool type does."""
        for char in text:
            key = {"\n": "enter", "\t": "tab"}.get(char, char)
            if len(key) == 1 and not key.isprintable():
                raise LookupError(f"cannot type the control character {char!r}")
            self.press(key, shift_held=False)()

    def _mapping(self) -> tuple[int, list[list[int]]]:
        # Read the keymap fresh each time: the user may switch layouts, and python-xlib's
        # cache is only refreshed by events this connection never reads.
        info = self._display.display.info
        first = info.min_keycode
        return first, self._display.get_keyboard_mapping(first, info.max_keycode - first + 1)

    def _locate(self, keysym: int) -> tuple[int, int] | None:
        first, mapping = self._mapping()
        for level in (0, 1):
            for index, syms in enumerate(mapping):
                if len(syms) > level and syms[level] == keysym:
                    return first + index, level
        return None

    def _borrow(self, keysym: int) -> int:
        first, mapping = self._mapping()
        spare = next((first + i for i, syms in enumerate(mapping) if not any(syms)), None)
        if spare is None and self._borrowed:
            _, (spare, _) = self._borrowed.popitem(last=False)  # the least recently used
        if spare is None:
            raise LookupError("no unused keycode is left in the X keymap to send this key")
        width = len(mapping[spare - first])
        # The same keysym at every level, so a held Shift cannot turn it into something else.
        self._display.change_keyboard_mapping(spare, [[keysym] * width])
        self._display.sync()
        self._borrowed[keysym] = (spare, width)
        return spare

    def _fake(self, press: bool, keycode: int) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        xtest.fake_input(self._display, X.KeyPress if press else X.KeyRelease, keycode)
        self._display.sync()
