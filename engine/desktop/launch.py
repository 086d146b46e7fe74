"""Launch: open an application, a file or a URL.

:func:`plan_launch` decides the argv without running anything (unit-tested on every
platform); :class:`Launcher` runs it detached, in its own session, with no shell, so a quote
in a config can never become a command and the app outlives a midimon restart.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from midimon.engine.errors import ActionError, BackendUnavailable

# "https://x", "mailto:a@b", "file:///x", "spotify:track:..." but not "C:\\x" or "a:b" names.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{1,}:(//|[^\\/])")

# Launch helpers exit quickly once they hand the job over; waiting this long for them catches
# "no application knows this file type" without blocking on helpers that stay in the
# foreground (xdg-open's generic mode runs the app itself).
HELPER_WAIT_S = 1.5

_HOW_TO_GET = {
    "xdg-open": "xdg-open not found: opening files and URLs needs xdg-utils (apt install xdg-utils)",
    "gtk-launch": "gtk-launch not found: starting .desktop applications needs it (apt install libgtk-3-bin)",
    "open": "open not found: macOS's /usr/bin/open is missing from PATH",
}


@dataclass(frozen=True)
class LaunchPlan:
    argv: tuple[str, ...] = ()
    helper: bool = False  # argv[0] is xdg-open/gtk-launch/open: wait briefly for its verdict
    startfile: str | None = None  # Windows: hand to ShellExecute (what `start` does), no cmd.exe


def desktop_dirs(env: Mapping[str, str]) -> list[Path]:
    """The XDG application folders, most specific first."""
    home = Path(env.get("XDG_DATA_HOME") or Path(env.get("HOME", "~")).expanduser() / ".local/share")
    data = (env.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")
    return [home / "applications", *(Path(d) / "applications" for d in data if d)]


def find_desktop_id(name: str, dirs: Iterable[Path]) -> str | None:
    """The desktop id for ``name``: exact, lower case, or a reverse-DNS id ending in it
    ("firefox" finds org.mozilla.firefox.desktop)."""
    wanted = name.removesuffix(".desktop")
    candidates = dict.fromkeys([wanted, wanted.lower()])
    for folder in dirs:
        for stem in candidates:
            if (folder / f"{stem}.desktop").is_file():
                return stem
    suffix = "." + wanted.lower()
    for folder in dirs:
        try:
            entries = sorted(p.stem for p in folder.glob("*.desktop"))
        except OSError:
            continue
        for stem in entries:
            if stem.lower().endswith(suffix):
                return stem
    return None


def plan_launch(
    app: str,
    platform: str,
    *,
    which: Callable[[str], str | None] = shutil.which,
    exists: Callable[[str], bool] = os.path.exists,
    is_executable_file: Callable[[str], bool] = lambda p: os.path.isfile(p) and os.access(p, os.X_OK),
    desktop_id: Callable[[str], str | None] = lambda name: find_desktop_id(name, desktop_dirs(os.environ)),
) -> LaunchPlan:
    """Decide how to launch ``app``; raise ActionError when nothing matches it,
    BackendUnavailable when the needed helper is missing."""
    app = app.strip()
    if not app:
        raise ActionError("Launch: app is empty")
    if platform == "win32":
        return LaunchPlan(startfile=app)
    path = os.path.expanduser(app)
    is_url = bool(_URL.match(app)) and not exists(path)
    if platform == "darwin":
        if is_url or exists(path):
            return LaunchPlan(_need(which, "open", ["open", path]), helper=True)
        return LaunchPlan(_need(which, "open", ["open", "-a", app]), helper=True)
    # Linux and the other Unixes with a freedesktop session.
    if is_url:
        return LaunchPlan(_need(which, "xdg-open", ["xdg-open", app]), helper=True)
    if exists(path):
        if is_executable_file(path):
            return LaunchPlan((path,))
        return LaunchPlan(_need(which, "xdg-open", ["xdg-open", path]), helper=True)
    if app.endswith(".desktop"):
        return LaunchPlan(_need(which, "gtk-launch", ["gtk-launch", app.removesuffix(".desktop")]), helper=True)
    try:
        argv = shlex.split(app)
    except ValueError as exc:
        raise ActionError(f"Launch: cannot split '{app}': {exc}") from None
    # Configs written on a Mac name apps "Firefox"; the Linux executable is "firefox".
    for name in dict.fromkeys([argv[0], argv[0].lower()]):
        found = which(name)
        if found:
            return LaunchPlan((found, *argv[1:]))
    if len(argv) == 1:
        found_id = desktop_id(argv[0])
        if found_id:
            return LaunchPlan(_need(which, "gtk-launch", ["gtk-launch", found_id]), helper=True)
    raise ActionError(
        f"Launch: no application '{app}': not an executable on PATH, not an existing file, "
        "and no matching .desktop file in the XDG applications folders"
    )


def _need(which: Callable[[str], str | None], tool: str, argv: list[str]) -> tuple[str, ...]:
    found = which(tool)
    if not found:
        raise BackendUnavailable(_HOW_TO_GET[tool])
    return (found, *argv[1:])


class Launcher:
    name = "launch"

    def __init__(self, platform: str | None = None, env: Mapping[str, str] | None = None) -> None:
        self._platform = platform or sys.platform
        self._env = env

    def problem(self) -> str | None:
        path = (self._env if self._env is not None else os.environ).get("PATH", os.defpath)
        if self._platform == "linux" and not shutil.which("xdg-open", path=path):
            return _HOW_TO_GET["xdg-open"]
        if self._platform == "darwin" and not shutil.which("open", path=path):
            return _HOW_TO_GET["open"]
        return None

    def launch(self, app: str) -> None:
        env = self._env if self._env is not None else os.environ
        plan = plan_launch(
            app,
            self._platform,
            which=lambda name: shutil.which(name, path=env.get("PATH", os.defpath)),
            desktop_id=lambda name: find_desktop_id(name, desktop_dirs(env)),
        )
        if plan.startfile is not None:
            _startfile(plan.startfile)
            return
        run_detached(plan, env)


def run_detached(plan: LaunchPlan, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start ``plan.argv`` in a new session and return without waiting for the app.

    The Popen object is returned for tests; once dropped, Python's subprocess bookkeeping
    reaps the child at a later Popen, so no zombie accumulates.
    """
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                plan.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors if plan.helper else subprocess.DEVNULL,
                env=dict(env),
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise ActionError(f"Launch: cannot start {plan.argv[0]}: {exc.strerror or exc}") from None
        if plan.helper:
            try:
                code = proc.wait(timeout=HELPER_WAIT_S)
            except subprocess.TimeoutExpired:
                return proc  # still handing over (or running the app itself): that is success
            if code != 0:
                errors.seek(0)
                lines = errors.read().decode(errors="replace").strip().splitlines()
                why = lines[-1] if lines else f"exit status {code}"
                raise ActionError(f"Launch: {os.path.basename(plan.argv[0])} {' '.join(plan.argv[1:])} failed: {why}")
    return proc


def _startfile(target: str) -> None:
    startfile = getattr(os, "startfile", None)
    if startfile is None:  # only Windows has it
        raise BackendUnavailable("Launch on Windows needs os.startfile, which this Python lacks")
    try:
        startfile(target)
    except OSError as exc:
        raise ActionError(f"Launch: cannot open '{target}': {exc.strerror or exc}") from None
