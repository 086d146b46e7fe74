"""Shared fixtures. ``testkit`` (beside this file) holds the harnesses for the real parts."""

import itertools
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


# -- JACK: one server for the session, one harness (a fake controller) per test ----------------

_harness_ids = itertools.count()


@pytest.fixture(scope="session")
def jack_env():
    """The JACK client environment; the server is scripts/test's, or a private one."""
    from testkit.jack import ensure_server

    return ensure_server()


@pytest.fixture
def harness(jack_env):
    """A JACK client playing into the daemon and recording what it sends back."""
    from testkit.jack import Harness

    h = Harness(f"h{os.getpid()}x{next(_harness_ids)}")
    yield h
    h.close()
