"""End to end through `midimon run` as a process (with its JACK input connected): trigger plugins
fire mappings. A plugin's own poll_events() at its declared interval, filtered by `match`; and
the first-party mqtt_listen plugin turning a message published to mosquitto into a mapping."""

from __future__ import annotations

import statistics

import pytest
from e2ekit import cli_json, config, lines, ready, wait_for
from pluginkit import store_of, write

pytestmark = pytest.mark.jack

METRONOME = '''"""Emits one numbered event per poll, twelve in all, and records when it was polled."""
import time

poll_interval_ms = 150


def poll_events():
    n = store.get("n", 0)
    if n >= 12:
        return []
    store.set("n", n + 1)
    store.set("polled", store.get("polled", []) + [time.time()])
    return [{"event": "tick", "data": {"n": n, "parity": "even" if n % 2 == 0 else "odd"}}]
'''


def test_poll_events_at_the_declared_interval_fires_matching_mappings(
    harness, start_daemon, home, plugins_dir, tmp_path
):
    out = tmp_path / "fired.txt"
    write(plugins_dir / "metronome.py", METRONOME)
    d = start_daemon(
        config(
            harness,
            f"""
[[modes.mappings]]
description = "even ticks"
trigger = {{ type = "Plugin", plugin = "metronome", event = "tick", match = {{ parity = "even" }} }}
action = {{ type = "Shell", shell = true, command = "echo even >> {out}" }}

[[modes.mappings]]
description = "tick 5 only"
trigger = {{ type = "Plugin", plugin = "metronome", event = "tick", match = {{ n = 5 }} }}
action = {{ type = "Shell", shell = true, command = "echo five >> {out}" }}

[[modes.mappings]]
description = "another event name never fires"
trigger = {{ type = "Plugin", plugin = "metronome", event = "tock" }}
action = {{ type = "Shell", shell = true, command = "echo tock >> {out}" }}
""",
        )
    )
    ready(d, "metronome")
    wait_for(lambda: store_of(home, "metronome").get("n") == 12, 20, what="twelve polls")
    wait_for(lambda: len(lines(out)) == 7, 10, what="seven firings")
    got = lines(out)
    assert sorted(got) == ["even"] * 6 + ["five"], got
    polled = store_of(home, "metronome")["polled"]
    gaps = [b - a for a, b in zip(polled, polled[1:])]
    # polled on its own schedule: never much faster than declared, and not stalled (generous)
    assert min(gaps) >= 0.1, gaps
    assert statistics.median(gaps) < 1.0, gaps
    info = cli_json("plugins", "info", "metronome", home=home)
    assert info["trigger"]["events"] == 12 and info["trigger"]["errors"] == 0
    assert d.proc.poll() is None


def test_mqtt_listen_fires_a_mapping_when_a_message_is_published(
    harness, start_daemon, home, plugins_dir, mqtt_broker, tmp_path
):
    import paho.mqtt.publish as publish

    host, port = mqtt_broker
    base = f"midimon-e2e/{harness.tag}"
    out = tmp_path / "fired.txt"
    cli_json("plugins", "install", "builtin:mqtt_listen", home=home)
    cli_json(
        "plugins",
        "grant",
        "mqtt_listen",
        "network",
        "--scope",
        f"brokers={host}:{port}",
        "--scope",
        f"subscribe={base}/#",
        home=home,
    )
    cli_json(
        "plugins", "config", "mqtt_listen", "--set", f"broker={host}:{port}", "--set", f'topics=["{base}/#"]', home=home
    )
    d = start_daemon(
        config(
            harness,
            f"""
[[modes.mappings]]
description = "doorbell"
trigger = {{ type = "Plugin", plugin = "mqtt_listen", event = "message", match = {{ topic = "{base}/door", payload = "ring" }} }}
action = {{ type = "Shell", shell = true, command = "echo ring >> {out}" }}
""",
        )
    )
    ready(d, "mqtt_listen")
    wait_for(
        lambda: (cli_json("plugins", "info", "mqtt_listen", home=home).get("trigger") or {}).get("polls", 0) > 2,
        10,
        what="polling",
    )
    # not matching: another topic, another payload
    publish.single(f"{base}/window", "ring", hostname=host, port=port)
    publish.single(f"{base}/door", "knock", hostname=host, port=port)
    publish.single(f"{base}/door", "ring", hostname=host, port=port)
    wait_for(lambda: lines(out) == ["ring"], 10, what="the mapping to fire")
    wait_for(
        lambda: cli_json("plugins", "info", "mqtt_listen", home=home)["trigger"]["events"] >= 3,
        10,
        what="all three messages as events",
    )
    assert lines(out) == ["ring"]
    publish.single(f"{base}/door", "ring", hostname=host, port=port)
    wait_for(lambda: lines(out) == ["ring", "ring"], 10, what="the second ring")
