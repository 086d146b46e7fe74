"""The user's decisions about plugins, in one file: ``MIDIMON_HOME/plugin-state.json``.

Per plugin: enabled, the capabilities granted (each with the scopes that were granted with it),
the plugin's settings. Globally: the signature policy. Written atomically (temporary file,
fsync, rename); read at start and whenever the file changes (the CLI and the daemon are
different processes). A file that cannot be read is moved aside with a warning and an empty
state is used: nothing crashes.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from midimon.config.atomic import write_atomic

log = logging.getLogger("midimon.plugins")
VERSION = 1


def _empty() -> dict[str, Any]:
    return {"version": VERSION, "signature_policy": "allow", "plugins": {}}


class PluginState:
    """A cached view of the state file; ``refresh()`` re-reads it when it changed on disk."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)  # the Home's plugin_state
        self._lock = threading.RLock()
        self._data = _empty()
        self._stamp: tuple[int, int, int] | None = None
        self.warnings: list[str] = []
        self.refresh(force=True)

    # -- reading -------------------------------------------------------------------------------
    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def refresh(self, force: bool = False) -> bool:
        """Re-read the file if it changed. True when the data changed."""
        with self._lock:
            stamp = self._file_stamp()
            if not force and stamp == self._stamp:
                return False
            self._stamp = stamp
            old = self._data
            if stamp is None:
                self._data = _empty()
            else:
                self._data = self._read()
            return self._data != old

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("plugins", {}), dict):
                raise ValueError("the top level must be an object with a 'plugins' object")
            for name, entry in data.get("plugins", {}).items():
                if not isinstance(entry, dict):
                    raise ValueError(f"plugins.{name} must be an object")
        except (OSError, ValueError) as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                os.replace(self.path, aside)
                where = f"moved it to {aside}"
            except OSError:
                where = "could not move it aside"
            message = (
                f"the plugin state file {self.path} could not be read ({exc}); {where} "
                "and started with an empty state (plugins enabled, nothing granted)"
            )
            log.warning("%s", message)
            self.warnings.append(message)
            self._stamp = None
            return _empty()
        base = _empty()
        base.update(data)
        return base

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._data)

    def entry(self, name: str) -> dict[str, Any]:
        with self._lock:
            e = self._data["plugins"].get(name) or {}
            return {
                "enabled": e.get("enabled", True),
                "grants": copy.deepcopy(e.get("grants", {})),
                "settings": copy.deepcopy(e.get("settings", {})),
                **({"limits": copy.deepcopy(e["limits"])} if e.get("limits") else {}),
            }

    def enabled(self, name: str) -> bool:
        return bool(self.entry(name)["enabled"])

    @property
    def signature_policy(self) -> str:
        with self._lock:
            return str(self._data.get("signature_policy", "allow"))

    # -- writing -------------------------------------------------------------------------------
    def update(self, fn) -> dict[str, Any]:
        """Apply ``fn(data)`` to a fresh copy of the file's contents and write it atomically."""
        with self._lock:
            self.refresh()
            data = copy.deepcopy(self._data)
            fn(data)
            self._write(data)
            self._data = data
            self._stamp = self._file_stamp()
            return data

    def update_plugin(self, name: str, fn) -> dict[str, Any]:
        def apply(data):
            entry = data["plugins"].setdefault(name, {})
            entry.setdefault("enabled", True)
            entry.setdefault("grants", {})
            entry.setdefault("settings", {})
            fn(entry)

        return self.update(apply)["plugins"][name]

    def forget(self, name: str) -> None:
        self.update(lambda data: data["plugins"].pop(name, None))

    def _write(self, data: dict[str, Any]) -> None:
        write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")
