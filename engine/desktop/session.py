"""Which graphical session midimon runs in, and whether synthetic input can reach it.

Pure functions of the environment (plus one socket probe), so `midimon status` can explain a
missing display without importing pynput: importing pynput with no X server raises, and with
a dead one can block.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Session:
    kind: str  # "x11", "xwayland", "wayland", "none", "macos", "windows"
    display: str | None = None


def detect(env: Mapping[str, str], platform: str) -> Session:
    if platform == "darwin":
        return Session("macos")
    if platform == "win32":
        return Session("windows")
    display = env.get("DISPLAY") or None
    wayland = bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE", "").lower() == "wayland"
    if wayland:
        return Session("xwayland" if display else "wayland", display)
    return Session("x11" if display else "none", display)


def _local_display_number(display: str) -> str | None:
    # ":1", ":1.0" and "unix:1" are local; "host:1" is TCP and is not probed here.
    host, _, rest = display.rpartition(":")
    if host not in ("", "unix") or not rest:
        return None
    number = rest.split(".", 1)[0]
    return number if number.isdigit() else None


def x_server_listens(display: str, timeout: float = 1.0) -> bool:
    """True when a local X server accepts connections for ``display`` (remote ones: assumed)."""
    number = _local_display_number(display)
    if number is None:
        return True
    path = f"/tmp/.X11-unix/X{number}"
    # Linux X servers also listen on the abstract socket of the same name; some containers
    # forward only that one.
    for address in ("\0" + path, path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(address)
            return True
        except OSError:
            continue
        finally:
            s.close()
    return False


def input_problem(env: Mapping[str, str], platform: str) -> str | None:
    """One line when keystrokes, text and clicks cannot be sent, else None."""
    session = detect(env, platform)
    if session.kind == "none":
        return (
            "no X display (DISPLAY is not set): keystrokes, text and mouse clicks need a "
            "graphical session; start midimon from your desktop session or set DISPLAY"
        )
    if session.kind == "wayland":
        return (
            "Wayland session without XWayland (DISPLAY is not set): keystrokes, text and "
            "mouse clicks cannot be sent; enable XWayland or log in to an X11 session"
        )
    if session.kind in ("x11", "xwayland") and not x_server_listens(session.display or ""):
        return (
            f"no X server answers on DISPLAY={session.display}: start the X server or "
            "set DISPLAY to the running session"
        )
    return None


def input_notes(env: Mapping[str, str], platform: str) -> list[str]:
    """Limits worth showing in `midimon status` even when input works."""
    session = detect(env, platform)
    if session.kind == "xwayland":
        return [
            "Wayland session: keystrokes, text and clicks reach X11 (XWayland) windows only; "
            "native Wayland windows do not receive them"
        ]
    if session.kind == "macos":
        return [
            "macOS: the app running midimon needs Accessibility permission "
            "(System Settings > Privacy & Security > Accessibility), else keystrokes are dropped"
        ]
    return []


def current() -> Session:
    import sys

    return detect(os.environ, sys.platform)
