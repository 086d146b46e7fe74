"""What keeps an HTTP request inside its call: a total deadline and a bounded decoder.

httpx's timeouts are per operation: a body trickled one byte every 0.9 s never trips a read
timeout, so a 5 s call ran 18 s. ``DeadlineBackend`` is the network back end of the plugin's
client: it caps each connect at the call's remaining time and, through the shared watchdog,
shuts the sockets down when the call's deadline passes, whatever phase the request is in.

httpx decodes ``Content-Encoding`` with no output limit, and stacks as many encodings as the
server names: 265 bytes of ``gzip, gzip, gzip`` became 2 GiB in the daemon. ``read_body`` reads
the raw bytes and decodes at most one encoding (gzip or deflate) with an output cap.
"""

from __future__ import annotations

import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from ..errors import CapabilityFailed
from ..watchdog import WATCHDOG

_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class _Stream(httpcore.NetworkStream):
    """A stream the backend can shut down from the watchdog's thread."""

    def __init__(self, inner: httpcore.NetworkStream, backend: DeadlineBackend) -> None:
        self.inner, self.backend = inner, backend
        backend.track(self)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, self.backend.cap(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.backend.cap(timeout))

    def close(self) -> None:
        self.backend.untrack(self)
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        self.backend.untrack(self)
        return _Stream(self.inner.start_tls(ssl_context, server_hostname, self.backend.cap(timeout)), self.backend)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)

    def shutdown(self) -> None:
        sock = self.inner.get_extra_info("socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv/send in the other thread
            except OSError:
                pass


class DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self._streams: set[_Stream] = set()
        self._lock = threading.Lock()
        self.deadline = 0.0
        self.expired = False

    def cap(self, timeout: float | None) -> float:
        """``timeout`` never past the deadline of the request under way."""
        if not self.deadline:
            return timeout if timeout is not None else 30.0
        left = max(0.01, self.deadline - time.monotonic())
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, self.cap(timeout), local_address, socket_options)
        return _Stream(stream, self)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not reachable from plugins")

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, self.cap(seconds)))

    def track(self, stream: _Stream) -> None:
        with self._lock:
            self._streams.add(stream)

    def untrack(self, stream: _Stream) -> None:
        with self._lock:
            self._streams.discard(stream)

    def _expire(self) -> None:
        self.expired = True
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.shutdown()

    @contextmanager
    def until(self, deadline: float) -> Iterator[None]:
        """Everything inside finishes by ``deadline`` (monotonic): the sockets are shut down then."""
        self.deadline, self.expired = deadline, False
        token = WATCHDOG.arm(deadline, self._expire)
        try:
            yield
        finally:
            WATCHDOG.disarm(token)
            self.deadline = 0.0


def client(backend: DeadlineBackend) -> httpx.Client:
    """An httpx client whose connections all go through ``backend``."""
    transport = httpx.HTTPTransport(trust_env=False)
    pool = transport._pool  # httpx 0.28 offers no public way to pass a network back end
    if not hasattr(pool, "_network_backend"):
        raise RuntimeError("this httpcore version cannot take a network back end; the http capability needs one")
    pool._network_backend = backend
    # trust_env=False: HTTP(S)_PROXY and .netrc of the daemon's environment must not route or
    # authenticate a plugin's requests. Redirects are followed by hand by the caller.
    return httpx.Client(transport=transport, trust_env=False, follow_redirects=False)


def read_body(response: httpx.Response, limit: int) -> bytes:
    """The decoded body, at most ``limit`` bytes before and after decoding, or CapabilityFailed."""
    encodings = [e.strip().lower() for e in response.headers.get("content-encoding", "").split(",") if e.strip()]
    encodings = [e for e in encodings if e != "identity"]
    if len(encodings) > 1:
        raise CapabilityFailed(
            f"the response names {len(encodings)} content encodings ({', '.join(encodings)}); at most one is accepted"
        )
    if encodings and encodings[0] not in _DECODERS:
        raise CapabilityFailed(f"content encoding {encodings[0]!r} is not supported (gzip and deflate are)")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise CapabilityFailed(f"response is {declared} bytes; the limit is {limit}")
    wbits = _DECODERS[encodings[0]] if encodings else None
    decoder = zlib.decompressobj(wbits) if wbits is not None else None
    out = bytearray()
    raw = 0
    first = True
    for chunk in response.iter_raw():
        raw += len(chunk)
        if raw > limit:
            raise CapabilityFailed(f"response is larger than {limit} bytes")
        if decoder is None:
            out += chunk
        else:
            try:
                out += decoder.decompress(chunk, limit + 1 - len(out))
            except zlib.error:
                if not (first and wbits == zlib.MAX_WBITS):
                    raise CapabilityFailed("the response body is not valid compressed data") from None
                decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # deflate sent without its zlib header
                out += decoder.decompress(chunk, limit + 1 - len(out))
            if decoder.unconsumed_tail:
                raise CapabilityFailed(f"the response decodes to more than {limit} bytes")
        first = False
        if len(out) > limit:
            raise CapabilityFailed(f"the response decodes to more than {limit} bytes")
    if decoder is not None:
        out += decoder.flush(limit + 1 - len(out))
        if len(out) > limit:
            raise CapabilityFailed(f"the response decodes to more than {limit} bytes")
    return bytes(out)
