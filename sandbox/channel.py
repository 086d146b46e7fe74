"""Length-prefixed JSON over a Unix socket: the only thing that crosses between host and worker.

JSON, not pickle: decoding can only ever produce dicts, lists, strings, numbers, booleans and
None, so no live object and no code can cross, whatever the other side sends. Each message is a
4-byte big-endian length and a UTF-8 JSON body, written with one ``sendall`` so a message is one
syscall on each side in the common case (this is what keeps a call near 50 µs).
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time
from typing import Any

_HEADER = struct.Struct(">I")
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=True).encode
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
        raise ValueError(
            f"only plain data (dict, list, str, int, float, bool, None) can cross the sandbox: {exc}"
        ) from None
    if len(body) > limit:
        raise ValueError(f"message of {len(body)} bytes is larger than the {limit} byte limit")
    return _HEADER.pack(len(body)) + body


class Channel:
    """One end of the socket. Not thread-safe: the owner serialises use.

    The socket is non-blocking and waited on with ``poll``: a socket timeout would cost an
    extra ``ioctl`` per message to switch modes, which is measurable at this latency.
    """

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self.sock = sock
        self.limit = limit
        self._buf = bytearray()
        # recv_into a buffer kept for the channel's life: sock.recv(n) allocates n bytes per
        # call, and above malloc's mmap threshold that is an mmap/munmap pair per message.
        self._chunk = bytearray(65536)
        self._chunk_view = memoryview(self._chunk)
        sock.setblocking(False)
        self._fd = sock.fileno()
        self._poll_in = select.poll()
        self._poll_in.register(self._fd, select.POLLIN)
        #: bytes of the last message received (the host's receive budget counts them)
        self.last_size = 0

    def send(self, message: Any) -> None:
        self.send_raw(encode_message(message, self.limit))

    def send_raw(self, frame: bytes) -> None:
        view = memoryview(frame)
        try:
            while view:
                try:
                    sent = self.sock.send(view)
                except BlockingIOError:
                    out = select.poll()
                    out.register(self._fd, select.POLLOUT)
                    out.poll(1000)
                    continue
                view = view[sent:]
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
                    body = bytes(self._buf[4 : 4 + size])
                    del self._buf[: 4 + size]
                    self.last_size = size
                    try:
                        return _decode(body.decode("utf-8"))
                    except (ValueError, RecursionError) as exc:
                        raise ProtocolError(f"message is not valid JSON: {exc}") from None
            self._fill(deadline)

    def _fill(self, deadline: float | None) -> None:
        if deadline is None:
            timeout_ms = -1
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout()
            timeout_ms = max(1, int(remaining * 1000 + 0.999))
        try:
            if not self._poll_in.poll(timeout_ms):
                raise ChannelTimeout()
            count = self.sock.recv_into(self._chunk)
        except BlockingIOError:
            return
        except InterruptedError:
            return
        except (ConnectionResetError, OSError) as exc:
            raise ChannelClosed(str(exc)) from None
        if not count:
            raise ChannelClosed("connection closed")
        self._buf += self._chunk_view[:count]

    def close(self) -> None:
        try:
            self._poll_in.unregister(self._fd)
        except (KeyError, ValueError, OSError):
            pass
        try:
            self.sock.close()
        except OSError:
            pass
