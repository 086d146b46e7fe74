"""A plugin's secret store: tokens the host keeps for a plugin and never hands to it.

One JSON file per plugin, ``<home>/secrets/<plugin>.json``, mode 0600 in a 0700 folder, outside
the plugin's data folder (which the plugin can read). The Spotify refresh token lives here: the
host reads it to refresh the access token; ``plugins info``, the audit log and the plugin itself
never see it. Every read goes to the file, because the CLI (``midimon plugins auth``) and the
daemon are different processes and the file is small.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from midimon.config.atomic import write_atomic
from midimon.config.home import Home

from .manifest import check_name

FOLDER = "secrets"


def secrets_dir(home: Home | Path) -> Path:
    root = home.root if isinstance(home, Home) else Path(home)
    return root / FOLDER


class SecretStore:
    """get / set / delete / clear on one plugin's secrets; safe across threads and processes
    (each write replaces the file atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n", 0o600)

    def get(self, key: str, default: Any = None) -> Any:
        return self._read().get(key, default)

    def all(self) -> dict[str, Any]:
        return self._read()

    def set(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, values: dict[str, Any]) -> None:
        with self._lock:
            data = self._read()
            data.update(values)
            self._write(data)

    def delete(self, *keys: str) -> bool:
        with self._lock:
            data = self._read()
            hit = [k for k in keys if k in data]
            for k in hit:
                del data[k]
            if hit:
                self._write(data)
            return bool(hit)

    def clear(self) -> bool:
        with self._lock:
            try:
                self.path.unlink()
                return True
            except FileNotFoundError:
                return False

    def keys(self) -> list[str]:
        """The names of the secrets that are set (never their values): for ``plugins info``."""
        return sorted(self._read())


def open_store(home: Home | Path, plugin: str) -> SecretStore:
    return SecretStore(secrets_dir(home) / f"{check_name(plugin)}.json")


def opener(home: Home | Path) -> Callable[[str], SecretStore]:
    """What the host's capabilities get (``HostServices.secret_store``): plugin name -> store."""
    return lambda plugin: open_store(home, plugin)


#: plugins that sign in to a service, and the command that signs in: their ``plugins info``
#: carries an ``auth`` section (whether signed in, when the access token expires; no token)
SIGN_IN = {"spotify": "midimon plugins auth spotify"}


def auth_status(home: Home | Path, plugin: str) -> dict[str, Any] | None:
    """The ``auth`` section of ``plugins info`` for a plugin that signs in, else None.

    Only facts about the tokens leave the store, never a token: ``signed_in`` (a refresh token
    is stored) and the access token's expiry (absolute, and seconds from now; None when there is
    none yet, the daemon fetches one at the first call)."""
    command = SIGN_IN.get(plugin)
    if command is None:
        return None
    data = open_store(home, plugin).all()
    refresh = data.get("refresh_token")
    signed_in = isinstance(refresh, str) and bool(refresh)
    expires = data.get("expires_at")
    expires_at = float(expires) if isinstance(expires, (int, float)) and not isinstance(expires, bool) else None
    return {
        "signed_in": signed_in,
        "access_token_expires_at": expires_at if signed_in else None,
        "access_token_expires_in_s": (
            max(0, int(expires_at - time.time())) if signed_in and expires_at is not None else None
        ),
        "sign_in": command if not signed_in else None,
        "sign_out": f"{command} --logout" if signed_in else None,
    }
