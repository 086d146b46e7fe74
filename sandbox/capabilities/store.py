"""``store``: a small persistent JSON key-value store per plugin, always present.

It lives on the host (``<data_dir>/store.json``), so it survives worker restarts, plugin reloads
and daemon restarts; the plugin's ``fs`` root is ``<data_dir>/files`` and cannot reach it.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, ClassVar

from ..errors import CapabilityFailed
from .base import Capability, CapabilityContext, plain, require_str

MAX_STORE_BYTES = 1024 * 1024
STORE_FILE = "store.json"


class StoreCapability(Capability):
    obj_name = "store"
    capability = None
    methods: ClassVar[frozenset[str]] = frozenset({"get", "set", "delete", "keys", "all"})

    def __init__(self, ctx: CapabilityContext, *, max_bytes: int = MAX_STORE_BYTES) -> None:
        super().__init__(ctx)
        self.max_bytes = max_bytes
        self.path = ctx.data_dir / STORE_FILE
        self._data: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            try:
                data = json.loads(self.path.read_text("utf-8"))
                self._data = data if isinstance(data, dict) else {}
            except FileNotFoundError:
                self._data = {}
            except (OSError, ValueError):
                # A damaged store must not stop the plugin: start empty, keep the bad file.
                self._data = {}
        return self._data

    def _save(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if len(text.encode("utf-8")) > self.max_bytes:
            raise CapabilityFailed(f"the store would exceed its {self.max_bytes} byte limit")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{STORE_FILE}.{os.getpid()}.tmp")
        tmp.write_text(text, "utf-8")
        os.replace(tmp, self.path)  # atomic: a crash leaves the old or the new store, never half

    def get(self, key: Any, default: Any = None) -> Any:
        with self._lock:
            return self._load().get(require_str(key, "key", 256), plain(default))

    def set(self, key: Any, value: Any) -> None:
        key = require_str(key, "key", 256)
        with self._lock:
            data = dict(self._load())
            data[key] = plain(value)
            self._save(data)
            self._data = data

    def delete(self, key: Any) -> bool:
        key = require_str(key, "key", 256)
        with self._lock:
            data = dict(self._load())
            if key not in data:
                return False
            del data[key]
            self._save(data)
            self._data = data
            return True

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._load())

    def all(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._load())
