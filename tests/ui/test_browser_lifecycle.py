"""The UI across the daemon's life: down (says so, how to start it), back (reconnects by
itself), and the restart into safe mode. Its own daemon, since these tests stop and restart it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stack import Stack, cli
from testkit.daemon import DaemonProcess
from testkit.jack import wait_for

pytestmark = pytest.mark.browser

CONFIG = '[[modes]]\nname = "Default"\n'
THIRD_PARTY = '''"""Not first-party."""
version = "1.0.0"


def execute(params, context):
    return None
'''


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "outsider.py").write_text(THIRD_PARTY)
    s = Stack(tmp_path, CONFIG)
    yield s
    s.close()


def _plugins(home: Path) -> dict[str, Any]:
    doc = cli(home, "plugins", "list")
    return {p["name"]: p for p in doc.get("plugins", [])}


def test_daemon_down_is_said_and_the_page_reconnects_by_itself(browser, stack):
    page = browser.new_page()
    page.goto(stack.ui.url)
    page.locator("tr[data-plugin=outsider]").wait_for()
    stack.daemon.stop()
    banner = page.get_by_role("status").filter(has_text="midimon run")
    banner.wait_for(timeout=15000)
    assert "not running" in banner.inner_text()
    stack.daemon = DaemonProcess(stack.home)  # the same home and config, a new process
    stack.daemon.wait_log("control socket", timeout=30)
    banner.wait_for(state="detached", timeout=15000)
    page.locator("tr[data-plugin=outsider]").wait_for()
    page.close()


def test_restart_in_safe_mode_turns_off_every_plugin_that_is_not_first_party(browser, stack):
    assert _plugins(stack.home)["outsider"]["state"] == "running"
    page = browser.new_page()
    page.goto(stack.ui.url)
    page.get_by_role("link", name="Status", exact=True).click()
    page.get_by_role("button", name="Restart in safe mode").click()

    def safe() -> bool:
        try:
            plugins = _plugins(stack.home)
        except AssertionError:
            return False  # restarting: nothing answers for a moment
        return plugins.get("outsider", {}).get("state") == "disabled"

    wait_for(safe, 30, interval=0.3, what="outsider off in safe mode")
    first_party = [p for p in _plugins(stack.home).values() if p.get("source") == "first_party"]
    assert first_party and all(p["state"] != "disabled" for p in first_party)
    assert _plugins(stack.home)["outsider"]["enabled"] is True  # safe mode is a flag of the run, not saved
    page.get_by_text("Safe mode").first.wait_for()
    page.close()
