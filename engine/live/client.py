"""A small client for the control socket (the CLI and tests use it; so can other tools).

This module is the whole of what a thin CLI command imports to talk to the daemon: the
standard library's ``socket`` and ``json`` and midimon's error base and ``Home``. Keep it so:
anything heavier here is paid by every `midimon send` a Stream Deck button runs
(tests/test_thin_client.py guards it).
"""

from __future__ import annotations

import itertools
import json
import socket
from pathlib import Path

from midimon.config.errors import MidimonError

TYPE_CHECKING = False  # not `from typing import`: typing is 4 ms of a CLI start
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any


class NotRunning(MidimonError):
    """Nothing answers on the socket: the daemon is not running (or runs for another home)."""


class RequestFailed(MidimonError):
    """The daemon answered ``ok: false``; ``code`` and ``error`` say why."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        self.code = error.get("code", "error")
        super().__init__(error.get("message", "the request failed"))


class Client:
    """One connection to the control socket; requests are NDJSON lines with an ``id``."""

    def __init__(self, path: Path | str, timeout: float = 10.0) -> None:
        self.path = Path(path)  # the caller's Home says where: ``home.socket``
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._sock: socket.socket | None = None
        self._buf = b""

    def connect(self) -> Client:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            raise NotRunning(
                f"midimon is not running (nothing answers on {self.path}); start it with `midimon run`"
            ) from None
        except OSError as exc:
            s.close()
            raise NotRunning(f"cannot reach midimon at {self.path}: {exc}") from None
        self._sock = s
        return self

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Client:
        return self.connect() if self._sock is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connected(self) -> socket.socket:
        if self._sock is None:
            self.connect()
        assert self._sock is not None
        return self._sock

    def _send(self, command: str, args: dict[str, Any] | None) -> int:
        sock = self._connected()
        rid = next(self._ids)
        line = json.dumps({"id": rid, "command": command, "args": args or {}}) + "\n"
        sock.sendall(line.encode())
        return rid

    def read(self, timeout: float | None = None) -> dict[str, Any]:
        """The next line from the daemon, as a dict."""
        sock = self._connected()
        if timeout is not None:
            sock.settimeout(timeout)
        while b"\n" not in self._buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise MidimonError("midimon closed the connection")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def request(
        self, command: str, args: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """The full answer ({"id", "ok", ...}); does not raise when ok is false."""
        rid = self._send(command, args)
        while True:
            answer = self.read(timeout if timeout is not None else self.timeout)
            if answer.get("id") in (rid, None):
                return answer

    def call(self, command: str, args: dict[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        """The result; raises RequestFailed when the daemon says no."""
        answer = self.request(command, args, timeout=timeout)
        if not answer.get("ok"):
            raise RequestFailed(answer.get("error") or {})
        return answer.get("result")

    def stream(self, command: str, args: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Send a streaming command (monitor, watch) and yield every line after the answer."""
        answer = self.request(command, args)
        if not answer.get("ok"):
            raise RequestFailed(answer.get("error") or {})
        self._connected().settimeout(None)
        while True:
            try:
                yield self.read(None)
            except MidimonError:
                return
