"""A folder plugin's ``plugin.toml``: read, checked, its entry file found.

Every error names its line (``tomllib`` gives none, so keys are placed with
``config.locate``), with a did-you-mean for a misspelt key. The MIDIMon plan's manifest is
accepted as written: its ``binary`` names the entry file (a compiled library's name is read as
the ``.py`` of the same stem, since midimon plugins are Python source) with a deprecation
warning naming ``entry``, and its placeholder ``checksum = "sha256:..."`` is a warning that
carries the real value instead of a refusal, since it claims nothing that could be checked.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import os
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from midimon.config.locate import locate, nearest
from midimon.sandbox import CAPABILITIES

from .manifest import MANIFEST, SCOPE_ALIASES, ManifestError

#: Keys of ``[plugin]``; ``binary`` is the plan's name for ``entry`` (accepted, deprecated).
MANIFEST_KEYS = (
    "name",
    "version",
    "description",
    "author",
    "license",
    "homepage",
    "type",
    "entry",
    "binary",
    "checksum",
    "capabilities",
    "scopes",
    "poll_interval_ms",
)
#: Names people reach for that mean one of ours (did-you-mean beyond spelling).
_KEY_HINTS = {
    "main": "entry",
    "file": "entry",
    "script": "entry",
    "module": "entry",
    "kind": "type",
    "sha256": "checksum",
    "hash": "checksum",
    "authors": "author",
    "url": "homepage",
    "website": "homepage",
    "repository": "homepage",
    "permissions": "capabilities",
    "poll_interval": "poll_interval_ms",
}
#: Compiled-library suffixes the plan's Rust plugins have; a midimon plugin is the .py beside it.
_LIBRARY_SUFFIXES = (".so", ".dylib", ".dll", ".pyd")
_CHECKSUM_RE = re.compile(r"sha256:[0-9a-f]{64}")
#: The plan writes ``checksum = "sha256:..."`` as a placeholder: "sha256:", then no hex at all.
_PLACEHOLDER_RE = re.compile(r"(sha256:)?\s*(\.\.\.|\u2026|<[^>]*>|x+|todo|)\s*", re.I)
_TOML_POS_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """`` (did you mean 'entry'?)`` or ``""``: spelling, case and the names people reach for."""
    known = list(known)
    folded = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower().replace("-", "_")
    if folded in known and folded != key:
        return f" (did you mean {folded!r}?)"
    hint = _KEY_HINTS.get(folded)
    if hint in known:
        return f" (did you mean {hint!r}?)"
    close = difflib.get_close_matches(folded, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Positions:
    """Lines of the manifest's keys, found only when a message needs one."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._found: dict[tuple[Any, ...], tuple[int, int]] | None = None

    def of(self, *path: str) -> tuple[int, int]:
        if self._found is None:
            self._found = locate(self.text)
        return nearest(self._found, ("plugin", *path)) or (1, 1)


def _is_placeholder(checksum: str) -> bool:
    return bool(_PLACEHOLDER_RE.fullmatch(checksum))


def parse_manifest(data: bytes, filename: str) -> dict[str, Any]:
    """Read a folder plugin's ``plugin.toml`` into the ``[plugin]`` table, checked.

    A placeholder checksum (the plan's ``"sha256:..."``) is left in; :func:`read_folder_manifest`
    turns it into a warning that says how to compute the real one.
    """
    return _parse(data, filename)[0]


def _parse(data: bytes, filename: str) -> tuple[dict[str, Any], _Positions]:
    try:
        text = data.decode("utf-8")
        doc = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ManifestError(filename, f"plugin.toml is not valid UTF-8 text (byte {exc.start})", 1, 1) from None
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POS_RE.search(str(exc))
        line, col = (int(m.group(1)), int(m.group(2))) if m else (1, 1)
        raise ManifestError(filename, f"invalid plugin.toml: {exc}", line, col) from None
    pos = _Positions(text)
    plugin = doc.get("plugin")
    if not isinstance(plugin, dict):
        raise ManifestError(filename, "plugin.toml needs a [plugin] table", 1, 1)
    for key in plugin:
        if key not in MANIFEST_KEYS:
            raise ManifestError(
                filename,
                f"unknown key {key!r} in [plugin]{did_you_mean(key, MANIFEST_KEYS)}; "
                f"known keys: {', '.join(MANIFEST_KEYS)}",
                *pos.of(key),
            )
    caps = plugin.get("capabilities")
    if isinstance(caps, dict):
        known_caps = sorted(CAPABILITIES | set(SCOPE_ALIASES))
        for key in caps:
            if key not in known_caps:
                raise ManifestError(
                    filename,
                    f"unknown capability or scope {key!r} in [plugin.capabilities]{did_you_mean(key, known_caps)}; "
                    f"capabilities: {', '.join(sorted(CAPABILITIES))}",
                    *pos.of("capabilities", key),
                )
    scopes = plugin.get("scopes")
    if isinstance(scopes, dict):
        for key in scopes:
            if key not in SCOPE_ALIASES:
                raise ManifestError(
                    filename,
                    f"unknown scope {key!r} in [plugin.scopes]{did_you_mean(key, SCOPE_ALIASES)}; "
                    f"scopes: {', '.join(sorted(SCOPE_ALIASES))}",
                    *pos.of("scopes", key),
                )
    for key in ("entry", "binary"):
        if key in plugin and not isinstance(plugin[key], str):
            raise ManifestError(filename, f"{key} must be a file name (a string)", *pos.of(key))
    checksum = plugin.get("checksum")
    if checksum is not None:
        if not isinstance(checksum, str):
            raise ManifestError(filename, "checksum must be a string 'sha256:<64 hex digits>'", *pos.of("checksum"))
        if not _CHECKSUM_RE.fullmatch(checksum) and not _is_placeholder(checksum):
            raise ManifestError(
                filename,
                f"checksum {checksum!r} must be 'sha256:' and 64 lowercase hex digits; "
                "`midimon plugins checksum PLUGIN_FOLDER` prints it",
                *pos.of("checksum"),
            )
    return plugin, pos


