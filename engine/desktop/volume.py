"""VolumeControl: Up, Down, Mute, Unmute, Toggle and Set on the default output.

Linux tries PipeWire (wpctl), then PulseAudio (pactl, which also drives pipewire-pulse), then
ALSA (amixer), in that order of what is installed; macOS uses osascript. The argv is built by
pure functions so every tool's command line is unit-tested; :class:`Volume` only runs them,
each with a timeout, and moves on to the next tool when one cannot reach its server.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence

from midimon.engine.errors import ActionError, BackendUnavailable

OPERATIONS = ("up", "down", "mute", "unmute", "toggle", "set")
LINUX_TOOLS = ("wpctl", "pactl", "amixer")
DEFAULT_STEP = 5
TIMEOUT_S = 3.0

_WPCTL_SINK = "@DEFAULT_AUDIO_SINK@"
_PACTL_SINK = "@DEFAULT_SINK@"
_AMIXER_CONTROL = "Master"


def normalize(operation: str, value: int | None, step: int) -> tuple[str, int | None, int]:
    """Validate the fields of a VolumeControl; raise ValueError with what to write instead.

    The config loader can call this at load time.
    """
    op = str(operation).strip().lower()
    if op not in OPERATIONS:
        raise ValueError(f"unknown volume operation '{operation}' (use Up, Down, Mute, Unmute, Toggle or Set)")
    if op == "set":
        if value is None:
            raise ValueError("VolumeControl Set needs value = 0..100")
        if not 0 <= int(value) <= 100:
            raise ValueError(f"volume value must be 0..100, not {value}")
        value = int(value)
    if not 1 <= int(step) <= 100:
        raise ValueError(f"volume step must be 1..100, not {step}")
    return op, value, int(step)


def wpctl_argv(op: str, value: int | None, step: int) -> list[str]:
    if op == "up":
        # -l 1.0 caps at 100%: an encoder spun hard must not push past unity gain.
        return ["wpctl", "set-volume", "-l", "1.0", _WPCTL_SINK, f"{step}%+"]
    if op == "down":
        return ["wpctl", "set-volume", _WPCTL_SINK, f"{step}%-"]
    if op == "set":
        return ["wpctl", "set-volume", _WPCTL_SINK, f"{value}%"]
    return ["wpctl", "set-mute", _WPCTL_SINK, {"mute": "1", "unmute": "0", "toggle": "toggle"}[op]]


def pactl_argv(op: str, value: int | None, step: int, current: int | None = None) -> list[str]:
    """``current`` (the volume now, in percent) is needed for Up only: pactl's "+5%" does not
    stop at 100%, so Up sets an absolute value instead."""
    if op == "up":
        if current is None:
            raise ValueError("pactl Up needs the current volume")
        # Already above 100% (set by the user elsewhere): Up leaves it, rather than lowering it.
        target = current if current >= 100 else min(100, current + step)
        return ["pactl", "set-sink-volume", _PACTL_SINK, f"{target}%"]
    if op == "down":
        return ["pactl", "set-sink-volume", _PACTL_SINK, f"-{step}%"]  # PulseAudio stops at 0
    if op == "set":
        return ["pactl", "set-sink-volume", _PACTL_SINK, f"{value}%"]
    return ["pactl", "set-sink-mute", _PACTL_SINK, {"mute": "1", "unmute": "0", "toggle": "toggle"}[op]]


PACTL_GET_VOLUME = ["pactl", "get-sink-volume", _PACTL_SINK]


def parse_pactl_volume(output: str) -> int:
    """The first channel's percentage from `pactl get-sink-volume` output."""
    match = re.search(r"(\d+)%", output)
    if not match:
        raise ValueError(f"no percentage in pactl output: {output.strip()[:80]!r}")
    return int(match.group(1))


