"""Find plugins: files and folders in the plugins folder, and pip-installed entry points.

``scan()`` only lists candidates (cheap: one ``scandir``); ``read()`` reads one candidate's
bytes once, checks them (checksum, signature, declarations) and returns what the runtime
compiles. Editor temporaries (``.#x.py``, ``x.py~``, ``.x.py.swp``) and names starting with
``_`` or ``.`` are ignored.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from . import integrity
from .integrity import IntegrityError, read_no_follow
from .manifest import MANIFEST, Declarations, ManifestError, check_name, merge_manifest, parse_manifest, parse_source

ENTRY_POINT_GROUP = "midimon.plugins"


@dataclasses.dataclass(frozen=True)
class Candidate:
    name: str
    packaging: str  # "file" | "folder" | "entrypoint"
    path: Path | None  # the .py file or the folder; None for entry points
    entry_point: Any = None  # importlib.metadata.EntryPoint for trusted plugins

    @property
    def trusted(self) -> bool:
        return self.packaging == "entrypoint"

    def signature_path(self) -> Path | None:
        if self.path is None:
            return None
        return self.path / "plugin.sig" if self.packaging == "folder" else self.path.with_name(self.path.name + ".sig")

    def stamp(self) -> tuple:
        """Changes whenever any file the plugin is read from changes (for warm loads)."""
        if self.path is None:
            return ("ep", str(self.entry_point))
        files = [self.path] if self.packaging == "file" else [self.path / MANIFEST, *sorted(self.path.glob("*.py"))]
        sig = self.signature_path()
        out = []
        for f in [*files, sig]:
            try:
                st = os.lstat(f)
                out.append((str(f), st.st_mtime_ns, st.st_size, st.st_ino))
            except (OSError, TypeError):
                out.append((str(f), None))
        return tuple(out)


@dataclasses.dataclass(frozen=True)
class Verified:
    """One plugin version, read once and checked: these bytes are what the sandbox compiles."""

    candidate: Candidate
    source: bytes
    filename: str
    decl: Declarations
    sha256: str
    signature: integrity.Verdict
    warnings: tuple[str, ...] = ()


def _ignored(name: str) -> bool:
    return name.startswith((".", "_", "#")) or name.endswith(("~", ".swp", ".tmp", ".bak")) or ".#" in name


def scan(folder: Path) -> tuple[dict[str, Candidate], list[tuple[str, str]]]:
    """Candidates by name, and problems as (path, message) for files that cannot be plugins."""
    found: dict[str, Candidate] = {}
    problems: list[tuple[str, str]] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        entries = []
    for e in entries:
        if _ignored(e.name):
            continue
        if e.is_symlink():
            problems.append((e.path, "symbolic links are not loaded; copy the plugin instead"))
            continue
        if e.is_file() and e.name.endswith(".py"):
            name, kind = e.name[:-3], "file"
        elif e.is_dir() and os.path.isfile(os.path.join(e.path, MANIFEST)):
            name, kind = e.name, "folder"
        else:
            continue
        try:
            check_name(name)
        except ValueError as exc:
            problems.append((e.path, str(exc)))
            continue
        if name in found:
            problems.append(
                (e.path, f"a plugin named {name!r} is already loaded from {found[name].path}; this one is ignored")
            )
            continue
        found[name] = Candidate(name, kind, Path(e.path))
    return found, problems


def entry_points() -> dict[str, Candidate]:
    """Trusted plugins installed with pip (group ``midimon.plugins``)."""
    from importlib.metadata import entry_points as eps

    out: dict[str, Candidate] = {}
    for ep in eps(group=ENTRY_POINT_GROUP):
        try:
            name = check_name(ep.name)
        except ValueError:
            continue
        out.setdefault(name, Candidate(name, "entrypoint", None, ep))
    return out


def read(candidate: Candidate, policy: str = "allow", keys: Path | None = None) -> Verified:
    """Read, hash, verify. Raises IntegrityError or ManifestError with the reason."""
    if candidate.packaging == "file":
        assert candidate.path is not None
        data = read_no_follow(candidate.path)
        manifest_bytes = None
        filename = str(candidate.path)
        decl = parse_source(candidate.name, data, filename)
    elif candidate.packaging == "folder":
        assert candidate.path is not None
        folder = candidate.path
        if folder.is_symlink():
            raise IntegrityError(f"{folder} is a symbolic link; plugins must be real folders")
        manifest_bytes = read_no_follow(folder / MANIFEST)
        plugin = parse_manifest(manifest_bytes, str(folder / MANIFEST))
        if plugin.get("name", candidate.name) != candidate.name:
            raise ManifestError(
                str(folder / MANIFEST),
                f"name {plugin.get('name')!r} does not match the folder name {candidate.name!r}",
                1,
                1,
            )
        entry = str(plugin.get("entry") or "plugin.py")
        if "/" in entry or "\\" in entry or entry.startswith(".") or not entry.endswith(".py"):
            raise ManifestError(
                str(folder / MANIFEST), f"entry {entry!r} must be a .py file directly inside the plugin folder", 1, 1
            )
        data = read_no_follow(folder / entry)
        filename = str(folder / entry)
        integrity.check_checksum(plugin.get("checksum"), data, filename)
        decl = merge_manifest(parse_source(candidate.name, data, filename), plugin, str(folder / MANIFEST))
    else:
        raise ValueError("entry-point plugins are not read from files")
    sig_path = candidate.signature_path()
    try:
        sig = read_no_follow(sig_path, 4096) if sig_path is not None else None
    except FileNotFoundError:
        sig = None
    verdict = integrity.verify_signature(data, manifest_bytes, sig, keys)
    warning = integrity.apply_policy(policy, verdict, filename)
    return Verified(candidate, data, filename, decl, integrity.sha256(data), verdict, (warning,) if warning else ())
