"""home_automation as the plan writes it, against a real mosquitto read by a real subscriber:
the plan's params, qos honoured and audited, retain, JSON payloads, mqtts with a CA made for the
test and credentials from the settings, Home Assistant's REST service calls (a local fake) and
MQTT discovery of device triggers with availability kept by the last will."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from plankit import first_party
from testkit.fakes.homeassistant import FakeHomeAssistant
from testkit.mqtt_sub import Subscriber

from midimon.sandbox import SandboxError

REPO = Path(__file__).resolve().parents[2]
# The plan's snippet, verbatim but for the broker (the test's mosquitto).
PLAN_PARAMS = """
broker = "mqtt://192.168.1.100:1883"
topic = "home/living_room/lights/set"
payload = "ON"
qos = 1
"""


def mqtt_grants(host: str, port: int, *publish: str) -> dict:
    return {"capabilities": ["network"], "allow": {"brokers": [f"{host}:{port}"], "publish": list(publish)}}


def test_the_plans_params_publish_with_qos_1(home: Path, mqtt_broker) -> None:
    host, port = mqtt_broker
    params = tomllib.loads(PLAN_PARAMS)
    params["broker"] = f"mqtt://{host}:{port}"
    with Subscriber(host, port, "home/#") as sub:
        with first_party("home_automation", home, grants=mqtt_grants(host, port, "home/#")) as plugin:
            assert plugin.execute(params, {"note": 3}) is True
            seen = sub.wait(lambda m: m)
            audit = plugin.audit()
    assert seen[0]["topic"] == "home/living_room/lights/set" and seen[0]["payload"] == "ON"
    assert seen[0]["qos"] == 1  # subscribed at 2: the broker delivers at the publish's QoS
    publishes = [r for r in audit if r.get("action") == "mqtt.publish"]
    assert publishes and "qos 1" in publishes[-1]["detail"]


def test_a_table_payload_is_json_and_retain_is_kept_for_late_subscribers(home: Path, mqtt_broker) -> None:
    host, port = mqtt_broker
    params = {
        "broker": f"{host}:{port}",
        "topic": "home/scene/state",
        "payload": {"scene": "evening", "level": 40},
        "retain": True,
        "qos": 2,
    }
    with first_party("home_automation", home, grants=mqtt_grants(host, port, "home/#")) as plugin:
        plugin.execute(params)
    with Subscriber(host, port, "home/scene/state") as late:
        got = late.wait(lambda m: m)[0]
    assert json.loads(got["payload"]) == {"scene": "evening", "level": 40} and got["retain"] is True
    with first_party("home_automation", home, grants=mqtt_grants(host, port, "home/#")) as plugin:
        plugin.execute({"broker": f"{host}:{port}", "topic": "home/scene/state", "payload": "", "retain": True})


def test_a_topic_outside_the_grant_is_not_published(home: Path, mqtt_broker) -> None:
    host, port = mqtt_broker
    with Subscriber(host, port, "#") as sub:
        with first_party("home_automation", home, grants=mqtt_grants(host, port, "home/lights/#")) as plugin:
            with pytest.raises(SandboxError, match="not in the plugin's granted publish"):
                plugin.execute({"broker": f"{host}:{port}", "topic": "home/locks/front", "payload": "OPEN"})
            plugin.execute({"broker": f"{host}:{port}", "topic": "home/lights/marker", "payload": "x"})
            sub.wait(lambda m: any(x["topic"] == "home/lights/marker" for x in m))
    assert sub.on("home/locks/front") == []


def test_home_assistant_service_call_with_the_token_from_the_settings(home: Path) -> None:
    with FakeHomeAssistant() as ha:
        settings = {"ha_url": ha.url, "ha_token": ha.token}
        grants = {"capabilities": ["network"], "allow": {"hosts": [ha.url]}}
        with first_party("home_automation", home, grants=grants, settings=settings) as plugin:
            assert plugin.execute({"service": "light.toggle", "entity_id": "light.living_room"}) == 200
            assert ha.states["light.living_room"] == "on"
            plugin.execute(
                {"service": "light.turn_on", "entity_id": "light.living_room", "data": {"brightness_pct": 50}}
            )
        assert ha.calls[-1] == ("light", "turn_on", {"brightness_pct": 50, "entity_id": "light.living_room"})
        assert all(r["headers"]["Authorization"] == f"Bearer {ha.token}" for r in ha.requests)


def test_home_assistant_without_a_token_says_how_and_sends_nothing(home: Path) -> None:
    with FakeHomeAssistant() as ha:
        grants = {"capabilities": ["network"], "allow": {"hosts": [ha.url]}}
        with first_party("home_automation", home, grants=grants, settings={"ha_url": ha.url}) as plugin:
            with pytest.raises(SandboxError, match="ha_token"):
                plugin.execute({"service": "light.toggle", "entity_id": "light.living_room"})
        assert ha.requests == []


DISCOVERY = {
    "discovery": True,
    "node_id": "desk",
    "ha_triggers": [{"subtype": "button_1"}, {"subtype": "button_2", "type": "button_long_press"}],
}


def test_discovery_publishes_device_triggers_and_a_mapping_fires_one(home: Path, mqtt_broker) -> None:
    host, port = mqtt_broker
    settings = {**DISCOVERY, "broker": f"mqtt://{host}:{port}"}
    grants = mqtt_grants(host, port, "homeassistant/#", "midimon/desk/#")
    with Subscriber(host, port, "midimon/desk/triggers/#") as live:
        with first_party("home_automation", home, grants=grants, settings=settings) as plugin:
            plugin.execute({"ha_trigger": "button_1"})
            fired = live.wait(lambda m: m)[0]
            with Subscriber(host, port, "homeassistant/device_automation/#", "midimon/desk/availability") as late:
                seen = late.wait(lambda m: len(m) >= 3)
    configs = {m["topic"]: json.loads(m["payload"]) for m in seen if m["topic"].endswith("/config")}
    one = configs["homeassistant/device_automation/desk/button_1/config"]
    two = configs["homeassistant/device_automation/desk/button_2/config"]
    assert one["automation_type"] == "trigger" and one["type"] == "button_short_press" and one["subtype"] == "button_1"
    assert two["type"] == "button_long_press"
    assert one["device"]["identifiers"] == ["midimon_desk"] and one["device"] == two["device"]
    assert all(m["retain"] for m in seen)
    assert [m["payload"] for m in seen if m["topic"] == "midimon/desk/availability"] == ["online"]
    assert fired["topic"] == one["topic"] and fired["payload"] == one["payload"]
    _clear_retained(host, port, [*configs, "midimon/desk/availability"])


def _clear_retained(host: str, port: int, topics: list[str]) -> None:
    """Leave the shared broker clean: an empty retained message deletes the retained one."""
    import paho.mqtt.publish as publish

    for topic in topics:
        publish.single(topic, b"", qos=1, retain=True, hostname=host, port=port)


def test_availability_goes_offline_by_the_last_will_when_the_daemon_dies(home: Path, mqtt_broker) -> None:
    """The plugin's host process is killed (no clean disconnect): the broker publishes the will."""
    host, port = mqtt_broker
    settings = {**DISCOVERY, "node_id": "crash", "broker": f"mqtt://{host}:{port}"}
    grants = mqtt_grants(host, port, "homeassistant/#", "midimon/crash/#")
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path[:0] = [{str(REPO / "tests" / "plugins")!r}, {str(REPO / "tests")!r}]
        from pathlib import Path
        from plankit import first_party
        with first_party("home_automation", Path({str(home)!r}), grants={grants!r}, settings={settings!r}) as p:
            p.execute({{"ha_trigger": "button_1"}})
            print("fired", flush=True)
            os._exit(9)
        """
    )
    with Subscriber(host, port, "midimon/crash/availability") as sub:
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=os.environ
        )
        assert "fired" in proc.stdout, proc.stderr
        seen = sub.wait(lambda m: [x["payload"] for x in m][-1:] == ["offline"], timeout=10)
    assert [m["payload"] for m in seen] == ["online", "offline"]
    _clear_retained(host, port, ["midimon/crash/availability"])
    _clear_retained(host, port, [f"homeassistant/device_automation/crash/{s}/config" for s in ("button_1", "button_2")])


def test_mqtts_with_a_ca_made_for_the_test_and_credentials_from_the_settings(home: Path, tmp_path: Path) -> None:
    from testkit.mqtt_tls import TlsMosquitto

    try:
        broker = TlsMosquitto(tmp_path / "tls", users={"ada": "s3cret"})
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    with broker:
        from midimon.sandbox.capabilities.fs import FILES_DIR

        data = home / "plugins-data" / "home_automation" / FILES_DIR  # what fs.* calls the plugin's folder
        data.mkdir(parents=True)
        (data / "ca.pem").write_bytes(broker.ca.read_bytes())  # the CA in the plugin's data folder
        settings = {
            "broker": f"mqtts://127.0.0.1:{broker.port}",
            "username": "ada",
            "password": "s3cret",
            "ca_file": "ca.pem",
        }
        grants = mqtt_grants("127.0.0.1", broker.port, "home/#")
        with Subscriber("127.0.0.1", broker.port, "home/#", ca=str(broker.ca), user=("ada", "s3cret")) as sub:
            with first_party("home_automation", home, grants=grants, settings=settings) as plugin:
                plugin.execute({"topic": "home/tls", "payload": "secure", "qos": 1})
                assert sub.wait(lambda m: m)[0]["payload"] == "secure"
            # without the test's CA the server's certificate is not trusted: nothing is sent
            no_ca = {k: v for k, v in settings.items() if k != "ca_file"}
            with first_party("home_automation", home, grants=grants, settings=no_ca) as plugin:
                with pytest.raises(SandboxError, match="TLS|certificate|connect"):
                    plugin.execute({"topic": "home/tls", "payload": "leaked", "qos": 1})
            assert [m["payload"] for m in sub.messages] == ["secure"]


def test_old_mqtt_publish_settings_still_name_the_broker(home: Path, mqtt_broker) -> None:
    host, port = mqtt_broker
    with Subscriber(host, port, "legacy/#") as sub:
        with first_party(
            "home_automation", home, grants=mqtt_grants(host, port, "legacy/#"), settings={"broker": f"{host}:{port}"}
        ) as plugin:
            plugin.execute({"topic": "legacy/x", "include_context": True}, {"note": 9})
            got = sub.wait(lambda m: m)[0]
    assert json.loads(got["payload"])["note"] == 9
