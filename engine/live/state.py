"""``MIDIMON_HOME/state.json``: the mode, statistics and recent errors, kept across restarts.

Written atomically by :func:`midimon.config.atomic.write_atomic` (a temporary file in the same
folder, fsync, rename, fsync of the folder), so a crash or SIGKILL at any instant leaves either
the old file or the new one, never half of one. A file that does not parse is moved aside with a
warning; it never stops the daemon.
Writes happen on one background thread and are coalesced: the engine loop only flags them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from midimon.config.atomic import write_atomic

log = logging.getLogger("midimon.state")

VERSION = 1


def write_state(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` as JSON so that readers see the old or the new file."""
    write_atomic(path, json.dumps(data, indent=1, default=str, ensure_ascii=False), 0o600)


def read_state(path: Path) -> dict[str, Any] | None:
    """The saved state, or None. A corrupt file is moved aside (``state.json.corrupt-<time>``)."""
    # leftovers of writes interrupted by a crash
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            leftover.unlink()
        except OSError:
            pass
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read %s (%s); starting without saved state", path, exc.strerror)
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("the top level is not an object")
        return data
    except (ValueError, UnicodeDecodeError) as exc:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(path, aside)
            log.warning("%s is corrupt (%s); moved it to %s and started without saved state", path, exc, aside)
        except OSError as exc2:
            log.warning("%s is corrupt (%s) and cannot be moved aside (%s)", path, exc, exc2)
        return None


class StateStore:
    """Keeps ``state.json`` in step with the daemon; writes coalesce on one thread."""

    def __init__(self, path: Path, daemon, *, interval: float = 10.0) -> None:
        self.path = path
        self.daemon = daemon
        self.interval = interval
        self.loaded = read_state(path)
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._write_lock = threading.Lock()
        self._last_events = -1
        self.writes = 0
        self.last_error: str | None = None

    @property
    def saved_mode(self) -> str | None:
        mode = (self.loaded or {}).get("mode")
        return mode if isinstance(mode, str) else None

    # ------------------------------------------------------------------ lifecycle
    def on_start(self, daemon) -> None:
        eng = daemon.engine
        saved = self.saved_mode
        if saved and eng.mode != saved and saved not in eng.table.modes:
            log.warning("the saved mode %r is not in the config; starting in %r", saved, eng.mode)
        stats = (self.loaded or {}).get("stats")
        if isinstance(stats, dict):

            def merge() -> None:
                s = eng.stats
                for key in ("events", "actions_fired", "actions_failed"):
                    try:
                        setattr(s, key, getattr(s, key) + max(0, int(stats.get(key, 0))))
                    except (TypeError, ValueError):
                        pass
                errors = [e for e in (self.loaded or {}).get("recent_errors", []) if isinstance(e, dict)]
                old = list(s.recent_errors)
                s.recent_errors.clear()
                s.recent_errors.extend((errors + old)[-(s.recent_errors.maxlen or 20) :])

            try:
                eng.call_and_wait(merge)
            except Exception:
                log.exception("restoring statistics failed")
        eng.mode_listeners.append(lambda old, new: self.mark())
        self._thread = threading.Thread(target=self._run, name="midimon-state", daemon=True)
        self._thread.start()
        self.mark()

    def mark(self) -> None:
        """Ask for a write soon (cheap; safe on the engine loop)."""
        self._dirty.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait(self.interval)
            if self._stop.is_set():
                break
            changed = self._dirty.is_set()
            self._dirty.clear()
            eng = self.daemon.engine
            if not changed and eng is not None and eng.stats.events == self._last_events:
                continue
            self.save()

    def snapshot(self) -> dict[str, Any]:
        d = self.daemon
        eng = d.engine
        stats = eng.stats.to_json() if eng else {}
        return {
            "version": VERSION,
            "saved_at": time.time(),
            "pid": os.getpid(),
            "config": str(d.config_path),
            "mode": eng.mode if eng else self.saved_mode,
            "stats": {k: stats.get(k, 0) for k in ("events", "actions_fired", "actions_failed")},
            "recent_errors": stats.get("recent_errors", []),
            "last_reload": {
                k: v for k, v in (d.last_reload or {}).items() if k in ("ok", "time", "source", "sha256", "error")
            },
        }

    def save(self) -> bool:
        try:
            with self._write_lock:
                snap = self.snapshot()
                write_state(self.path, snap)
                self._last_events = snap["stats"].get("events", 0)
                self.writes += 1
                self.last_error = None
            return True
        except Exception as exc:  # a full disk must not stop the daemon
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("cannot write %s: %s", self.path, self.last_error)
            return False

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "writes": self.writes, "error": self.last_error}

    def close(self) -> None:
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(2)
        if self.daemon.engine is not None:
            self.save()
