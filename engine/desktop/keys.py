"""Key names and modifiers of Keystroke actions, parsed into a platform-neutral plan.

The config loader calls :func:`parse_keys` at load time, so a typo in a key name is a config
error with its line rather than a failure at the press. Back ends turn a :class:`KeyPlan` into
real key events; the only platform knowledge here is :func:`physical_modifiers`, which says
what ``cmd`` means on each system (see docs/platforms.md).

Vocabulary (case-insensitive; ``_``, ``-`` and spaces inside a name are ignored, so
``page_up``, ``PageUp`` and ``page-up`` are the same key):

- one character: ``a``..``z`` (letters name the key, so ``A`` is the ``a`` key: use
  ``shift+a`` for a capital), digits, punctuation, or any other single character
- names: space, return/enter, escape/esc, tab, backspace, delete/del, insert/ins,
  up/down/left/right (also ``uparrow``...), home, end, pageup/pgup, pagedown/pgdn, f1..f20,
  printscreen, scrolllock, pause, capslock, numlock, menu, and ``plus``, ``minus`` etc. for
  characters that are hard to write in a combination
- media: playpause/play, stop, next/nexttrack, previous/prev/previoustrack,
  volumeup/volup, volumedown/voldown, mute/volumemute
- modifiers: cmd/command, super/meta/win/windows, ctrl/control, alt/option/opt, shift, fn

A combination joins modifiers and one key with ``+`` ("ctrl+shift+t"); a sequence separates
combinations with spaces ("ctrl+k ctrl+c"). A modifier may also be the last part, to tap it
alone ("shift").
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

# Logical modifiers a plan carries. "cmd" stays logical until a back end resolves it with
# physical_modifiers(), so one parsed config means the same thing on every machine.
MODIFIER_ALIASES: dict[str, str] = {
    "cmd": "cmd",
    "command": "cmd",
    "super": "super",
    "meta": "super",
    "win": "super",
    "windows": "super",
    "ctrl": "ctrl",
    "control": "ctrl",
    "alt": "alt",
    "option": "alt",
    "opt": "alt",
    "shift": "shift",
    "fn": "fn",
}

# Press order: the conventional order keeps shortcuts recognisable in logs and key viewers.
_MODIFIER_ORDER = ("ctrl", "cmd", "super", "alt", "shift")

# Named keys -> canonical names. Canonical names follow pynput's ``Key`` members where one
# exists, so the pynput back end needs no second table; ``media_stop`` has no pynput member
# and is resolved per platform by the back end.
_NAMED: dict[str, str] = {
    "space": "space",
    "return": "enter",
    "enter": "enter",
    "escape": "esc",
    "esc": "esc",
    "tab": "tab",
    "backspace": "backspace",
    "delete": "delete",
    "del": "delete",
    "insert": "insert",
    "ins": "insert",
    "up": "up",
    "uparrow": "up",
    "down": "down",
    "downarrow": "down",
    "left": "left",
    "leftarrow": "left",
    "right": "right",
    "rightarrow": "right",
    "home": "home",
    "end": "end",
    "pageup": "page_up",
    "pgup": "page_up",
    "pagedown": "page_down",
    "pgdn": "page_down",
    "printscreen": "print_screen",
    "prtsc": "print_screen",
    "scrolllock": "scroll_lock",
    "pause": "pause",
    "capslock": "caps_lock",
    "numlock": "num_lock",
    "menu": "menu",
    # media keys
    "playpause": "media_play_pause",
    "play": "media_play_pause",
    "mediaplaypause": "media_play_pause",
    "stop": "media_stop",
    "mediastop": "media_stop",
    "next": "media_next",
    "nexttrack": "media_next",
    "medianext": "media_next",
    "previous": "media_previous",
    "prev": "media_previous",
    "previoustrack": "media_previous",
    "mediaprevious": "media_previous",
    "volumeup": "media_volume_up",
    "volup": "media_volume_up",
    "volumedown": "media_volume_down",
    "voldown": "media_volume_down",
    "mute": "media_volume_mute",
    "volumemute": "media_volume_mute",
    # characters that are separators in the syntax, or awkward in TOML
    "plus": "+",
    "minus": "-",
    "equal": "=",
    "equals": "=",
    "comma": ",",
    "period": ".",
    "dot": ".",
    "slash": "/",
    "backslash": "\\",
    "semicolon": ";",
    "apostrophe": "'",
    "quote": "'",
    "grave": "`",
    "backtick": "`",
    "bracketleft": "[",
    "leftbracket": "[",
    "bracketright": "]",
    "rightbracket": "]",
}
_NAMED.update({f"f{n}": f"f{n}" for n in range(1, 21)})

# A modifier tapped on its own is sent as that key; "super" is pynput's Key.cmd.
_MODIFIER_AS_KEY = {"ctrl": "ctrl", "alt": "alt", "shift": "shift", "super": "super", "cmd": "cmd"}

_SUGGESTIONS = sorted(set(_NAMED) | set(MODIFIER_ALIASES))


@dataclass(frozen=True)
class Chord:
    """Modifiers held while one key is tapped.

    ``modifiers`` are logical names ("cmd", "super", "ctrl", "alt", "shift"); ``key`` is a
    canonical key name ("f8", "enter", "media_next", "ctrl"...) or exactly one character.
    """

    modifiers: tuple[str, ...]
    key: str

    def __str__(self) -> str:
        return "+".join((*self.modifiers, self.key))


@dataclass(frozen=True)
class KeyPlan:
    """What a Keystroke action presses, in order.

    ``ignored`` lists modifiers accepted but never sent (``fn``), so the loader can warn.
    """

    chords: tuple[Chord, ...]
    ignored: tuple[str, ...] = ()

    def __str__(self) -> str:
        return " ".join(str(c) for c in self.chords)


def _squash(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def _unknown(kind: str, name: str) -> ValueError:
    close = difflib.get_close_matches(_squash(name), _SUGGESTIONS, n=1, cutoff=0.6)
    hint = f" — did you mean '{close[0]}'?" if close else ""
    return ValueError(f"unknown {kind} '{name}'{hint}")


def parse_modifier(name: str) -> str:
    """Return the logical modifier for ``name`` ("option" -> "alt"), or raise ValueError."""
    logical = MODIFIER_ALIASES.get(_squash(name))
    if logical is None:
        raise _unknown("modifier", name)
    return logical


def parse_key(name: str) -> str:
    """Return the canonical key for one key name ("Return" -> "enter", "A" -> "a")."""
    if len(name) == 1:
        if name.isspace() or not name.isprintable():
            raise ValueError(f"key {name!r} is not a printable character: use a name such as 'space' or 'tab'")
        return name.lower()
    squashed = _squash(name)
    if squashed in _NAMED:
        return _NAMED[squashed]
    logical = MODIFIER_ALIASES.get(squashed)
    if logical == "fn":
        raise ValueError("'fn' cannot be sent on its own: no operating system gives it a key code")
    if logical is not None:
        return _MODIFIER_AS_KEY[logical]
    raise _unknown("key", name)


def _split_combo(step: str) -> list[str]:
    # '+' is both the separator and a key: "+" alone and a trailing "++" mean the plus key.
    if step == "+":
        return ["+"]
    if step.endswith("++"):
        return [*step[:-2].split("+"), "+"] if step[:-2] else ["+"]
    parts = step.split("+")
    if any(p == "" for p in parts):
        raise ValueError(f"empty key name in '{step}' (write 'plus' for the + key)")
    return parts


def _ordered(mods: list[str]) -> tuple[str, ...]:
    return tuple(m for m in _MODIFIER_ORDER if m in mods)


def parse_keys(keys: str, modifiers: list[str] | tuple[str, ...] = ()) -> KeyPlan:
    """Parse a Keystroke's ``keys`` and ``modifiers`` fields; raise ValueError with a clear message.

    ``modifiers`` apply to every combination of a sequence: keys="k c", modifiers=["ctrl"]
    presses ctrl+k then ctrl+c.
    """
    if not isinstance(keys, str):
        raise ValueError(f"keys must be a string, not {type(keys).__name__}")
    steps = keys.split()
    if not steps:
        raise ValueError('keys is empty: name at least one key, e.g. keys = "space"')
    ignored: list[str] = []
    common: list[str] = []
    for name in modifiers:
        if not isinstance(name, str):
            raise ValueError(f"modifiers must be strings, not {type(name).__name__}")
        logical = parse_modifier(name)
        if logical == "fn":
            ignored.append(name)
        elif logical not in common:
            common.append(logical)

    chords: list[Chord] = []
    for step in steps:
        parts = _split_combo(step)
        mods = list(common)
        for part in parts[:-1]:
            if _squash(part) not in MODIFIER_ALIASES:
                if len(part) == 1 or _squash(part) in _NAMED:
                    raise ValueError(
                        f"'{step}': only the last part of a combination may be a key; "
                        f"'{part}' is not a modifier (use a space for a sequence: 'a b')"
                    )
                raise _unknown("modifier", part)
            logical = parse_modifier(part)
            if logical == "fn":
                ignored.append(part)
            elif logical not in mods:
                mods.append(logical)
        last = parts[-1]
        if len(last) > 1 and MODIFIER_ALIASES.get(_squash(last)) == "fn":
            if len(parts) == 1 and not mods:
                raise ValueError("'fn' cannot be sent on its own: no operating system gives it a key code")
            raise ValueError(f"'{step}': 'fn' must come before the key it modifies, e.g. 'fn+f8'")
        key = parse_key(last)
        # Tapping a modifier that is also held (modifiers=["shift"], keys="shift") is one key.
        held = tuple(m for m in _ordered(mods) if _MODIFIER_AS_KEY.get(m) != key)
        chords.append(Chord(held, key))
    return KeyPlan(tuple(chords), tuple(dict.fromkeys(ignored)))


# What each logical modifier becomes, per platform. The values are pynput Key member names:
# pynput calls the Super/Windows/Command key "cmd".
_PHYSICAL = {
    # Configs written on a Mac say cmd+c, cmd+s, cmd+t; the same shortcuts are ctrl+ on Linux
    # and Windows, where Super belongs to the window manager. "super"/"win"/"meta" reach it.
    "linux": {"cmd": "ctrl", "super": "cmd", "ctrl": "ctrl", "alt": "alt", "shift": "shift"},
    "win32": {"cmd": "ctrl", "super": "cmd", "ctrl": "ctrl", "alt": "alt", "shift": "shift"},
    "darwin": {"cmd": "cmd", "super": "cmd", "ctrl": "ctrl", "alt": "alt", "shift": "shift"},
}


def physical_modifiers(modifiers: tuple[str, ...], platform: str) -> tuple[str, ...]:
    """Map logical modifiers to pynput Key names for ``platform`` (a ``sys.platform`` value).

    Duplicates collapse: cmd+ctrl on Linux is one Ctrl press.
    """
    table = _PHYSICAL.get(platform, _PHYSICAL["linux"])
    return tuple(dict.fromkeys(table[m] for m in modifiers))


def physical_key(key: str, platform: str) -> str:
    """Map a canonical key to what the back end presses; only "cmd"/"super" as keys differ."""
    if key in ("cmd", "super"):
        return physical_modifiers((key,), platform)[0]
    return key
