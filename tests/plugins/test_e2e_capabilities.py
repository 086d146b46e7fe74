"""End to end over JACK, through `midimon run` as a process: what plugins reach outside the
daemon. `midi` sends to a JACK port only once granted; `store` survives a daemon restart; the
first-party http_request and home_automation (under its old name) reach a local http.server and
mosquitto."""

from __future__ import annotations

import json
import threading
import time

import pytest
from e2ekit import cli, cli_json, config, files_dir, grant, press, read_json, ready, wait_for
from pluginkit import write

pytestmark = pytest.mark.jack


def midi_echo(port: str) -> str:
    return f'''"""Plays the pressed note back, a fifth up, on a MIDI output."""
capabilities = ["midi"]
ports = ["{port}"]


def execute(params, context):
    midi.send("{port}", {{"type": "note_on", "channel": 2, "note": context["note"] + 7,
                         "velocity": context["velocity"]}})
'''


def test_midi_capability_sends_to_a_jack_port_only_when_granted(harness, start_daemon, home, plugins_dir):
    port = f"{harness.tag}-out"
    write(plugins_dir / "echo.py", midi_echo(port))
    d = start_daemon(
        config(
            harness,
            """
[[modes.mappings]]
trigger = { type = "Note", note = 48 }
action = { type = "Plugin", plugin = "echo" }
""",
            virtual_output=True,
        )
    )
    ready(d, "echo")
    harness.listen(port)
    n = len(d.lines)
    press(harness, 48, velocity=90)
    d.wait_log("was not granted the 'midi' capability", start=n)
    time.sleep(0.5)
    assert not [m for m in harness.received if m.type == "note_on"]
    grant(home, "echo", "midi")
    press(harness, 48, velocity=91)
    got = wait_for(
        lambda: [m for m in harness.received if m.type == "note_on"], 10, what="the plugin's note on the JACK port"
    )
    assert [(m.channel, m.note, m.velocity) for m in got] == [(2, 55, 91)]
    # revoked: nothing more arrives
    cli("plugins", "revoke", "echo", "midi", home=home)
    n = len(d.lines)
    press(harness, 48, velocity=92)
    d.wait_log("was not granted the 'midi' capability", start=n)
    time.sleep(0.5)
    assert len([m for m in harness.received if m.type == "note_on"]) == 1


COUNTER = '''"""Counts presses in its store and writes the count where the test can read it."""
capabilities = ["filesystem"]
seen = []


def initialize(config):
    seen.append(store.get("count", 0))


def execute(params, context):
    count = store.get("count", 0) + 1
    store.set("count", count)
    fs.write_json("count.json", {"count": count, "at_initialize": seen[0]})
'''


def test_store_survives_a_daemon_restart(harness, start_daemon, home, plugins_dir):
    write(plugins_dir / "counter.py", COUNTER)
    grant(home, "counter", "filesystem")
    cfg = config(
        harness,
        """
[[modes.mappings]]
trigger = { type = "Note", note = 36 }
action = { type = "Plugin", plugin = "counter" }
""",
    )
    out = files_dir(home, "counter") / "count.json"
    d = start_daemon(cfg)
    ready(d, "counter")
    for i in (1, 2):
        press(harness)
        wait_for(lambda: (read_json(out) or {}).get("count") == i, 10, what=f"press {i}")
    assert read_json(out)["at_initialize"] == 0
    assert d.stop() == 0
    d2 = start_daemon(None)
    ready(d2, "counter")
    press(harness)
    wait_for(lambda: (read_json(out) or {}).get("count") == 3, 10, what="the press after restart")
    assert read_json(out)["at_initialize"] == 2  # the new worker saw the old count at start


def install(home, name: str, *grant_args: str) -> None:
    cli_json("plugins", "install", f"builtin:{name}", home=home)
    cli_json("plugins", "grant", name, *grant_args, home=home)


def test_http_request_plugin_reaches_a_local_server(harness, start_daemon, home, plugins_dir, http_server):
    install(home, "http_request", "network", "--scope", f"hosts={http_server.url}")
    d = start_daemon(
        config(
            harness,
            f"""
[[modes.mappings]]
description = "scene 2"
trigger = {{ type = "Note", note = 36 }}
action = {{ type = "Plugin", plugin = "http_request", params = {{ url = "{http_server.url}/scene", json = {{ scene = 2 }}, include_context = true }} }}
""",
        )
    )
    ready(d, "http_request")
    press(harness, 36, velocity=77)
    req = wait_for(
        lambda: http_server.requests and http_server.requests[-1], 10, what="the request at the local server"
    )
    assert req["method"] == "POST" and req["path"] == "/scene"
    body = json.loads(req["body"])
    assert body["params"] == {"scene": 2}
    assert body["context"]["note"] == 36 and body["context"]["velocity"] == 77
    assert body["context"]["description"] == "scene 2"


def test_mqtt_publish_of_an_older_home_reaches_mosquitto(harness, start_daemon, home, plugins_dir, mqtt_broker):
    """An older midimon left grants and settings under mqtt_publish, and the config names it: on
    the first start they move to home_automation (the log says so), the mapping is read as
    home_automation with a warning at its line, and the press reaches mosquitto."""
    import paho.mqtt.client as mqtt

    host, port = mqtt_broker
    topic = f"midimon-e2e/{harness.tag}/pad"
    old = {
        "grants": {"network": {"scopes": {"brokers": [f"{host}:{port}"], "publish": [topic]}}},
        "settings": {"broker": f"{host}:{port}"},
        "enabled": True,
    }
    (home / "plugin-state.json").write_text(json.dumps({"version": 1, "plugins": {"mqtt_publish": old}}))
    received: list[tuple[str, str]] = []
    subscribed = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_connect = lambda c, u, f, rc, p=None: c.subscribe(topic)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: received.append((m.topic, m.payload.decode()))
    sub.connect(host, port)
    sub.loop_start()
    try:
        assert subscribed.wait(10), "subscribing to mosquitto"
        d = start_daemon(
            config(
                harness,
                f"""
[[modes.mappings]]
trigger = {{ type = "Note", note = 36 }}
action = {{ type = "Plugin", plugin = "mqtt_publish", params = {{ topic = "{topic}" }} }}
""",
            )
        )
        ready(d, "home_automation")
        d.wait_log("plugin 'mqtt_publish' is now 'home_automation': moved its grants")
        d.wait_log("plugin 'mqtt_publish' is now called 'home_automation'")  # the config's line
        press(harness, 36, velocity=66)
        got = wait_for(lambda: received, 10, what="the message on mosquitto")
        assert got[0][0] == topic
        payload = json.loads(got[0][1])
        assert payload["note"] == 36 and payload["velocity"] == 66 and payload["mode"] == "Play"
    finally:
        sub.loop_stop()
        sub.disconnect()
