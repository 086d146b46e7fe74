"""``mqtt``: publish and subscribe on declared brokers, with separate topic scopes.

One paho-mqtt client per (plugin, broker), connected on first use and kept. Messages for the
plugin's subscriptions wait in a bounded queue that the plugin drains with ``mqtt.messages()``
(the lifecycle engine calls it from ``poll_events``); the oldest are dropped when it is full.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import socket
import ssl
import threading
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import paho.mqtt.client as paho

from ..errors import CapabilityFailed
from ..grants import Grants
from .base import Capability, CapabilityContext, require_str
from .mqtt_options import ConnectOptions, Will, parse_broker_url, set_nodelay
from .scopes import ScopeError, check_filter, check_topic, filter_covers, filters_overlap, topic_matches

MAX_QUEUE = 1000
MAX_PAYLOAD = 256 * 1024
#: Budget of publishes handed to paho and not yet written (QoS 0) or acknowledged (QoS 1/2),
#: per broker connection. paho's own queue has no bound: a broker that stops reading grew the
#: daemon by 700 MiB in 10 s. Past either figure a publish is refused until the queue drains.
MAX_PENDING_MESSAGES = 1000
MAX_PENDING_BYTES = 4 * 1024 * 1024


def parse_broker(text: str) -> tuple[str, int]:
    """(host, port) of ``host:port``, ``mqtt://...`` or ``mqtts://...`` (see mqtt_options)."""
    return parse_broker_url(text).key


