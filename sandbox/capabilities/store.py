"""``store``: a small persistent JSON key-value store per plugin, always present.

It lives on the host (``<data_dir>/store.json``), so it survives worker restarts, plugin reloads
and daemon restarts; the plugin's ``fs`` root is ``<data_dir>/files`` and cannot reach it.

Writes are coalesced under a budget (docs/security.md, "Budgets"): the store is kept in memory
with the encoded size of each key, a write after a quiet spell goes to disk at once, and writes
that follow it within the budget's interval are folded into one deferred write. ``store.set`` of
900 KB back to back used to make the daemon decode, re-encode and rewrite the file every time
(half a core and 48 MB/s of writes); now it costs the encoding of the new value only, and the disk
sees at most ``BYTES_PER_SECOND`` on average. One in-memory store per file, shared by every host of
the plugin (an old and a new version during a reload see the same data).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from midimon.config.atomic import write_atomic

from ..errors import CapabilityFailed
from .base import Capability, CapabilityContext, plain, require_str

MAX_STORE_BYTES = 1024 * 1024
STORE_FILE = "store.json"
#: Store bytes written to disk per second, on average, per plugin.
BYTES_PER_SECOND = 1024 * 1024
#: Shortest gap between two writes of one store, however small it is.
MIN_INTERVAL = 0.2


def _size(key: str, value: Any) -> int:
    """Bytes ``"key":value`` takes in the file, as ``_encode`` writes it."""
    return len(_encode({key: value}).encode("utf-8")) - 2


def _encode(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class StoreFile:
    """The in-memory store of one ``store.json`` and its coalesced writer."""

    _open: ClassVar[dict[Path, StoreFile]] = {}
    _open_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def acquire(cls, path: Path) -> StoreFile:
        with cls._open_lock:
            store = cls._open.get(path)
            if store is None:
                store = cls._open[path] = StoreFile(path)
            store._users += 1
            return store

    def release(self) -> None:
        with StoreFile._open_lock:
            self._users -= 1
            last = self._users <= 0
            if last:
                StoreFile._open.pop(self.path, None)
        if last:
            self.flush()

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._users = 0
        self._data: dict[str, Any] | None = None
        self._sizes: dict[str, int] = {}
        self._dirty = False
        self._timer: threading.Timer | None = None
        self._next_write = 0.0  # monotonic time before which a write waits (the budget)
        #: writes that reached the disk, and their bytes (benchmarks and tests read these)
        self.writes = 0
        self.written_bytes = 0

    # -- data ---------------------------------------------------------------------------------
    def data(self) -> dict[str, Any]:
        with self.lock:
            if self._data is None:
                try:
                    loaded = json.loads(self.path.read_text("utf-8"))
                    self._data = loaded if isinstance(loaded, dict) else {}
                except (OSError, ValueError):
                    # Missing or damaged: start empty (a damaged file is kept until a write).
                    self._data = {}
                self._sizes = {k: _size(k, v) for k, v in self._data.items()}
            return self._data

    def size(self) -> int:
        """Bytes of the encoded store: braces, entries and the commas between them."""
        return 2 + sum(self._sizes.values()) + max(0, len(self._sizes) - 1)

    def put(self, key: str, value: Any, limit: int) -> None:
        with self.lock:
            data = self.data()
            entry = _size(key, value)
            old = self._sizes.get(key)
            after = self.size() + entry - (old if old is not None else -1)
            if after > limit:
                raise CapabilityFailed(f"the store would exceed its {limit} byte limit")
            data[key] = value
            self._sizes[key] = entry
            self._changed()

    def remove(self, key: str) -> bool:
        with self.lock:
            data = self.data()
            if key not in data:
                return False
            del data[key]
            del self._sizes[key]
            self._changed()
            return True

    # -- writing ------------------------------------------------------------------------------
    def _changed(self) -> None:
        self._dirty = True
        now = time.monotonic()
        if now >= self._next_write and self._timer is None:
            self.flush()
        elif self._timer is None:
            self._timer = threading.Timer(max(0.0, self._next_write - now), self._deferred)
            self._timer.daemon = True
            self._timer.name = "midimon-store"
            self._timer.start()

    def _deferred(self) -> None:
        with self.lock:
            self._timer = None
            self.flush()

    def flush(self) -> None:
        """Write now if anything changed (the plugin stops, or the budget's interval passed)."""
        with self.lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if not self._dirty or self._data is None:
                return
            text = _encode(self._data).encode("utf-8")
            self._dirty = False
            try:
                # a crash leaves the old or the new store; no fsync, as before: writes are
                # coalesced on the budget, and the disk is not asked to sync each one
                write_atomic(self.path, text, 0o600, fsync=False)
            except OSError:
                self._dirty = True  # kept in memory; the next change tries again
                raise
            self.writes += 1
            self.written_bytes += len(text)
            self._next_write = time.monotonic() + max(MIN_INTERVAL, len(text) / BYTES_PER_SECOND)


class StoreCapability(Capability):
    obj_name = "store"
    capability = None
    methods: ClassVar[frozenset[str]] = frozenset({"get", "set", "delete", "keys", "all"})

    def __init__(self, ctx: CapabilityContext, *, max_bytes: int = MAX_STORE_BYTES) -> None:
        super().__init__(ctx)
        self.max_bytes = max_bytes
        self.path = ctx.data_dir / STORE_FILE
        self._file: StoreFile | None = None

    @property
    def file(self) -> StoreFile:
        if self._file is None:
            self._file = StoreFile.acquire(self.path)
        return self._file

    def get(self, key: Any, default: Any = None) -> Any:
        key = require_str(key, "key", 256)
        with self.file.lock:
            return self.file.data().get(key, plain(default))

    def set(self, key: Any, value: Any) -> None:
        self.file.put(require_str(key, "key", 256), plain(value), self.max_bytes)

    def delete(self, key: Any) -> bool:
        return self.file.remove(require_str(key, "key", 256))

    def keys(self) -> list[str]:
        with self.file.lock:
            return sorted(self.file.data())

    def all(self) -> dict[str, Any]:
        with self.file.lock:
            return dict(self.file.data())

    def close(self) -> None:
        if self._file is not None:
            self._file.release()
            self._file = None
