"""Fixtures for the live parts: an in-process daemon with its socket, homes on short paths.

Unix socket paths are limited to about 100 bytes, so homes live in a short temporary folder
rather than pytest's (long) tmp_path.
"""

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from livekit import LiveDaemon


@pytest.fixture
def short_home(monkeypatch):
    base = Path(tempfile.mkdtemp(prefix="mm"))
    home = base / "h"
    home.mkdir()
    monkeypatch.setenv("MIDIMON_HOME", str(home))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    yield home
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def live_daemon(short_home):
    made = []

    def make(config_text: str | None, *, mode=None, start=True, home=None, **kw) -> LiveDaemon:
        d = LiveDaemon(home or short_home, config_text, **kw)
        made.append(d)
        return d.start(mode) if start else d

    yield make
    for d in made:
        d.stop()
