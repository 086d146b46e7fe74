"""mqtt against a real local mosquitto: brokers, publish and subscribe scopes, wildcards."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
import pytest

from midimon.sandbox import PluginCallError, PluginHost

CLIENT = """
def pub(topic, payload):
    return mqtt.publish(topic, payload, qos=1)
def pub_to(broker, topic):
    return mqtt.publish(topic, "x", broker=broker)
def sub(topic):
    return mqtt.subscribe(topic)
def inbox():
    return mqtt.messages()
"""


class Watcher:
    """A plain paho client subscribed to everything: what reached the broker."""

    def __init__(self, port: int) -> None:
        self.seen: list[tuple[str, str]] = []
        self.ready = threading.Event()
        self.client = paho.Client(callback_api_version=paho.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe("#")
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = lambda c, u, m: self.seen.append((m.topic, m.payload.decode()))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(5)

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def watcher(mosquitto: int) -> Any:
    w = Watcher(mosquitto)
    yield w
    w.close()


def grants(port: int, **scopes: Any) -> dict[str, Any]:
    return {
        "capabilities": ["network"],
        "allow": {"brokers": [f"127.0.0.1:{port}"], **scopes.pop("allow", {})},
        **scopes,
    }


def wait_for(predicate: Callable[[], Any], timeout: float = 3.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return predicate()


def test_publish_in_scope_reaches_broker(
    make_host: Callable[..., PluginHost], mosquitto: int, watcher: Watcher
) -> None:
    host = make_host(CLIENT, grants(mosquitto, allow={"publish": ["home/+/light"]}))
    assert host.call("pub", "home/kitchen/light", "on") is True
    assert wait_for(lambda: ("home/kitchen/light", "on") in watcher.seen)


@pytest.mark.parametrize("topic", ["home/kitchen/door", "home/kitchen/light/extra", "other", "home/+/light", "home/#"])
def test_publish_out_of_scope_never_reaches_broker(
    make_host: Callable[..., PluginHost], mosquitto: int, watcher: Watcher, topic: str
) -> None:
    host = make_host(CLIENT, grants(mosquitto, allow={"publish": ["home/+/light"]}))
    with pytest.raises(PluginCallError, match="denied"):
        host.call("pub", topic, "x")
    watcher.publish("sync/marker", "1")  # everything published before this has arrived
    assert wait_for(lambda: ("sync/marker", "1") in watcher.seen)
    assert [t for t, _ in watcher.seen if t != "sync/marker"] == []


def test_publish_deny_beats_allow(make_host: Callable[..., PluginHost], mosquitto: int, watcher: Watcher) -> None:
    host = make_host(CLIENT, grants(mosquitto, allow={"publish": ["home/#"]}, deny={"publish": ["home/alarm/#"]}))
    with pytest.raises(PluginCallError, match="explicitly denied"):
        host.call("pub", "home/alarm/off", "x")
    assert host.call("pub", "home/lamp", "on") is True
    assert wait_for(lambda: ("home/lamp", "on") in watcher.seen)
    assert all(t != "home/alarm/off" for t, _ in watcher.seen)


def test_subscribe_in_scope_delivers_messages(
    make_host: Callable[..., PluginHost], mosquitto: int, watcher: Watcher
) -> None:
    host = make_host(CLIENT, grants(mosquitto, allow={"subscribe": ["sensors/#"]}))
    assert host.call("sub", "sensors/+/temp") is True
    time.sleep(0.2)
    watcher.publish("sensors/desk/temp", "21.5")
    watcher.publish("sensors/desk/humidity", "40")
    got = wait_for(lambda: host.call("inbox"))
    assert [(m["topic"], m["payload"]) for m in got] == [("sensors/desk/temp", "21.5")]


@pytest.mark.parametrize("wanted", ["#", "sensors/#/x", "+/desk/temp", "other/#", "$SYS/#"])
def test_subscribe_broader_than_grant_is_refused(
    make_host: Callable[..., PluginHost], mosquitto: int, wanted: str
) -> None:
    host = make_host(CLIENT, grants(mosquitto, allow={"subscribe": ["sensors/#"]}))
    with pytest.raises(PluginCallError):
        host.call("sub", wanted)


def test_subscribe_overlapping_a_deny_is_refused(make_host: Callable[..., PluginHost], mosquitto: int) -> None:
    host = make_host(CLIENT, grants(mosquitto, allow={"subscribe": ["home/#"]}, deny={"subscribe": ["home/secrets/#"]}))
    with pytest.raises(PluginCallError, match="denied"):
        host.call("sub", "home/+/pin")  # could receive home/secrets/pin
    assert host.call("sub", "home/lights/#") is True


def test_undeclared_broker_is_refused(make_host: Callable[..., PluginHost], mosquitto: int) -> None:
    host = make_host(CLIENT, grants(mosquitto, allow={"publish": ["#"]}))
    with pytest.raises(PluginCallError, match="broker"):
        host.call("pub_to", f"127.0.0.1:{mosquitto + 1}", "a")


def test_publish_and_subscribe_scopes_are_separate(make_host: Callable[..., PluginHost], mosquitto: int) -> None:
    host = make_host(CLIENT, grants(mosquitto, allow={"subscribe": ["a/#"]}))
    with pytest.raises(PluginCallError, match="publish"):
        host.call("pub", "a/b", "x")
