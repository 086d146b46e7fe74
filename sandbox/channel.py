"""Length-prefixed JSON over a Unix socket: the only thing that crosses between host and worker.

JSON, not pickle: decoding can only ever produce dicts, lists, strings, numbers, booleans and
None, so no live object and no code can cross, whatever the other side sends. Each message is a
4-byte big-endian length and a UTF-8 JSON body, written with one ``sendall`` so a message is one
syscall on each side in the common case (this is what keeps a call near 50 µs).
"""
from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any

_HEADER = struct.Struct(">I")
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                           check_circular=True).encode
_decode = json.JSONDecoder().decode


class ChannelClosed(Exception):
    """The other side closed the connection (a worker died, or the host went away)."""


class ChannelTimeout(Exception):
    """No complete message arrived before the deadline."""


class ProtocolError(Exception):
    """The other side sent something that is not a valid message (too big, not JSON, ...)."""


def encode_message(message: Any, limit: int) -> bytes:
    """Serialise plain data; raise ``ValueError`` for anything that is not plain or too big."""
    try:
        body = _encode(message).encode("utf-8")
    except (TypeError, ValueError, RecursionError, OverflowError) as exc:
        raise ValueError(f"only plain data (dict, list, str, int, float, bool, None) can cross "
                         f"the sandbox: {exc}") from None
    if len(body) > limit:
        raise ValueError(f"message of {len(body)} bytes is larger than the {limit} byte limit")
    return _HEADER.pack(len(body)) + body


class Channel:
    """One end of the socket. Not thread-safe: the owner serialises use."""

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self.sock = sock
        self.limit = limit
        self._buf = bytearray()

    def send(self, message: Any) -> None:
        self.send_raw(encode_message(message, self.limit))

    def send_raw(self, frame: bytes) -> None:
        try:
            self.sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise ChannelClosed(str(exc)) from None

    def recv(self, deadline: float | None = None) -> Any:
        """Next message; ``deadline`` is a ``time.monotonic()`` value or None to block."""
        while True:
            if len(self._buf) >= 4:
                (size,) = _HEADER.unpack_from(self._buf)
                if size > self.limit:
                    raise ProtocolError(f"message of {size} bytes exceeds the {self.limit} limit")
                if len(self._buf) >= 4 + size:
                    body = bytes(self._buf[4:4 + size])
                    del self._buf[:4 + size]
                    try:
                        return _decode(body.decode("utf-8"))
                    except (ValueError, RecursionError) as exc:
                        raise ProtocolError(f"message is not valid JSON: {exc}") from None
            self._fill(deadline)

    def _fill(self, deadline: float | None) -> None:
        if deadline is None:
            self.sock.settimeout(None)
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout()
            self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(262144)
        except socket.timeout:
            raise ChannelTimeout() from None
        except (ConnectionResetError, OSError) as exc:
            raise ChannelClosed(str(exc)) from None
        if not chunk:
            raise ChannelClosed("connection closed")
        self._buf += chunk

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
