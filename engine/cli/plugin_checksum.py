"""`midimon plugins checksum PATH`: the `sha256:<hex>` to write into a plugin.toml.

PATH is a plugin file, or a plugin folder (its entry file, found the way the daemon finds it:
`entry`, or the plan's `binary`, default `plugin.py`). The line printed is exactly the value of
`checksum = "..."`, so a script can use it as it stands; for a folder whose plugin.toml says
something else (or the plan's placeholder `sha256:...`), a note on stderr says so.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tomllib
from pathlib import Path
from typing import Any

from midimon.engine.cli import add_json, fail, print_json


def register(plugins_sub: Any) -> None:
    """Add `checksum` under `midimon plugins`."""
    c = plugins_sub.add_parser("checksum", help="print the sha256:<hex> checksum of a plugin file or folder")
    c.add_argument("path", help="a plugin .py file, or a plugin folder (its entry file)")
    add_json(c)
    c.set_defaults(handler=run)


def _entry_of(folder: Path) -> tuple[Path, str | None]:
    """(entry file, the manifest's checksum value or None). Raises ValueError with the reason."""
    from midimon.plugins.manifest import MANIFEST, ManifestError
    from midimon.plugins.plugin_toml import read_folder_manifest

    manifest = folder / MANIFEST
    try:
        data = manifest.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{folder} has no {MANIFEST}; a plugin folder needs one") from None
    try:
        found = read_folder_manifest(data, str(manifest), folder.name, folder)
    except ManifestError as exc:
        raise ValueError(str(exc)) from None
    try:  # the raw value, placeholder included (read_folder_manifest drops a placeholder)
        written = tomllib.loads(data.decode("utf-8")).get("plugin", {}).get("checksum")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        written = None
    return folder / found.entry, written if isinstance(written, str) else None


def checksum(path: Path) -> dict[str, Any]:
    """What the command shows. Raises ValueError with a sentence for the user."""
    written: str | None = None
    if path.is_dir():
        file, written = _entry_of(path)
    elif path.is_file():
        file = path
    else:
        raise ValueError(f"{path}: no such file or folder")
    try:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError as exc:
        raise ValueError(f"{file}: {exc.strerror}") from None
    value = f"sha256:{digest}"
    return {
        "path": str(path),
        "file": str(file),
        "checksum": value,
        "sha256": digest,
        "manifest_checksum": written,
        "matches": None if written is None else written == value,
    }


def run(args: argparse.Namespace) -> int:
    try:
        result = checksum(Path(args.path).expanduser())
    except ValueError as exc:
        return fail(str(exc), as_json=args.json)
    if args.json:
        print_json({"ok": True, **result})
        return 0
    print(result["checksum"])
    if result["matches"] is False:
        print(
            f"note: plugin.toml says checksum = {result['manifest_checksum']!r}; "
            f'write checksum = "{result["checksum"]}"',
            file=sys.stderr,
        )
    return 0