def amixer_argv(op: str, value: int | None, step: int) -> list[str]:
    # amixer clamps to 0..100% itself.
    base = ["amixer", "-q", "sset", _AMIXER_CONTROL]
    if op == "up":
        return [*base, f"{step}%+"]
    if op == "down":
        return [*base, f"{step}%-"]
    if op == "set":
        return [*base, f"{value}%"]
    return [*base, op]  # "mute", "unmute" and "toggle" are amixer words too


def osascript_argv(op: str, value: int | None, step: int) -> list[str]:
    current = "output volume of (get volume settings)"
    script = {
        "up": f"set volume output volume (({current}) + {step})",  # macOS clamps at 100
        "down": f"set volume output volume (({current}) - {step})",
        "set": f"set volume output volume {value}",
        "mute": "set volume output muted true",
        "unmute": "set volume output muted false",
        "toggle": "set volume output muted (not (output muted of (get volume settings)))",
    }[op]
    return ["osascript", "-e", script]


def available_tools(platform: str, which: Callable[[str], str | None] = shutil.which) -> list[str]:
    if platform == "darwin":
        return ["osascript"] if which("osascript") else []
    if platform == "win32":
        return []
    return [t for t in LINUX_TOOLS if which(t)]


def missing_tools_message(platform: str) -> str:
    if platform == "win32":
        return (
            "VolumeControl on Windows is not supported yet (it needs pycaw, "
            'which midimon does not install); use a media key: Keystroke keys = "volumeup"'
        )
    if platform == "darwin":
        return "osascript not found: VolumeControl on macOS needs /usr/bin/osascript on PATH"
    return (
        "no volume tool found: install wpctl (PipeWire: apt install wireplumber), "
        "pactl (PulseAudio: apt install pulseaudio-utils) or amixer (ALSA: apt install alsa-utils)"
    )


Runner = Callable[[Sequence[str]], str]


def _run(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ActionError(f"{argv[0]} did not answer within {TIMEOUT_S:g} s") from None
    except OSError as exc:
        raise ActionError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise ActionError(f"{argv[0]} failed: {lines[-1] if lines else f'exit status {done.returncode}'}")
    return done.stdout


class Volume:
    name = "volume"

    def __init__(self, platform: str | None = None, tools: Sequence[str] | None = None, run: Runner = _run) -> None:
        self._platform = platform or sys.platform
        self._tools = list(tools) if tools is not None else None  # None: look up PATH at each call
        self._run = run

    def tools(self) -> list[str]:
        return self._tools if self._tools is not None else available_tools(self._platform)

    def problem(self) -> str | None:
        return None if self.tools() else missing_tools_message(self._platform)

    def volume(self, operation: str, value: int | None = None, step: int = DEFAULT_STEP) -> None:
        try:
            op, value, step = normalize(operation, value, step)
        except ValueError as exc:
            raise ActionError(f"VolumeControl: {exc}") from None
        tools = self.tools()
        if not tools:
            raise BackendUnavailable(missing_tools_message(self._platform))
        failures: list[str] = []
        # wpctl may be installed while PulseAudio is the running server (or the reverse): a
        # tool that fails has changed nothing, so trying the next one is safe.
        for tool in tools:
            try:
                self._apply(tool, op, value, step)
                return
            except ActionError as exc:
                failures.append(str(exc))
        raise ActionError(f"VolumeControl {operation}: " + "; ".join(failures))

    def _apply(self, tool: str, op: str, value: int | None, step: int) -> None:
        if tool == "wpctl":
            self._run(wpctl_argv(op, value, step))
        elif tool == "pactl":
            current = None
            if op == "up":
                try:
                    current = parse_pactl_volume(self._run(PACTL_GET_VOLUME))
                except ValueError as exc:
                    raise ActionError(f"pactl: {exc}") from None
            self._run(pactl_argv(op, value, step, current))
        elif tool == "amixer":
            self._run(amixer_argv(op, value, step))
        elif tool == "osascript":
            self._run(osascript_argv(op, value, step))
        else:
            raise ActionError(f"unknown volume tool '{tool}'")
