"""Evaluate Conditional actions' conditions at the moment the action runs."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import sys
from collections.abc import Callable

from midimon.config.models import (
    DAYS,
    AlwaysCondition,
    AndCondition,
    AppFrontmostCondition,
    AppRunningCondition,
    Condition,
    DayOfWeekCondition,
    ModeIsCondition,
    NeverCondition,
    NotCondition,
    OrCondition,
    TimeRangeCondition,
)


class ConditionContext:
    """What a condition may look at. ``now`` and the app probes are replaceable for tests."""

    def __init__(
        self,
        mode: Callable[[], str],
        now: Callable[[], _dt.datetime] = _dt.datetime.now,
        running_apps: Callable[[], set[str]] | None = None,
        frontmost_app: Callable[[], str | None] | None = None,
        warn: Callable[[str], None] = lambda m: None,
    ):
        self.mode = mode
        self.now = now
        self.running_apps = running_apps or _running_apps
        self.frontmost_app = frontmost_app or _frontmost_app
        self.warn = warn


def evaluate(cond: Condition, ctx: ConditionContext) -> bool:
    match cond:
        case AlwaysCondition():
            return True
        case NeverCondition():
            return False
        case TimeRangeCondition():
            now = ctx.now()
            minutes = now.hour * 60 + now.minute
            start = _minutes(cond.start)
            end = _minutes(cond.end)
            if start <= end:
                return start <= minutes <= end
            return minutes >= start or minutes <= end  # wraps past midnight
        case DayOfWeekCondition():
            return DAYS[ctx.now().weekday()] in cond.days
        case ModeIsCondition():
            return ctx.mode() == cond.mode
        case AndCondition():
            return all(evaluate(c, ctx) for c in cond.conditions)
        case OrCondition():
            return any(evaluate(c, ctx) for c in cond.conditions)
        case NotCondition():
            return not evaluate(cond.condition, ctx)
        case AppRunningCondition():
            want = cond.app.lower()
            return any(want == name or want in name for name in ctx.running_apps())
        case AppFrontmostCondition():
            front = ctx.frontmost_app()
            if front is None:
                ctx.warn(
                    "AppFrontmost cannot tell the front application on this system "
                    "(Linux needs X11 and xdotool; Wayland does not expose it); treating it as false"
                )
                return False
            return cond.app.lower() in front.lower()
    raise ValueError(f"unknown condition {type(cond).__name__}")


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _running_apps() -> set[str]:
    """Lower-case process names (and, on Linux, the executable's base name)."""
    names: set[str] = set()
    if sys.platform.startswith("linux"):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/comm") as f:
                    names.add(f.read().strip().lower())
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv0 = f.read().split(b"\0", 1)[0].decode(errors="replace")
                if argv0:
                    names.add(os.path.basename(argv0).lower())
            except OSError:
                continue
        return names
    ps = shutil.which("ps")
    if ps:
        out = subprocess.run([ps, "-axco", "comm"], capture_output=True, text=True, timeout=2).stdout
        names.update(line.strip().lower() for line in out.splitlines()[1:] if line.strip())
    return names


def _frontmost_app() -> str | None:
    if sys.platform == "darwin":
        try:
            out = subprocess.run(
                [
                    "osascript",
                    "-e",
                    'tell application "System Events" to get name of first process whose frontmost is true',
                ],
                capture_output=True,
                text=True,
                timeout=2,
            )
            return out.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            return None
    if os.environ.get("DISPLAY") and shutil.which("xdotool"):
        try:
            pid = subprocess.run(
                ["xdotool", "getactivewindow", "getwindowpid"], capture_output=True, text=True, timeout=2
            ).stdout.strip()
            name = subprocess.run(
                ["xdotool", "getactivewindow", "getwindowname"], capture_output=True, text=True, timeout=2
            ).stdout.strip()
            comm = ""
            if pid.isdigit():
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
            return f"{comm} {name}".strip() or None
        except (OSError, subprocess.SubprocessError):
            return None
    return None
