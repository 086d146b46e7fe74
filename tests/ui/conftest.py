"""Fixtures for the web UI's tests: a home, a fake control socket, the guarded app."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_daemon import FakeDaemon

from midimon.config.home import Home

PORT = 8737
TOKEN = "t" * 43
ORIGIN = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def ui_home(tmp_path: Path) -> Home:
    home = Home.at(tmp_path / "home")
    home.root.mkdir(parents=True)
    return home


@pytest.fixture
def daemon(ui_home: Home) -> Iterator[FakeDaemon]:
    fake = FakeDaemon(ui_home.socket)
    yield fake
    fake.close()


@pytest.fixture
def app(ui_home: Home, daemon: FakeDaemon):  # type: ignore[no-untyped-def]
    from midimon.engine.ui import create_app

    return create_app(ui_home, TOKEN, PORT)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """A client that holds the cookie (as a browser would after opening the printed URL)."""
    from starlette.testclient import TestClient

    with TestClient(app, base_url=f"http://127.0.0.1:{PORT}", follow_redirects=False) as c:
        r = c.get(f"/?token={TOKEN}")
        assert r.status_code == 303
        yield c


@pytest.fixture
def anon(app):  # type: ignore[no-untyped-def]
    from starlette.testclient import TestClient

    with TestClient(app, base_url=f"http://127.0.0.1:{PORT}", follow_redirects=False) as c:
        yield c


MUTATE = {"origin": ORIGIN, "x-midimon-ui": "1"}


# -- the browser tests: Debian's chromium through Playwright (never a browser download) ---------

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    import os

    if not Path(CHROMIUM).exists():
        if os.environ.get("MIDIMON_REQUIRE_REAL"):
            pytest.fail(f"{CHROMIUM} is missing (scripts/test installs Debian's chromium)")
        pytest.skip("no chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()
