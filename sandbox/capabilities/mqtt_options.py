"""How a plugin's MQTT connection is made: the broker URL, TLS, credentials, the last will, and
TCP_NODELAY.

A broker is ``host:port``, ``mqtt://host[:1883]`` or ``mqtts://host[:8883]`` (TLS, checked
against the system's CAs or a CA file). The scope check only looks at host and port: TLS changes
how, not where. The CA file is read by the host within the plugin's read scope (its data folder,
or ``read_paths`` of a filesystem grant), like any file a plugin names. The last will must be a
topic the plugin may publish to: the broker publishes it on the plugin's behalf.

TCP_NODELAY: paho leaves Nagle's algorithm on, so a small publish waits for the previous
segment's ACK; on loopback mosquitto a QoS 1 publish->ack round trip took 88 ms with it and under
1 ms without. It is set on every (re)connect.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
from typing import Any

from .scopes import ScopeError, normalise_host

SCHEMES = {"mqtt": (False, 1883), "tcp": (False, 1883), "mqtts": (True, 8883), "ssl": (True, 8883)}


@dataclasses.dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool

    @property
    def key(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


def parse_broker_url(text: str) -> Broker:
    """``host:port`` / ``mqtt://host:port`` / ``mqtts://host:port`` -> Broker (host normalised)."""
    text = text.strip()
    tls, default_port = False, 1883
    if "://" in text:
        scheme, text = text.split("://", 1)
        if scheme.lower() not in SCHEMES:
            raise ScopeError(f"broker scheme {scheme!r} is not supported; use mqtt://, mqtts:// or host:port")
        tls, default_port = SCHEMES[scheme.lower()]
    text = text.rstrip("/")
    if "/" in text or "@" in text:
        raise ScopeError("a broker is host:port (credentials go in the plugin's settings, not the URL)")
    if text.startswith("["):  # [::1]:1883
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if not host:
        raise ScopeError("the broker has no host")
    if port and not port.isdigit():
        raise ScopeError(f"broker port {port!r} is not a number")
    number = int(port) if port else default_port
    if not 0 < number < 65536:
        raise ScopeError(f"broker port {number} is out of range")
    return Broker(normalise_host(host), number, tls)


@dataclasses.dataclass(frozen=True)
class Will:
    topic: str
    payload: str
    qos: int = 1
    retain: bool = True


@dataclasses.dataclass(frozen=True)
class ConnectOptions:
    tls: bool = False
    username: str | None = None
    password: str | None = None
    #: PEM bytes of the CA to trust (read by the host); None: the system's CAs
    ca_data: str | None = None
    will: Will | None = None

    def apply(self, client: Any) -> None:
        """Set credentials, TLS and the will on a paho client before it connects."""
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            context = ssl.create_default_context(cadata=self.ca_data) if self.ca_data else ssl.create_default_context()
            client.tls_set_context(context)
        if self.will is not None:
            client.will_set(self.will.topic, self.will.payload, qos=self.will.qos, retain=self.will.retain)


def set_nodelay(client: Any) -> None:
    """Turn Nagle off on the client's socket (plain or TLS); nothing to do before it exists."""
    sock = client.socket()
    if sock is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass  # not a TCP socket (a test double, a unix socket): nothing to tune