class _Connection:
    def __init__(
        self,
        plugin: str,
        host: str,
        port: int,
        timeout: float,
        inbox: collections.deque[dict[str, Any]],
        admits: Callable[[str, str], bool] = lambda broker, topic: True,
        options: ConnectOptions | None = None,
    ) -> None:
        self.connected = threading.Event()
        self.inbox = inbox
        #: (broker, topic) -> may the plugin receive it under the grants in force now
        self.admits = admits
        self.broker = f"{host}:{port}"
        #: filters subscribed on this connection, so a narrowed grant can drop them
        self.filters: set[str] = set()
        self._pending: dict[int, int] = {}  # mid -> payload bytes, until written or acknowledged
        self._pending_lock = threading.Lock()
        self.pending_bytes = 0
        self.client = paho.Client(
            callback_api_version=paho.CallbackAPIVersion.VERSION2, client_id=f"midimon-{plugin}-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        # The TCP connect is part of the call's deadline too (paho's default is 5 s).
        self.client.connect_timeout = max(0.05, timeout)
        if options is not None:
            options.apply(self.client)  # TLS, credentials, last will: before the connect
        self.client.connect(host, port, keepalive=30)
        set_nodelay(self.client)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            self.close()
            raise CapabilityFailed(f"MQTT broker {self.broker} did not accept the connection")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not getattr(reason, "is_failure", False):
            set_nodelay(client)  # a reconnect made a new socket
            self.connected.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        # Checked on arrival against the grants in force now, not the ones of subscribe():
        # a message on a topic the plugin no longer may read is never queued.
        if not self.admits(self.broker, str(message.topic)):
            return
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

    def reserve(self, size: int) -> None:
        """Count a publish against the pending budget, or refuse it (the broker is not reading)."""
        with self._pending_lock:
            if len(self._pending) >= MAX_PENDING_MESSAGES or self.pending_bytes + size > MAX_PENDING_BYTES:
                raise CapabilityFailed(
                    f"MQTT broker {self.broker} is not keeping up: {len(self._pending)} messages "
                    f"({self.pending_bytes} bytes) are still waiting to be sent; this publish was dropped "
                    f"(budget: {MAX_PENDING_MESSAGES} messages, {MAX_PENDING_BYTES} bytes)"
                )

    def track(self, mid: int, size: int, rc: int) -> None:
        with self._pending_lock:
            if rc == paho.MQTT_ERR_SUCCESS and mid not in self._pending:
                self._pending[mid] = size
                self.pending_bytes += size

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any = None, props: Any = None) -> None:
        with self._pending_lock:
            self.pending_bytes -= self._pending.pop(mid, 0)

    @property
    def pending_messages(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        try:
            self.client.disconnect()
            # A broker that stopped reading would hold the DISCONNECT (queued behind what is
            # pending) and paho's thread with it, for 30 s: shut the socket so both end now.
            sock = self.client.socket()
            if isinstance(sock, socket.socket):  # TLS sockets too; a websocket wrapper has no shutdown
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.client.loop_stop()
        except Exception:
            pass


class MqttCapability(Capability):
    obj_name = "mqtt"
    capability = "network"
    methods: ClassVar[frozenset[str]] = frozenset({"configure", "publish", "subscribe", "unsubscribe", "messages"})
    #: ``configure`` only records how to connect (it reaches nothing until a publish).
    without_grant: ClassVar[frozenset[str]] = frozenset({"configure"})

    def __init__(self, ctx: CapabilityContext) -> None:
        super().__init__(ctx)
        self._connections: dict[tuple[str, int], _Connection] = {}
        self._inbox: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_QUEUE)
        self._inbox_lock = threading.Lock()
        self._options: dict[tuple[str, int], ConnectOptions] = {}
        #: the grants in force now, also between requests (paho's thread reads them)
        self._live: Grants = ctx.grants

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
        tls = False
        if broker is None:
            if len(allowed) != 1:
                raise self.deny(action, "", f"name the broker: the plugin has {len(allowed)} granted brokers")
            key = allowed[0]
        else:
            text = require_str(broker, "broker", 300)
            try:
                parsed = parse_broker_url(text)
            except (ScopeError, ValueError) as exc:
                raise self.deny(action, text, str(exc)) from None
            key, tls = parsed.key, parsed.tls
        if key in denied or key not in allowed:
            raise self.deny(
                action,
                f"{key[0]}:{key[1]}",
                "broker is explicitly denied" if key in denied else f"broker is {self.scope_hint('brokers')}",
            )
        conn = self._connections.get(key)
        if conn is None:
            options = self._options.get(key) or ConnectOptions()
            if tls and not options.tls:
                options = dataclasses.replace(options, tls=True)
            if options.will is not None:
                self._check_publish("publish", options.will.topic)  # the broker sends it for us
            try:
                conn = _Connection(
                    self.ctx.plugin, key[0], key[1], self.ctx.remaining(None, 5.0), self._inbox, self._admits, options
                )
            except ssl.SSLError as exc:
                raise CapabilityFailed(f"TLS with MQTT broker {key[0]}:{key[1]} failed: {exc.reason or exc}") from None
            except OSError as exc:
                raise CapabilityFailed(f"cannot connect to MQTT broker {key[0]}:{key[1]}: {exc}") from None
            self._connections[key] = conn
        return conn

    def configure(
        self,
        broker: Any,
        username: Any = None,
        password: Any = None,
        ca_file: Any = None,
        will_topic: Any = None,
        will_payload: Any = "offline",
    ) -> dict[str, Any]:
        """How to connect to ``broker`` (``mqtts://`` for TLS): credentials, a CA file to trust
        (within the plugin's read scope), a retained last will. Takes effect on the next connect."""
        text = require_str(broker, "broker", 300)
        try:
            parsed = parse_broker_url(text)
        except ScopeError as exc:
            raise self.deny("configure", text, str(exc)) from None
        ca_data = None
        if ca_file is not None:
            from .fs import FsCapability

            fd, _shown = FsCapability(self.ctx)._open("configure", ca_file, os.O_RDONLY, False)
            with os.fdopen(fd, "rb") as fh:
                ca_data = fh.read(1024 * 1024).decode("ascii", "replace")
        will = None
        if will_topic is not None:
            will_topic = require_str(will_topic, "will_topic", 65535)
            try:
                check_topic(will_topic)
            except ScopeError as exc:
                raise self.deny("configure", will_topic, str(exc)) from None
            will = Will(will_topic, require_str(will_payload, "will_payload", MAX_PAYLOAD))
        self._options[parsed.key] = ConnectOptions(
            tls=parsed.tls,
            username=require_str(username, "username", 1024) if username is not None else None,
            password=require_str(password, "password", 4096) if password is not None else None,
            ca_data=ca_data,
            will=will,
        )
        old = self._connections.pop(parsed.key, None)
        if old is not None:
            old.close()  # reconnect with the new options on the next publish
        self.audit("configure", "allowed", parsed.name, "tls" if parsed.tls else "plain")
        return {"broker": parsed.name, "tls": parsed.tls}

    def _check_publish(self, action: str, topic: str) -> None:
        try:
            check_topic(topic)
        except ScopeError as exc:
            raise self.deny(action, topic, str(exc)) from None
        grants = self.ctx.grants
        if any(topic_matches(f, topic) for f in grants.deny.publish):
            raise self.deny(action, topic, "topic is explicitly denied")
        if not any(topic_matches(f, topic) for f in grants.allow.publish):
            raise self.deny(action, topic, f"topic is {self.scope_hint('publish')}")

    def publish(self, topic: Any, payload: Any = "", qos: Any = 0, retain: Any = False, broker: Any = None) -> bool:
        topic = require_str(topic, "topic", 65535)
        self._check_publish("publish", topic)
        text = require_str(payload if isinstance(payload, str) else _json(payload), "payload", MAX_PAYLOAD)
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        conn = self._broker("publish", broker)
        data = text.encode("utf-8")
        conn.reserve(len(data))
        info = conn.client.publish(topic, data, qos=int(qos), retain=bool(retain))
        conn.track(info.mid, len(data), info.rc)
        if qos:
            info.wait_for_publish(self.ctx.remaining(None, 5.0))
        self.audit(
            "publish",
            "allowed",
            f"{conn.broker}/{topic}",
            f"{len(text)} chars, qos {qos}{', retained' if retain else ''}",
        )
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
        conn.filters.add(topic_filter)
        self.audit("subscribe", "allowed", f"{conn.broker}/{topic_filter}")
        return rc == paho.MQTT_ERR_SUCCESS

    def unsubscribe(self, topic: Any, broker: Any = None) -> bool:
        topic_filter = require_str(topic, "topic", 65535)
        conn = self._broker("unsubscribe", broker)
        rc, _mid = conn.client.unsubscribe(topic_filter)
        conn.filters.discard(topic_filter)
        return rc == paho.MQTT_ERR_SUCCESS

    def messages(self, limit: Any = 100) -> list[dict[str, Any]]:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be a positive integer")
        out: list[dict[str, Any]] = []
        while self._inbox and len(out) < min(limit, MAX_QUEUE):
            message = self._inbox.popleft()
            # Belt and braces: a broker may deliver retained or overlapping-subscription
            # messages, or ones queued just before a grant was narrowed; only a topic the
            # grants in force now allow reaches the plugin.
            if self._admits(message["broker"], message["topic"]):
                out.append(message)
        return out

    def _admits(self, broker: str, topic: str) -> bool:
        grants = self._live
        if any(topic_matches(f, topic) for f in grants.deny.subscribe):
            return False
        if not any(topic_matches(f, topic) for f in grants.allow.subscribe):
            return False
        return grants.has(self.capability or "") and broker in _broker_names(grants)

    def grants_changed(self, grants: Grants) -> None:
        """A grant changed (any thread): drop at once every subscription it no longer covers,
        and every connection to a broker it no longer names, so nothing more arrives from them."""
        self._live = grants
        brokers = _broker_names(grants) if grants.has(self.capability or "") else set()
        for key, conn in list(self._connections.items()):
            if conn.broker not in brokers:
                self._connections.pop(key, None)
                conn.close()
                self.audit("unsubscribe", "revoked", conn.broker, "broker no longer granted")
                continue
            for topic_filter in sorted(conn.filters):
                covered = any(filter_covers(f, topic_filter) for f in grants.allow.subscribe)
                if covered and not any(filters_overlap(f, topic_filter) for f in grants.deny.subscribe):
                    continue
                conn.filters.discard(topic_filter)
                try:
                    conn.client.unsubscribe(topic_filter)
                except Exception:  # the message filter above still keeps them out
                    pass
                self.audit("unsubscribe", "revoked", f"{conn.broker}/{topic_filter}", "no longer in the grant")
        with self._inbox_lock:
            kept = [m for m in self._inbox if self._admits(m["broker"], m["topic"])]
            self._inbox.clear()
            self._inbox.extend(kept)

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()


def _broker_names(grants: Grants) -> set[str]:
    names = set()
    for entry in grants.allow.brokers:
        try:
            host, port = parse_broker(entry)
        except (ScopeError, ValueError):
            continue
        names.add(f"{host}:{port}")
    for entry in grants.deny.brokers:
        try:
            host, port = parse_broker(entry)
        except (ScopeError, ValueError):
            continue
        names.discard(f"{host}:{port}")
    return names


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))
