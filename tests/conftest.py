"""Shared fixtures. ``testkit`` (beside this file) holds the harnesses for the real parts."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parent.parent
COMPAT = REPO.parent / "shared" / "compat" / "midimon"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh MIDIMON_HOME for one test."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("MIDIMON_HOME", str(h))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return h


def pytest_report_header(config):
    parts = []
    for var in ("MIDIMON_TEST_JACK", "MIDIMON_TEST_MQTT", "MIDIMON_TEST_DISPLAY"):
        parts.append(f"{var}={os.environ.get(var, '-')}")
    return "real parts: " + " ".join(parts)