@dataclasses.dataclass(frozen=True)
class FolderManifest:
    """A folder plugin's ``plugin.toml``, checked, with its entry file resolved."""

    table: dict[str, Any]  # the [plugin] table; "entry" resolved, "binary" and placeholders gone
    entry: str  # a .py file directly inside the folder, known to exist
    warnings: tuple[str, ...] = ()
    placeholder_checksum: bool = False
    checksum_line: int = 0

    def checksum_warnings(self, folder: Path, data: bytes) -> tuple[str, ...]:
        """The warnings, with the real checksum filled in for a placeholder."""
        if not self.placeholder_checksum:
            return self.warnings
        real = "sha256:" + hashlib.sha256(data).hexdigest()
        return (
            *self.warnings,
            f"{folder / MANIFEST}:{self.checksum_line}: checksum is a placeholder, so {self.entry} is not checked; "
            f'write checksum = "{real}" (`midimon plugins checksum {folder}` prints it)',
        )


def read_folder_manifest(data: bytes, filename: str, name: str, folder: Path) -> FolderManifest:
    """Parse ``plugin.toml``, check its name, and find its entry file (``entry``, or the plan's
    ``binary``). Every error names its line; a missing entry file is named as such."""
    plugin, pos = _parse(data, filename)
    warnings: list[str] = []
    if plugin.get("name", name) != name:
        raise ManifestError(
            filename, f"name {plugin.get('name')!r} does not match the folder name {name!r}", *pos.of("name")
        )
    entry_key = "entry" if "entry" in plugin else "binary" if "binary" in plugin else None
    entry = str(plugin.get("entry") or "plugin.py")
    binary = plugin.pop("binary", None)
    if binary is not None:
        line = pos.of("binary")[0]
        as_py = binary
        if binary.endswith(_LIBRARY_SUFFIXES):  # the plan's Rust library: ours is Python source
            as_py = binary.rsplit(".", 1)[0] + ".py"
        if "entry" in plugin and plugin["entry"] != as_py:
            raise ManifestError(
                filename,
                f"entry = {plugin['entry']!r} and binary = {binary!r} disagree; remove binary",
                *pos.of("binary"),
            )
        entry = as_py
        read_as = f", read as {as_py!r} (midimon plugins are Python source)" if as_py != binary else ""
        warnings.append(f'{filename}:{line}: binary is deprecated{read_as}: write entry = "{as_py}" instead')
    if "/" in entry or "\\" in entry or entry.startswith(".") or not entry.endswith(".py"):
        raise ManifestError(
            filename,
            f"{entry_key or 'entry'} {entry!r} must name a .py file directly inside the plugin folder",
            *pos.of(entry_key or "entry"),
        )
    if not os.path.lexists(folder / entry):
        others = sorted(p.name for p in folder.glob("*.py"))
        hint = f"; the folder has {', '.join(others)}" if others else "; the folder has no .py file"
        named = (
            f"named by {entry_key} = {plugin.get(entry_key, binary)!r}" if entry_key else "the default, no entry set"
        )
        raise ManifestError(
            filename,
            f"the entry file {entry} is missing ({named}){hint}",
            *(pos.of(entry_key) if entry_key else (1, 1)),
        )
    plugin["entry"] = entry
    placeholder = isinstance(plugin.get("checksum"), str) and _is_placeholder(plugin["checksum"])
    if placeholder:
        del plugin["checksum"]  # not a checksum: nothing to verify, and said so in the warning
    return FolderManifest(plugin, entry, tuple(warnings), placeholder, pos.of("checksum")[0] if placeholder else 0)
