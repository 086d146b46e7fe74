"""``mqtt``: publish and subscribe on declared brokers, with separate topic scopes.

One paho-mqtt client per (plugin, broker), connected on first use and kept. Messages for the
plugin's subscriptions wait in a bounded queue that the plugin drains with ``mqtt.messages()``
(the lifecycle engine calls it from ``poll_events``); the oldest are dropped when it is full.
"""

from __future__ import annotations

import collections
import threading
import uuid
from typing import Any, ClassVar

import paho.mqtt.client as paho

from ..errors import CapabilityFailed
from .base import Capability, CapabilityContext, require_str
from .scopes import ScopeError, check_filter, check_topic, filter_covers, filters_overlap, normalise_host, topic_matches

MAX_QUEUE = 1000
MAX_PAYLOAD = 256 * 1024


def parse_broker(text: str) -> tuple[str, int]:
    text = text.strip()
    if "://" in text:
        scheme, text = text.split("://", 1)
        if scheme not in ("mqtt", "tcp"):
            raise ScopeError(f"broker scheme {scheme!r} is not supported; use host:port")
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    if not host:
        host, port = text, ""
    return normalise_host(host), int(port) if port else 1883


class _Connection:
    def __init__(
        self, plugin: str, host: str, port: int, timeout: float, inbox: collections.deque[dict[str, Any]]
    ) -> None:
        self.connected = threading.Event()
        self.inbox = inbox
        self.broker = f"{host}:{port}"
        self.client = paho.Client(
            callback_api_version=paho.CallbackAPIVersion.VERSION2, client_id=f"midimon-{plugin}-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            self.close()
            raise CapabilityFailed(f"MQTT broker {self.broker} did not accept the connection")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not getattr(reason, "is_failure", False):
            self.connected.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        payload = bytes(message.payload[:MAX_PAYLOAD]).decode("utf-8", "replace")
        self.inbox.append(
            {
                "broker": self.broker,
                "topic": str(message.topic),
                "payload": payload,
                "qos": int(message.qos),
                "retain": bool(message.retain),
            }
        )

    def close(self) -> None:
        try:
            self.client.disconnect()
            self.client.loop_stop()
        except Exception:
            pass


class MqttCapability(Capability):
    obj_name = "mqtt"
    capability = "network"
    methods: ClassVar[frozenset[str]] = frozenset({"publish", "subscribe", "unsubscribe", "messages"})

    def __init__(self, ctx: CapabilityContext) -> None:
        super().__init__(ctx)
        self._connections: dict[tuple[str, int], _Connection] = {}
        self._inbox: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_QUEUE)

    def _broker(self, action: str, broker: Any) -> _Connection:
        allowed = []
        for entry in self.ctx.grants.allow.brokers:
            try:
                allowed.append(parse_broker(entry))
            except (ScopeError, ValueError):
                continue
        denied = set()
        for entry in self.ctx.grants.deny.brokers:
            try:
                denied.add(parse_broker(entry))
            except (ScopeError, ValueError):
                continue
        if broker is None:
            if len(allowed) != 1:
                raise self.deny(action, "", f"name the broker: the plugin has {len(allowed)} granted brokers")
            key = allowed[0]
        else:
            text = require_str(broker, "broker", 300)
            try:
                key = parse_broker(text)
            except (ScopeError, ValueError) as exc:
                raise self.deny(action, text, str(exc)) from None
        if key in denied or key not in allowed:
            raise self.deny(
                action,
                f"{key[0]}:{key[1]}",
                "broker is explicitly denied" if key in denied else f"broker is {self.scope_hint('brokers')}",
            )
        conn = self._connections.get(key)
        if conn is None:
            try:
                conn = _Connection(self.ctx.plugin, key[0], key[1], self.ctx.remaining(None, 5.0), self._inbox)
            except OSError as exc:
                raise CapabilityFailed(f"cannot connect to MQTT broker {key[0]}:{key[1]}: {exc}") from None
            self._connections[key] = conn
        return conn

    def publish(self, topic: Any, payload: Any = "", qos: Any = 0, retain: Any = False, broker: Any = None) -> bool:
        topic = require_str(topic, "topic", 65535)
        try:
            check_topic(topic)
        except ScopeError as exc:
            raise self.deny("publish", topic, str(exc)) from None
        grants = self.ctx.grants
        if any(topic_matches(f, topic) for f in grants.deny.publish):
            raise self.deny("publish", topic, "topic is explicitly denied")
        if not any(topic_matches(f, topic) for f in grants.allow.publish):
            raise self.deny("publish", topic, f"topic is {self.scope_hint('publish')}")
        text = require_str(payload if isinstance(payload, str) else _json(payload), "payload", MAX_PAYLOAD)
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        conn = self._broker("publish", broker)
        info = conn.client.publish(topic, text.encode("utf-8"), qos=int(qos), retain=bool(retain))
        if qos:
            info.wait_for_publish(self.ctx.remaining(None, 5.0))
        self.audit("publish", "allowed", f"{conn.broker}/{topic}", f"{len(text)} chars")
        return info.rc == paho.MQTT_ERR_SUCCESS

    def subscribe(self, topic: Any, qos: Any = 0, broker: Any = None) -> bool:
        topic_filter = require_str(topic, "topic", 65535)
        try:
            check_filter(topic_filter)
        except ScopeError as exc:
            raise self.deny("subscribe", topic_filter, str(exc)) from None
        grants = self.ctx.grants
        # Deny beats allow: a subscription that could receive any denied topic is refused.
        if any(filters_overlap(f, topic_filter) for f in grants.deny.subscribe):
            raise self.deny("subscribe", topic_filter, "filter reaches an explicitly denied topic")
        if not any(filter_covers(f, topic_filter) for f in grants.allow.subscribe):
            raise self.deny("subscribe", topic_filter, f"filter is {self.scope_hint('subscribe')}")
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        conn = self._broker("subscribe", broker)
        rc, _mid = conn.client.subscribe(topic_filter, qos=int(qos))
        self.audit("subscribe", "allowed", f"{conn.broker}/{topic_filter}")
        return rc == paho.MQTT_ERR_SUCCESS

    def unsubscribe(self, topic: Any, broker: Any = None) -> bool:
        topic_filter = require_str(topic, "topic", 65535)
        conn = self._broker("unsubscribe", broker)
        rc, _mid = conn.client.unsubscribe(topic_filter)
        return rc == paho.MQTT_ERR_SUCCESS

    def messages(self, limit: Any = 100) -> list[dict[str, Any]]:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be a positive integer")
        out = []
        denied = self.ctx.grants.deny.subscribe
        while self._inbox and len(out) < min(limit, MAX_QUEUE):
            message = self._inbox.popleft()
            # Belt and braces: a broker may deliver retained or overlapping-subscription
            # messages; a denied topic never reaches the plugin.
            if not any(topic_matches(f, message["topic"]) for f in denied):
                out.append(message)
        return out

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))
