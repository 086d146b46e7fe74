"""Old names of first-party plugins: ``spotify_control`` is ``spotify``, ``mqtt_publish`` is
``home_automation``.

The config layer reads an old name as the new one (with a deprecation warning at the line, see
``midimon.config.legacy.PLUGIN_RENAMES``); here the user's decisions kept under an old name
(grants, settings, the data folder, secrets) move to the new name, once, on the first start,
and the log says what moved. After that there is one record and one set of grants.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from midimon.config.home import Home
from midimon.config.legacy import PLUGIN_RENAMES

from .secrets import secrets_dir

log = logging.getLogger("midimon.plugins")
ALIASES: dict[str, str] = dict(PLUGIN_RENAMES)


def canonical(name: str) -> str:
    """The plugin an old name stands for (a name that is not old is its own)."""
    return ALIASES.get(name, name)


def old_copy_message(name: str, path: str | Path) -> str:
    return (
        f"{name!r} is the old name of the first-party plugin {canonical(name)!r}, which ships with midimon; "
        f"this copy is not loaded (mappings that name {name!r} use {canonical(name)!r}): delete {path}"
    )


def _merge_grants(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    out = dict(new)
    for cap, grant in old.items():
        if cap not in out:
            out[cap] = grant
            continue
        scopes = dict((out[cap] or {}).get("scopes") or {})
        for key, values in ((grant or {}).get("scopes") or {}).items():
            if isinstance(values, list):
                scopes[key] = sorted(set(scopes.get(key, [])) | set(values))
            else:
                scopes.setdefault(key, values)
        out[cap] = {**(out[cap] or {}), "scopes": scopes}
    return out


def _move_folder(old: Path, new: Path) -> bool:
    """Move ``old``'s files into ``new`` (files already in ``new`` win). True when anything moved."""
    if not old.is_dir() or old.is_symlink():
        return False
    if not new.exists():
        new.parent.mkdir(parents=True, exist_ok=True)
        old.rename(new)
        return True
    moved = False
    for item in old.iterdir():
        target = new / item.name
        if not target.exists():
            item.rename(target)
            moved = True
    shutil.rmtree(old, ignore_errors=True)
    return moved


def migrate(home: Home | Path, state: Any) -> list[str]:
    """Move what is kept under old names to the new ones; returns (and logs) what moved.

    ``state`` is the ``PluginState``; its ``update`` writes the file atomically. Running it again
    finds nothing to do."""
    root = home.root if isinstance(home, Home) else Path(home)
    data_root = root / "plugins-data"
    done: list[str] = []
    snapshot = state.snapshot().get("plugins", {})
    for old, new in ALIASES.items():
        moved: list[str] = []
        entry = snapshot.get(old)
        if entry is not None:

            def apply(data: dict[str, Any], old: str = old, new: str = new) -> None:
                plugins = data.setdefault("plugins", {})
                was = plugins.pop(old, None) or {}
                now = plugins.setdefault(new, {})
                now["grants"] = _merge_grants(now.get("grants") or {}, was.get("grants") or {})
                now["settings"] = {**(was.get("settings") or {}), **(now.get("settings") or {})}
                now.setdefault("enabled", was.get("enabled", True))
                for key, value in was.items():
                    now.setdefault(key, value)

            state.update(apply)
            if entry.get("grants"):
                moved.append("grants (" + ", ".join(sorted(entry["grants"])) + ")")
            if entry.get("settings"):
                moved.append("settings (" + ", ".join(sorted(entry["settings"])) + ")")
            if not moved:
                moved.append("its state")
        if _move_folder(data_root / old, data_root / new):
            moved.append(f"data ({data_root / new})")
        old_secret, new_secret = secrets_dir(root) / f"{old}.json", secrets_dir(root) / f"{new}.json"
        if old_secret.is_file():
            if not new_secret.exists():
                old_secret.rename(new_secret)
                moved.append("secrets")
            else:
                old_secret.unlink()
        if moved:
            message = f"plugin {old!r} is now {new!r}: moved its " + ", ".join(moved) + f" to {new!r}"
            log.warning("%s", message)
            done.append(message)
    return done
