"""A real MQTT subscriber for tests: collects what the broker delivers (topic, payload, qos,
retain) on a background paho loop."""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as paho


class Subscriber:
    def __init__(
        self, host: str, port: int, *topics: str, ca: str | None = None, user: tuple[str, str] | None = None
    ) -> None:
        self.messages: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = paho.Client(callback_api_version=paho.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4()}")
        if ca:
            self.client.tls_set_context(ssl.create_default_context(cafile=ca))
        if user:
            self.client.username_pw_set(*user)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        for topic in topics:
            self._subscribed.clear()
            self.client.subscribe(topic, qos=2)
            if not self._subscribed.wait(5):
                raise TimeoutError(f"no SUBACK for {topic}")

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._cond:
            self.messages.append(
                {
                    "topic": message.topic,
                    "payload": message.payload.decode(),
                    "qos": message.qos,
                    "retain": bool(message.retain),
                    "at": time.perf_counter(),
                }
            )
            self._cond.notify_all()

    def wait(self, predicate: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The messages so far, once ``predicate(messages)`` holds (or AssertionError)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"not seen within {timeout} s; got {self.messages}")
                self._cond.wait(left)
            return list(self.messages)

    def on(self, topic: str) -> list[dict[str, Any]]:
        with self._cond:
            return [m for m in self.messages if m["topic"] == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
