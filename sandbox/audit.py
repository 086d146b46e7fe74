"""The audit log: one JSON line per grant, denial and use of a capability, rotated by size.

It lives at ``Home.audit`` (``<home>/logs/audit.jsonl``); the caller, which holds the Home, names
the path. Lines are small and plain so ``grep`` and ``jq`` answer "what did this plugin do?".

Polling cannot flood it: a record identical to the one just written (same plugin, capability,
action, outcome, target and detail) is folded into it, which then carries ``count`` and the
``first`` and ``last`` times; the line is rewritten in place, so the file does not grow. Rotation
keeps the current file and two full backups of ``max_bytes`` (10 MiB): at least the last 20 MiB.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 2
_MAX_FIELD = 500
_LINE_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_FIELD:
        return value[:_MAX_FIELD] + "…"
    return value


class AuditLog:
    """Thread-safe append-only JSON-lines file with size-based rotation (file.1 ... file.N)."""

    def __init__(self, path: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        # The record last written, for folding: its key, its first time and count, and where
        # its line sits (inode, start, end). Folding happens only while the file still ends
        # with that line (another process, e.g. the CLI, may have appended since).
        self._last: tuple[Any, ...] | None = None
        self._first = ""
        self._count = 0
        self._span: tuple[int, int, int] = (0, 0, 0)

    def record(
        self, plugin: str, capability: str, action: str, outcome: str, target: str = "", detail: str = ""
    ) -> None:
        """``outcome`` is one of allowed, denied, error, granted, revoked."""
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        key = (plugin, capability, action, outcome, _short(target), _short(detail))
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)  # the CLI appends to the same file
                    self._write(fd, key, now)
                finally:
                    os.close(fd)
            except OSError:
                # An unwritable audit log must not take a plugin action down with it; the
                # daemon's own log reports the disk problem.
                import logging

                logging.getLogger("midimon.sandbox.audit").warning("cannot write audit log %s", self.path)

    def _write(self, fd: int, key: tuple[Any, ...], now: str) -> None:
        st = os.fstat(fd)
        inode, start, end = self._span
        fold = key == self._last and st.st_ino == inode and st.st_size == end
        if fold:
            self._count += 1
        else:
            self._last, self._first, self._count, start = key, now, 1, st.st_size
        entry: dict[str, Any] = {"ts": self._first}
        entry.update(zip(("plugin", "capability", "action", "outcome", "target", "detail"), key, strict=True))
        if self._count > 1:
            entry.update(count=self._count, first=self._first, last=now)
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        # One record, one line, for every reader: json leaves U+0085/U+2028/U+2029 raw, and
        # str.splitlines() breaks lines there, so a plugin could split (and so hide) its own
        # records by putting one in a path or URL. Escaped, they are the same JSON string.
        data = (line.translate(_LINE_BREAKS) + "\n").encode("utf-8")
        if not fold and start and start + len(data) > self.max_bytes:
            self._rotate()  # the open fd now names the backup; the record starts a new file
            self._write_new(data)
            return
        if fold:
            os.ftruncate(fd, start)  # the folded record replaces its own line
        os.write(fd, data)
        self._span = (st.st_ino, start, start + len(data))

    def _write_new(self, data: bytes) -> None:
        """The first record of a freshly rotated file."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            self._span = (os.fstat(fd).st_ino, 0, len(data))
        finally:
            os.close(fd)

    def grant(self, plugin: str, capability: str, granted: bool = True, detail: str = "") -> None:
        """For the CLI: record a grant or a revocation."""
        self.record(
            plugin, capability, "grant" if granted else "revoke", "granted" if granted else "revoked", detail=detail
        )

    def _rotate(self) -> None:
        for index in range(self.backups, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{index - 1}") if index > 1 else self.path
            dst = self.path.with_name(f"{self.path.name}.{index}")
            if src.exists():
                os.replace(src, dst)
        if self.backups == 0:
            self.path.unlink(missing_ok=True)

    def read(self) -> list[dict[str, Any]]:
        """All records in the current file (tests and the UI)."""
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]
