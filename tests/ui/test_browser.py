"""The web UI end to end: Debian's Chromium driven by Playwright against a real `midimon run`
and a real `midimon ui`. Every effect is checked through `midimon plugins info --json` too, not
only on the page; axe-core checks every view; each view's screenshot lands in the run folder.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

GREETER = '''"""Greets someone."""
version = "0.3.0"
author = "Test Author"
homepage = "https://example.org/greeter"
config_schema = {
    "type": "object",
    "properties": {
        "greeting": {"type": "string", "title": "Greeting"},
        "count": {"type": "integer", "minimum": 1, "maximum": 10},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "token": {"type": "string", "secret": True},
    },
}


def execute(params, context):
    return "hi"
'''

TOGGLER = '''"""Switched on and off by the tests."""
version = "1.0.0"


def execute(params, context):
    return None
'''

PROBER = '''"""Calls a host it was not granted."""
version = "1.0.0"
capabilities = ["network"]
scopes = {"hosts": ["http://127.0.0.1:1"]}


def execute(params, context):
    http.get(params["url"])
'''

MARKUP = '''"""<img src=x onerror="window.__pwned=1"><b>bold</b>"""
version = "1.0.0"
author = "<script>window.__pwned=2</script>"
homepage = "javascript:window.__pwned=3"


def execute(params, context):
    return None
'''

CRASHER = '''"""Fails every time."""
version = "1.0.0"


def execute(params, context):
    raise RuntimeError("always fails")
'''

UPLOADED = '''"""Arrived by upload."""
version = "4.5.6"
author = "Uploader"


def execute(params, context):
    return "up"
'''

CATALOGUED = '''"""Comes from the catalog."""
version = "2.0.1"
author = "Catalog Author"


def execute(params, context):
    return "cat"
'''


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = os.environ.get("MIDIMON_TEST_RUN_DIR")
    out = Path(raw) / "ui-screenshots" if raw else tmp_path_factory.mktemp("ui-screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """An index and its files on loopback, signed by a key the home will trust."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from midimon.plugins import integrity

    root = tmp_path_factory.mktemp("catalog")
    key = Ed25519PrivateKey.generate()
    data = CATALOGUED.encode()
    (root / "catalogued.py").write_bytes(data)
    (root / "unsigned_one.py").write_bytes(TOGGLER.encode())
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _Files(*a, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    index = {
        "catalog": 1,
        "plugins": [
            {
                "name": "catalogued",
                "version": "2.0.1",
                "description": "Comes from the catalog.",
                "author": "Catalog Author",
                "capabilities": {},
                "url": "catalogued.py",
                "sha256": integrity.sha256(data),
                "signature": integrity.sign(data, None, key),
                "key_id": integrity.fingerprint(key.public_key()),
            },
            {
                "name": "unsigned_one",
                "version": "1.0.0",
                "description": "Nobody vouches for it.",
                "author": "Someone",
                "capabilities": {},
                "url": "unsigned_one.py",
                "sha256": integrity.sha256(TOGGLER.encode()),
            },
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    yield f"http://127.0.0.1:{httpd.server_address[1]}/index.json", key
    httpd.shutdown()


@pytest.fixture(scope="module")
def probe_target() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, catalog_server, probe_target) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from stack import Stack, cli

    from midimon.plugins import integrity

    home = tmp_path_factory.mktemp("ui-home")
    plugins = home / "plugins"
    plugins.mkdir()
    for name, text in (
        ("greeter", GREETER),
        ("toggler", TOGGLER),
        ("prober", PROBER),
        ("markup", MARKUP),
        ("bulk_a", TOGGLER),
        ("bulk_b", TOGGLER),
        ("doomed", TOGGLER),
        ("crasher", CRASHER),
        ("scoped", PROBER.replace("Calls a host it was not granted.", "Granted from the details view.")),
        ("refuser", PROBER.replace("Calls a host it was not granted.", "Denied from the prompt.")),
    ):
        (plugins / f"{name}.py").write_text(text)
    keys = home / "trusted_keys"
    keys.mkdir()
    (keys / "catalog-test.pem").write_bytes(integrity.public_pem(catalog_server[1].public_key()))
    config = f'''[plugins]
catalog = "{catalog_server[0]}"

[[modes]]
name = "Default"

[[modes.mappings]]
description = "probe"
trigger = {{ type = "Note", note = 70 }}
action = {{ type = "Plugin", plugin = "prober", params = {{ url = "{probe_target}/" }} }}

[[modes.mappings]]
description = "refused"
trigger = {{ type = "Note", note = 73 }}
action = {{ type = "Plugin", plugin = "refuser", params = {{ url = "{probe_target}/" }} }}

[[modes.mappings]]
description = "greet"
trigger = {{ type = "Note", note = 71 }}
action = {{ type = "Plugin", plugin = "greeter" }}

[[modes.mappings]]
description = "crash"
trigger = {{ type = "Note", note = 72 }}
action = {{ type = "Plugin", plugin = "crasher" }}

[[modes]]
name = "Second"
'''
    cli(home, "plugins", "grant", "prober", "network")  # network is not a dangerous grant: no --yes
    cli(home, "plugins", "grant", "refuser", "network")
    s = Stack(home, config)
    yield s
    s.close()


@pytest.fixture
def page(browser, stack):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.ui.base)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.goto(stack.ui.url)
    pg.get_by_role("heading", name="Plugins").wait_for()
    yield pg
    ctx.close()
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors


def wait_info(stack, name: str, check, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    from testkit.jack import wait_for

    def ok():  # type: ignore[no-untyped-def]
        info = stack.info(name)
        return info if check(info) else None

    return wait_for(ok, timeout, interval=0.2, what=f"plugins info {name}")


def record(info: dict[str, Any]) -> dict[str, Any]:
    return info.get("plugin", info) if isinstance(info, dict) else info


def test_the_list_shows_every_plugin_with_its_version_trust_and_switch(page, stack):
    row = page.locator("tr[data-plugin=greeter]")
    row.wait_for()
    assert "0.3.0" in row.inner_text() and "Greets someone." in row.inner_text()
    assert "unsigned" in row.inner_text()
    switch = page.get_by_role("switch", name="Enable greeter", exact=True)
    assert switch.is_checked()
    assert page.get_by_role("link", name="greeter", exact=True).is_visible()
    page.get_by_role("searchbox", name="Search plugins").fill("togg")
    page.locator("tr[data-plugin=greeter]").wait_for(state="detached")
    assert page.locator("tr[data-plugin=toggler]").is_visible()


def test_disable_and_enable_from_the_switch(page, stack):
    switch = page.get_by_role("switch", name="Enable toggler", exact=True)
    switch.wait_for()
    switch.uncheck()
    wait_info(stack, "toggler", lambda i: record(i)["enabled"] is False)
    page.locator("tr[data-plugin=toggler] td.state", has_text="disabled").wait_for()
    page.get_by_label("Show", exact=True).select_option("disabled")
    page.locator("tr[data-plugin=greeter]").wait_for(state="detached")
    assert page.locator("tr[data-plugin=toggler]").is_visible()
    page.get_by_label("Show", exact=True).select_option("all")
    switch.check()
    wait_info(stack, "toggler", lambda i: record(i)["enabled"] is True)


def test_install_with_review_from_the_file_picker(page, stack, tmp_path):
    src = tmp_path / "uploaded.py"
    src.write_text(UPLOADED)
    page.get_by_role("button", name="Add a plugin…").click()
    page.get_by_label("Plugin file (.py or .zip)").set_input_files(str(src))
    review = page.get_by_role("region", name="Review before installing")
    review.wait_for()
    assert "4.5.6" in review.inner_text() and "Uploader" in review.inner_text()
    assert not (stack.home / "plugins" / "uploaded.py").exists()  # nothing written before Install
    page.get_by_role("button", name="Install", exact=True).click()
    info = wait_info(stack, "uploaded", lambda i: record(i).get("version") == "4.5.6")
    assert record(info)["name"] == "uploaded"
    page.locator("tr[data-plugin=uploaded]").wait_for()


def test_install_by_drag_and_drop(page, stack):
    page.get_by_role("button", name="Add a plugin…").click()
    text = UPLOADED.replace("Arrived by upload.", "Dropped in.").replace("4.5.6", "0.0.7")
    page.evaluate(
        """(text) => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], 'dropped_in.py', { type: 'text/x-python' }));
            const zone = document.querySelector('.dropzone');
            zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
        }""",
        text,
    )
    page.get_by_role("region", name="Review before installing").wait_for()
    page.get_by_role("button", name="Install", exact=True).click()
    wait_info(stack, "dropped_in", lambda i: record(i).get("version") == "0.0.7")


def test_settings_saved_then_refused_when_invalid(page, stack):
    page.get_by_role("link", name="greeter", exact=True).click()
    page.get_by_label("Greeting", exact=True).fill("Good evening")
    page.get_by_label("count", exact=True).fill("3")
    page.get_by_role("button", name="Add to headers").click()
    page.get_by_label("headers key 1").fill("X-Test")
    page.get_by_label("headers value 1").fill("yes")
    page.get_by_label("token", exact=True).fill("s3cret-value")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    info = record(
        wait_info(stack, "greeter", lambda i: (record(i).get("settings") or {}).get("greeting") == "Good evening")
    )
    assert info["settings"]["count"] == 3
    assert info["settings"]["headers"] == {"X-Test": "yes"}
    assert info["settings"]["token"] == {"set": True}  # the secret is never shown back
    assert "s3cret-value" not in page.content()
    # re-read after saving: the form shows what the daemon kept
    assert page.get_by_label("Greeting", exact=True).input_value() == "Good evening"
    # an invalid value is refused by the daemon, shown on the field, and nothing changes
    page.get_by_label("count", exact=True).fill("99")
    page.get_by_role("button", name="Save", exact=True).click()
    alert = page.get_by_role("alert", name="Settings errors")
    alert.wait_for()
    assert "count" in alert.inner_text() and "99" in alert.inner_text()
    time.sleep(0.5)
    assert record(stack.info("greeter"))["settings"]["count"] == 3
    page.get_by_role("button", name="Reset", exact=True).click()
    page.wait_for_function("() => document.querySelector('[id$=count-input], input[type=number]')?.value === '3'")


def test_a_plugin_dropped_into_the_folder_shows_up_by_itself(page, stack):
    (stack.home / "plugins" / "newcomer.py").write_text(TOGGLER.replace("Switched on and off", "Just arrived"))
    page.get_by_role("link", name="newcomer", exact=True).wait_for(timeout=15000)
    assert "Just arrived" in page.locator("tr[data-plugin=newcomer]").inner_text()


def test_the_permission_prompt_grants_exactly_what_was_denied(page, stack, probe_target):
    stack.send("note_on", "note=70", "velocity=100")
    prompt = page.locator(".prompt", has_text="prober wants to reach")
    prompt.wait_for(timeout=15000)
    assert probe_target.split("//")[1] in prompt.inner_text()
    before = record(stack.info("prober"))["grants"].get("network", {}).get("hosts", [])
    assert probe_target not in before
    prompt.get_by_role("button", name="Allow").click()
    info = wait_info(
        stack, "prober", lambda i: probe_target in str(record(i)["grants"].get("network", {}).get("hosts", []))
    )
    assert "http://127.0.0.1:1" in str(record(info)["grants"]["network"]["hosts"])  # the declared scope stays


def test_the_permission_prompt_denies_in_the_daemon(page, stack, probe_target):
    stack.send("note_on", "note=73", "velocity=100")
    prompt = page.locator(".prompt", has_text="refuser wants to reach")
    prompt.wait_for(timeout=15000)
    prompt.get_by_role("button", name="Deny").click()
    info = record(wait_info(stack, "refuser", lambda i: not record(i)["pending_requests"]))
    assert probe_target not in str(info["grants"].get("network", {}).get("hosts", []))  # nothing granted
    page.reload()  # the daemon forgot it, not only this tab
    page.get_by_role("heading", name="Plugins").wait_for()
    page.locator("tr[data-plugin=refuser]").wait_for()
    assert page.locator(".prompt", has_text="refuser wants to reach").count() == 0
    stack.send("note_on", "note=73", "velocity=100")  # denied again: counted, not asked again
    wait_info(stack, "refuser", lambda i: (record(i).get("counters") or {}).get("denials", 0) >= 2)
    time.sleep(1.5)  # a prompt, if it were wrongly asked again, has time to show
    assert page.locator(".prompt", has_text="refuser wants to reach").count() == 0
    info = record(stack.info("refuser"))
    assert info["pending_requests"] == [] and probe_target not in str(info["grants"]["network"].get("hosts", []))


def test_grant_with_an_extra_scope_then_revoke(page, stack):
    page.get_by_role("link", name="scoped", exact=True).click()
    assert "network" not in record(stack.info("scoped"))["grants"]
    page.get_by_label("Extra scope for network (key=value)").fill("hosts=http://127.0.0.1:2")
    page.get_by_role("button", name="Grant network", exact=True).click()
    info = record(wait_info(stack, "scoped", lambda i: "network" in record(i)["grants"]))
    hosts = str(info["grants"]["network"].get("hosts"))
    assert "http://127.0.0.1:2" in hosts and "http://127.0.0.1:1" in hosts
    page.get_by_role("button", name="Revoke network", exact=True).click()
    wait_info(stack, "scoped", lambda i: "network" not in record(i)["grants"])


def test_a_suspended_plugin_is_resumed_from_its_details(page, stack):
    for _ in range(6):  # five failures in a row suspend a plugin
        stack.send("note_on", "note=72", "velocity=100")
    wait_info(stack, "crasher", lambda i: record(i)["state"] == "suspended", timeout=30)
    page.get_by_role("link", name="crasher", exact=True).click()
    page.get_by_role("button", name="Resume crasher", exact=True).click()
    info = record(wait_info(stack, "crasher", lambda i: record(i)["state"] != "suspended"))
    assert info["suspended"] is None
    page.get_by_role("button", name="Resume crasher", exact=True).wait_for(state="detached")


def test_catalog_install_verified_and_unsigned_refused(page, stack):
    page.get_by_role("link", name="Catalog", exact=True).click()
    page.get_by_role("button", name="Review unsigned_one").click()
    page.get_by_role("alert").filter(has_text="not signed").wait_for()
    assert not (stack.home / "plugins" / "unsigned_one.py").exists()
    page.get_by_role("button", name="Review catalogued").click()
    review = page.get_by_role("region", name="Review before installing")
    review.wait_for()
    assert "Catalog Author" in review.inner_text() and "signed" in review.inner_text()
    page.get_by_role("button", name="Install", exact=True).click()
    info = record(wait_info(stack, "catalogued", lambda i: record(i).get("version") == "2.0.1"))
    assert info["signature"]["status"] == "signed"


def test_monitor_shows_a_note_sent_with_midimon_send(page, stack):
    page.get_by_role("link", name="Monitor", exact=True).click()
    page.get_by_role("status").filter(has_text="live").wait_for()
    log = page.get_by_role("log", name="MIDI events")
    stack.send("note_on", "note=61", "velocity=90")
    log.locator("div", has_text="note=61").first.wait_for(timeout=10000)
    stack.send("note_on", "note=71", "velocity=90")  # mapped: the fired mapping shows too
    log.locator("div[data-kind=fired]", has_text="greet").first.wait_for(timeout=10000)
    page.get_by_role("button", name="Pause", exact=True).click()
    stack.send("note_on", "note=63", "velocity=90")
    time.sleep(1.5)
    assert log.locator("div", has_text="note=63").count() == 0
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_role("button", name="Clear", exact=True).click()
    assert log.locator("div", has_text="note=61").count() == 0
    stack.send("note_on", "channel=5", "note=64", "velocity=90")
    stack.send("note_on", "channel=2", "note=65", "velocity=90")
    log.locator("div", has_text="note=65").first.wait_for(timeout=10000)
    page.get_by_label("Channel", exact=True).fill("5")
    log.locator("div", has_text="note=65").first.wait_for(state="detached")
    assert log.locator("div", has_text="note=64").count() == 1


def test_mode_switch_changes_the_daemons_mode(page, stack):
    from stack import cli

    page.get_by_label("Mode", exact=True).select_option("Second")
    from testkit.jack import wait_for

    wait_for(lambda: cli(stack.home, "mode").get("mode") == "Second", 10, what="mode Second")
    page.get_by_label("Mode", exact=True).select_option("Default")
    wait_for(lambda: cli(stack.home, "mode").get("mode") == "Default", 10, what="mode Default")


def test_learn_gives_the_trigger_as_toml_with_a_copy_button(page, stack):
    page.get_by_role("link", name="Learn", exact=True).click()
    page.get_by_role("button", name="Start learning").click()

    def press() -> None:
        time.sleep(1.5)
        stack.send("note_on", "note=62", "velocity=80")

    threading.Thread(target=press, daemon=True).start()
    page.get_by_role("button", name="Copy", exact=True).wait_for(timeout=20000)
    assert "note = 62" in page.locator("pre").first.inner_text()
    page.get_by_role("button", name="Copy", exact=True).click()
    assert "note = 62" in page.evaluate("navigator.clipboard.readText()")


def test_plugin_text_is_shown_as_text_never_as_markup(page, stack):
    row = page.locator("tr[data-plugin=markup]")
    row.wait_for()
    assert '<img src=x onerror="window.__pwned=1"><b>bold</b>' in row.inner_text()
    assert row.locator("img, b").count() == 0
    page.get_by_role("link", name="markup", exact=True).click()
    page.get_by_role("heading", name="markup").wait_for()
    assert "<script>" in page.locator("main").inner_text()
    # a javascript: homepage stays text, never a link
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_bulk_disable_then_enable(page, stack):
    page.get_by_role("checkbox", name="Select bulk_a", exact=True).check()
    page.get_by_role("checkbox", name="Select bulk_b", exact=True).check()
    page.get_by_role("button", name="Disable selected").click()
    for name in ("bulk_a", "bulk_b"):
        wait_info(stack, name, lambda i: record(i)["enabled"] is False)
    assert record(stack.info("toggler"))["enabled"] is True  # only the selected ones
    page.get_by_role("checkbox", name="Select bulk_a", exact=True).check()
    page.get_by_role("checkbox", name="Select bulk_b", exact=True).check()
    page.get_by_role("button", name="Enable selected").click()
    for name in ("bulk_a", "bulk_b"):
        wait_info(stack, name, lambda i: record(i)["enabled"] is True)


def test_export_downloads_the_plugin_list(page, stack, tmp_path):
    with page.expect_download() as got:
        page.get_by_role("button", name="Export", exact=True).click()
    path = tmp_path / "export.json"
    got.value.save_as(str(path))
    doc = json.loads(path.read_text())
    names = {p["name"] for p in doc["plugins"]}
    assert {"greeter", "toggler", "prober"} <= names


def test_settings_can_be_changed_while_disabled(page, stack):
    from stack import cli

    cli(stack.home, "plugins", "disable", "greeter")
    wait_info(stack, "greeter", lambda i: record(i)["enabled"] is False)
    try:
        page.goto(f"{stack.ui.base}/#/plugins/greeter")
        page.get_by_text("The plugin is disabled").wait_for()
        page.get_by_label("Greeting", exact=True).fill("While off")
        page.get_by_role("button", name="Save", exact=True).click()
        wait_info(stack, "greeter", lambda i: (record(i).get("settings") or {}).get("greeting") == "While off")
    finally:
        cli(stack.home, "plugins", "enable", "greeter")


def test_uninstall_asks_first_then_removes(page, stack):
    page.get_by_role("link", name="doomed", exact=True).click()
    page.get_by_role("button", name="Uninstall doomed", exact=True).click()
    dialog = page.get_by_role("dialog", name="Confirm uninstall")
    dialog.wait_for()
    assert (stack.home / "plugins" / "doomed.py").exists()  # nothing removed before the confirmation
    dialog.get_by_role("button", name="Yes, remove it").click()
    page.get_by_role("status").filter(has_text="was uninstalled").wait_for()
    from testkit.jack import wait_for

    wait_for(lambda: not (stack.home / "plugins" / "doomed.py").exists(), 10, what="doomed.py removed")


VIEWS = [
    ("plugins", "#/plugins", "Plugins"),
    ("details", "#/plugins/greeter", "greeter"),
    ("catalog", "#/catalog", "Catalog"),
    ("monitor", "#/monitor", "Monitor"),
    ("learn", "#/learn", "Learn"),
    ("status", "#/status", "Status"),
]


def test_every_view_has_no_serious_accessibility_violation(page, stack, run_dir):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    problems: dict[str, list[str]] = {}
    for name, href, heading in VIEWS:
        page.goto(f"{stack.ui.base}/{href}")
        page.get_by_role("heading", name=heading).first.wait_for()
        page.wait_for_timeout(300)
        page.screenshot(path=str(run_dir / f"ui-{name}.png"), full_page=True)
        results = axe.run(page)
        bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
        if bad:
            problems[name] = [f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in bad]
    # the install review step too
    page.goto(f"{stack.ui.base}/#/plugins")
    page.get_by_role("button", name="Add a plugin…").click()
    src = run_dir / "reviewed_only.py"
    src.write_text(PROBER.replace("Calls a host it was not granted.", "Shown for review, never installed."))
    page.get_by_label("Plugin file (.py or .zip)").set_input_files(str(src))
    page.get_by_role("region", name="Review before installing").wait_for()
    src.unlink()
    page.screenshot(path=str(run_dir / "ui-install.png"), full_page=True)
    bad = [v for v in axe.run(page).response["violations"] if v.get("impact") in ("serious", "critical")]
    if bad:
        problems["install"] = [v["id"] for v in bad]
    page.get_by_role("button", name="Cancel").click()
    assert not (stack.home / "plugins" / "reviewed_only.py").exists()
    assert not problems, problems
    assert len(list(run_dir.glob("ui-*.png"))) >= len(VIEWS) + 1


def test_enable_names_are_unique_and_install_is_the_only_install_button(page, stack):
    page.locator("tr[data-plugin=greeter]").wait_for()
    names = page.evaluate(
        """() => [...document.querySelectorAll('button, input, select, a')].map(e =>
            e.getAttribute('aria-label') || e.textContent.trim())"""
    )
    assert sum("Enable greeter" in n for n in names) == 1
    assert not [n for n in names if n.startswith("Install")]
