"""The audit log: one JSON line per grant, denial and use of a capability, rotated by size.

It lives at ``Home.audit`` (``<home>/logs/audit.jsonl``); the caller, which holds the Home, names
the path. Lines are small and plain so ``grep`` and ``jq`` answer "what did this plugin do?".
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from pathlib import Path
from typing import Any

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_BACKUPS = 3
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

    def record(
        self, plugin: str, capability: str, action: str, outcome: str, target: str = "", detail: str = ""
    ) -> None:
        """``outcome`` is one of allowed, denied, error, granted, revoked."""
        entry = {
            "ts": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
            "plugin": plugin,
            "capability": capability,
            "action": action,
            "outcome": outcome,
            "target": _short(target),
            "detail": _short(detail),
        }
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        # One record, one line, for every reader: json leaves U+0085/U+2028/U+2029 raw, and
        # str.splitlines() breaks lines there, so a plugin could split (and so hide) its own
        # records by putting one in a path or URL. Escaped, they are the same JSON string.
        line = line.translate(_LINE_BREAKS) + "\n"
        data = line.encode("utf-8")
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    size = self.path.stat().st_size
                except FileNotFoundError:
                    size = 0
                if size and size + len(data) > self.max_bytes:
                    self._rotate()
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
            except OSError:
                # An unwritable audit log must not take a plugin action down with it; the
                # daemon's own log reports the disk problem.
                import logging

                logging.getLogger("midimon.sandbox.audit").warning("cannot write audit log %s", self.path)

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
