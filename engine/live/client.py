"""A small client for the control socket (the CLI and tests use it; so can other tools)."""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from midimon.engine.errors import MidimonError


class NotRunning(MidimonError):
    pass


class RequestFailed(MidimonError):
    def __init__(self, error: dict) -> None:
        self.error = error
        self.code = error.get("code", "error")
        super().__init__(error.get("message", "the request failed"))


class Client:
    def __init__(self, path: Path | str | None = None, timeout: float = 10.0) -> None:
        if path is None:
            from midimon.config import paths

            path = paths.socket_path()
        self.path = Path(path)
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

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, command: str, args: dict | None) -> int:
        if self._sock is None:
            self.connect()
        rid = next(self._ids)
        line = json.dumps({"id": rid, "command": command, "args": args or {}}) + "\n"
        self._sock.sendall(line.encode())
        return rid

    def read(self, timeout: float | None = None) -> dict:
        """The next line from the daemon, as a dict."""
        if timeout is not None:
            self._sock.settimeout(timeout)
        while b"\n" not in self._buf:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise MidimonError("midimon closed the connection")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def request(self, command: str, args: dict | None = None, *, timeout: float | None = None) -> dict:
        """The full answer ({"id", "ok", ...}); does not raise when ok is false."""
        rid = self._send(command, args)
        while True:
            answer = self.read(timeout if timeout is not None else self.timeout)
            if answer.get("id") in (rid, None):
                return answer

    def call(self, command: str, args: dict | None = None, *, timeout: float | None = None) -> Any:
        """The result; raises RequestFailed when the daemon says no."""
        answer = self.request(command, args, timeout=timeout)
        if not answer.get("ok"):
            raise RequestFailed(answer.get("error") or {})
        return answer.get("result")

    def stream(self, command: str, args: dict | None = None) -> Iterator[dict]:
        """Send a streaming command (monitor) and yield every line after the answer."""
        answer = self.request(command, args)
        if not answer.get("ok"):
            raise RequestFailed(answer.get("error") or {})
        self._sock.settimeout(None)
        while True:
            try:
                yield self.read(None)
            except MidimonError:
                return
