"""Launch: the argv chosen for each kind of target, and real detached launches."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from midimon.engine.desktop.launch import Launcher, LaunchPlan, find_desktop_id, plan_launch
from midimon.engine.errors import ActionError, BackendUnavailable

from .conftest import missing

TOOLS = {
    "xdg-open": "/usr/bin/xdg-open",
    "gtk-launch": "/usr/bin/gtk-launch",
    "open": "/usr/bin/open",
    "firefox": "/usr/bin/firefox",
}


def plan(
    app: str,
    platform: str = "linux",
    files: set[str] = frozenset(),
    executables: set[str] = frozenset(),
    tools: dict[str, str] = TOOLS,
    desktop: str | None = None,
) -> LaunchPlan:
    return plan_launch(
        app,
        platform,
        which=tools.get,
        exists=lambda p: p in files or p in executables,
        is_executable_file=lambda p: p in executables,
        desktop_id=lambda n: desktop,
    )


def test_linux_urls_and_files_go_to_xdg_open():
    assert plan("https://example.org/a?b=1&c=2").argv == ("/usr/bin/xdg-open", "https://example.org/a?b=1&c=2")
    assert plan("mailto:someone@example.org").argv[0] == "/usr/bin/xdg-open"
    assert plan("/home/u/song.mp3", files={"/home/u/song.mp3"}) == LaunchPlan(
        ("/usr/bin/xdg-open", "/home/u/song.mp3"), helper=True
    )


def test_linux_executables_run_directly_without_a_shell():
    assert plan("/opt/My App/run", executables={"/opt/My App/run"}).argv == ("/opt/My App/run",)
    assert plan("firefox --new-window 'a b'").argv == ("/usr/bin/firefox", "--new-window", "a b")
    assert plan("Firefox").argv == ("/usr/bin/firefox",)  # a Mac-style name
    # Nothing is ever handed to a shell: "ls;" is looked up as a program name, and fails.
    with pytest.raises(ActionError, match="no application 'ls;"):
        plan("ls; rm -rf ~", tools={})


def test_linux_desktop_ids_go_to_gtk_launch():
    assert plan("org.gnome.Calculator.desktop").argv == ("/usr/bin/gtk-launch", "org.gnome.Calculator")
    assert plan("calculator", desktop="org.gnome.Calculator").argv == ("/usr/bin/gtk-launch", "org.gnome.Calculator")


def test_missing_helper_is_backend_unavailable_with_the_package():
    with pytest.raises(BackendUnavailable, match="apt install xdg-utils"):
        plan("https://example.org", tools={})
    with pytest.raises(BackendUnavailable, match="libgtk-3-bin"):
        plan("x.desktop", tools={})


def test_macos_and_windows():
    assert plan("Safari", "darwin").argv == ("/usr/bin/open", "-a", "Safari")
    assert plan("https://example.org", "darwin").argv == ("/usr/bin/open", "https://example.org")
    assert plan("notepad", "win32") == LaunchPlan(startfile="notepad")


def test_find_desktop_id(tmp_path):
    (tmp_path / "org.mozilla.firefox.desktop").write_text("[Desktop Entry]\n")
    (tmp_path / "vlc.desktop").write_text("[Desktop Entry]\n")
    assert find_desktop_id("VLC", [tmp_path]) == "vlc"
    assert find_desktop_id("firefox", [tmp_path]) == "org.mozilla.firefox"
    assert find_desktop_id("nothing", [tmp_path]) is None


def _wait_for(path: Path, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


def test_real_launch_is_detached_and_not_waited_for(tmp_path):
    out = tmp_path / "out"
    app = tmp_path / "bin" / "midimon-probe-app"
    app.parent.mkdir()
    app.write_text(f'#!/bin/sh\necho "$$ $(ps -o sid= -p $$)" > {out}\nsleep 30\n')
    app.chmod(0o755)
    env = dict(os.environ, PATH=f"{app.parent}:{os.environ.get('PATH', '')}")
    started = time.monotonic()
    Launcher("linux", env).launch("midimon-probe-app")  # found through PATH
    assert time.monotonic() - started < 1.0
    pid, sid = (int(x) for x in _wait_for(out).split())
    try:
        assert sid == pid != os.getsid(0)  # a session of its own: it outlives midimon
    finally:
        os.killpg(pid, 15)  # its session's group: the shell and its sleep, which would outlive it


def test_real_launch_of_something_missing_fails_loudly(tmp_path):
    with pytest.raises(ActionError, match="no application 'midimon-no-such-app'"):
        Launcher("linux", dict(os.environ, PATH=str(tmp_path))).launch("midimon-no-such-app")


@pytest.mark.x11
def test_real_gtk_launch_of_a_desktop_file(xvfb, tmp_path):
    if not shutil.which("gtk-launch"):
        missing("gtk-launch is not installed (apt install libgtk-3-bin)")
    out = tmp_path / "out"
    apps = tmp_path / "data" / "applications"
    apps.mkdir(parents=True)
    (apps / "midimon-probe.desktop").write_text(
        f"[Desktop Entry]\nType=Application\nName=Probe\nExec=sh -c 'echo launched > {out}'\n"
    )
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_DATA_DIRS=str(tmp_path / "none"))
    Launcher("linux", env).launch("midimon-probe")
    assert _wait_for(out).strip() == "launched"
    with pytest.raises(ActionError, match="no application 'midimon-absent'"):
        Launcher("linux", env).launch("midimon-absent")
