"""The UI server's side of the control socket: async, one connection per request or stream.

A fresh connection per call keeps the UI stateless and lets it follow a daemon that restarts
(a new socket, a new pid) without noticing anything but one failed call.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from midimon.config.errors import MidimonError

READ_LIMIT = 8 << 20  # bytes in one answer line (a plugin list with schemas can be large)
CALL_TIMEOUT_S = 30.0


class DaemonDown(MidimonError):
    """Nothing answers on the control socket."""


class DaemonRefused(MidimonError):
    """The daemon answered ``ok: false``; ``error`` is its error object as sent."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        self.code = str(error.get("code", "error"))
        super().__init__(str(error.get("message", "the request failed")))


class DaemonClient:
    def __init__(self, socket_path: Path) -> None:
        self.path = socket_path
        self._ids = itertools.count(1)

    def down_message(self) -> str:
        return f"midimon is not running (nothing answers on {self.path}); start it with `midimon run`"

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.open_unix_connection(str(self.path), limit=READ_LIMIT)
        except (FileNotFoundError, ConnectionRefusedError, OSError):
            raise DaemonDown(self.down_message()) from None

    async def call(self, command: str, args: dict[str, Any] | None = None, timeout: float = CALL_TIMEOUT_S) -> Any:
        """The result of one command; raises DaemonDown or DaemonRefused."""
        reader, writer = await self._open()
        try:
            rid = next(self._ids)
            await _write(writer, rid, command, args)
            while True:
                answer = await asyncio.wait_for(_read(reader), timeout)
                if answer.get("id") in (rid, None):
                    break
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError) as exc:
            raise DaemonDown(f"midimon stopped answering ({type(exc).__name__}); is it still running?") from None
        finally:
            writer.close()
        if not answer.get("ok"):
            raise DaemonRefused(answer.get("error") or {})
        return answer.get("result")

    async def stream(self, command: str, args: dict[str, Any] | None = None) -> AsyncIterator[dict[str, Any]]:
        """The first answer's result, then every line the daemon streams after it."""
        reader, writer = await self._open()
        try:
            rid = next(self._ids)
            await _write(writer, rid, command, args)
            answer = await asyncio.wait_for(_read(reader), CALL_TIMEOUT_S)
            if not answer.get("ok"):
                raise DaemonRefused(answer.get("error") or {})
            yield {"result": answer.get("result")}
            while True:
                try:
                    yield await _read(reader)
                except (ConnectionError, asyncio.IncompleteReadError):
                    return
        except (TimeoutError, ConnectionError):
            raise DaemonDown(self.down_message()) from None
        finally:
            writer.close()


async def _write(writer: asyncio.StreamWriter, rid: int, command: str, args: dict[str, Any] | None) -> None:
    writer.write((json.dumps({"id": rid, "command": command, "args": args or {}}) + "\n").encode())
    await writer.drain()


async def _read(reader: asyncio.StreamReader) -> dict[str, Any]:
    line = await reader.readline()
    if not line:
        raise asyncio.IncompleteReadError(b"", None)
    data = json.loads(line)
    return data if isinstance(data, dict) else {"value": data}
