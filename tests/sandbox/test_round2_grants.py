"""Issue 10 finding 1, through a real daemon: narrowing a grant narrows the running worker.

The fs handler computed its folders once per worker, so after ``revoke`` and a narrower
``grant`` the plugin still read and wrote in the removed folder; an MQTT subscription made under
``subscribe=home/#`` kept delivering ``home/private/...`` after the scope became
``home/doorbell``. Each test keeps one worker alive across the change (its pid is checked)."""

from __future__ import annotations

import json

import pytest

from .test_round2_kit import (
    cli,
    config,
    plugins_dir,
    press,
    ready,
    start_daemon,
    wait_for,
    write,
)

pytestmark = pytest.mark.jack
__all__ = ["plugins_dir", "start_daemon"]

READER = '''"""Reads one file and writes another, reporting both outcomes in its store."""
capabilities = ["filesystem"]
calls_here = []  # module state: lives as long as this one worker


def execute(params, context):
    calls_here.append(1)
    n = store.get("n", 0) + 1
    try:
        got = fs.read_text(params["secret"])
    except CapabilityError as exc:
        got = "denied: " + str(exc)
    try:
        fs.write_text(params["out"] + "." + str(n), "written")
        wrote = "yes"
    except CapabilityError as exc:
        wrote = "denied: " + str(exc)
    store.set("r" + str(n), {"read": got, "wrote": wrote, "worker_calls": len(calls_here)})
    store.set("n", n)
'''


def _store(home) -> dict:
    try:
        return json.loads((home / "plugins-data" / "reader" / "store.json").read_text())
    except (OSError, ValueError):
        return {}


def test_a_narrowed_folder_grant_applies_to_the_running_worker(harness, start_daemon, home, plugins_dir, tmp_path):
    wide, kept = tmp_path / "wide", tmp_path / "kept"
    wide.mkdir()
    kept.mkdir()
    (wide / "secret.txt").write_text("top secret")
    write(plugins_dir / "reader.py", READER)
    cli(
        "plugins",
        "grant",
        "reader",
        "filesystem",
        "--scope",
        f"read_paths={wide}",
        "--scope",
        f"write_paths={wide}",
        "--scope",
        f"write_paths={kept}",
        "--yes",
        home=home,
    )
    d = start_daemon(
        config(
            harness,
            f"""
[[modes.mappings]]
trigger = {{ type = "Note", note = 36 }}
action = {{ type = "Plugin", plugin = "reader", params = {{ secret = "{wide}/secret.txt", out = "{wide}/out" }} }}
""",
        )
    )
    ready(d, "reader")
    press(harness, 36)
    wait_for(lambda: _store(home).get("n") == 1, 10, what="the first press")
    assert _store(home)["r1"] == {"read": "top secret", "wrote": "yes", "worker_calls": 1}
    assert (wide / "out.1").read_text() == "written"

    cli("plugins", "revoke", "reader", "filesystem", home=home)
    cli("plugins", "grant", "reader", "filesystem", "--scope", f"write_paths={kept}", "--yes", home=home)
    wait_for(
        lambda: "read_paths" not in json.dumps(cli_info(home)["grants"]) or str(wide) not in json.dumps(cli_info(home)),
        10,
        what="the narrower grant in the record",
    )
    press(harness, 36)
    wait_for(lambda: _store(home).get("n") == 2, 10, what="the second press")
    second = _store(home)["r2"]
    assert second["worker_calls"] == 2, "the same worker served both presses"
    assert second["read"].startswith("denied:"), second
    assert second["wrote"].startswith("denied:"), second
    assert not (wide / "out.2").exists()


def cli_info(home) -> dict:
    return json.loads(cli("plugins", "info", "reader", "--json", home=home).stdout)


LISTENER = '''"""Subscribes once per worker, then reports every topic it receives in its store."""
capabilities = ["network"]
poll_interval_ms = 50
subscribed = []  # module state: lives as long as this one worker


def poll_events():
    if not subscribed:
        mqtt.subscribe(store.get("filter"))
        subscribed.append(1)
        store.set("subscriptions", store.get("subscriptions", 0) + 1)
    if len(subscribed) == 1:
        try:
            mqtt.subscribe(store.get("narrow"))  # refused until the grant is narrowed
            subscribed.append(2)
        except CapabilityError:
            pass
    got = [m["topic"] for m in mqtt.messages()]
    if got:
        store.set("topics", store.get("topics", []) + got)
    return []
'''


def test_a_narrowed_topic_grant_drops_the_subscription_at_once(
    harness, start_daemon, home, plugins_dir, mosquitto, tmp_path
):
    import paho.mqtt.publish as publish

    port = mosquitto
    base = f"r2/{harness.tag}"
    write(plugins_dir / "listener.py", LISTENER)
    data = home / "plugins-data" / "listener"
    data.mkdir(parents=True)
    (data / "store.json").write_text(json.dumps({"filter": f"{base}/home/#", "narrow": f"{base}/home/doorbell"}))
    broker = f"brokers=127.0.0.1:{port}"
    cli("plugins", "grant", "listener", "network", "--scope", broker, "--scope", f"subscribe={base}/home/#", home=home)
    d = start_daemon(
        config(
            harness,
            """
[[modes.mappings]]
trigger = { type = "Plugin", plugin = "listener", event = "never" }
action = { type = "Shell", shell = true, command = "true" }
""",
        )
    )
    ready(d, "listener")

    def topics() -> list[str]:
        try:
            return json.loads((data / "store.json").read_text()).get("topics", [])
        except (OSError, ValueError):
            return []

    wait_for(lambda: json.loads((data / "store.json").read_text()).get("subscriptions"), 10, what="the subscription")
    publish.single(f"{base}/home/private/a", "x", hostname="127.0.0.1", port=port)
    wait_for(lambda: f"{base}/home/private/a" in topics(), 10, what="the first message")

    # Narrowed in place, as an editor or the web UI would: the network grant stays, only its
    # subscribe scope shrinks, so the broker connection (and its subscription) stays open
    state_file = home / "plugin-state.json"
    state = json.loads(state_file.read_text())
    state["plugins"]["listener"]["grants"]["network"]["scopes"]["subscribe"] = [f"{base}/home/doorbell"]
    write(state_file, json.dumps(state))

    # once the narrower grant is applied, private topics never arrive; the doorbell does
    def applied() -> bool:
        publish.single(f"{base}/home/doorbell", "ring", hostname="127.0.0.1", port=port)
        return f"{base}/home/doorbell" in topics()

    wait_for(applied, 15, what="the doorbell under the new grant")
    for i in range(5):
        publish.single(f"{base}/home/private/b{i}", "x", hostname="127.0.0.1", port=port)
    publish.single(f"{base}/home/doorbell", "last", hostname="127.0.0.1", port=port)
    before = topics().count(f"{base}/home/doorbell")
    wait_for(lambda: topics().count(f"{base}/home/doorbell") > before, 10, what="the last doorbell")
    assert not [t for t in topics() if "/private/b" in t], topics()
    assert json.loads((data / "store.json").read_text())["subscriptions"] == 1, "one worker throughout"
    audit = (home / "logs" / "audit.jsonl").read_text()
    assert "revoked" in audit and f"{base}/home/#" in audit
