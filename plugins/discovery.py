"""Find plugins: the first-party ones shipped in the package, files and folders in the plugins
folder, and pip-installed entry points.

``scan()`` only lists candidates (cheap: one ``scandir``); ``read()`` reads one candidate's
bytes once, checks them (checksum, signature, declarations) and returns what the runtime
compiles. Editor temporaries (``.#x.py``, ``x.py~``, ``.x.py.swp``) and names starting with
``_`` or ``.`` are ignored.

Precedence: a file or folder in the plugins folder wins over the first-party plugin of the same
name (the user's own, or a copy installed earlier); its candidate says so in ``shadows``. The
first-party plugins are still sandboxed and still need grants: shipping them only saves the
install step. A file under an old first-party name (``spotify_control.py``) is not loaded: the
old name is an alias of the new plugin, so loading it too would make two records.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from . import aliases, integrity
from .integrity import IntegrityError, read_no_follow
from .manifest import MANIFEST, Declarations, check_name, merge_manifest, parse_source
from .plugin_toml import read_folder_manifest

ENTRY_POINT_GROUP = "midimon.plugins"
#: Where the first-party plugins live inside the package, and which of them load without an
#: install step (``mqtt_listen`` is a trigger that polls: it is installed when wanted, with
#: ``midimon plugins install builtin:mqtt_listen``).
FIRST_PARTY_DIR = Path(__file__).resolve().parent / "builtin"
FIRST_PARTY: tuple[str, ...] = ("home_automation", "http_request", "spotify")


@dataclasses.dataclass(frozen=True)
class Candidate:
    name: str
    packaging: str  # "file" | "folder" | "entrypoint"
    path: Path | None  # the .py file or the folder; None for entry points
    entry_point: Any = None  # importlib.metadata.EntryPoint for trusted plugins
    #: Ships inside the package (read like a file plugin, never written to or removed).
    first_party: bool = False
    #: The first-party plugin this folder plugin overrides (same name), or None.
    shadows: str | None = None

    @property
    def trusted(self) -> bool:
        return self.packaging == "entrypoint"

    @property
    def source(self) -> str:
        """The record's ``source``: file, folder, entry_point or first_party."""
        if self.first_party:
            return "first_party"
        return {"entrypoint": "entry_point"}.get(self.packaging, self.packaging)

    def signature_path(self) -> Path | None:
        if self.path is None or self.first_party:
            return None
        return self.path / "plugin.sig" if self.packaging == "folder" else self.path.with_name(self.path.name + ".sig")

    def stamp(self) -> tuple:
        """Changes whenever any file the plugin is read from changes (for warm loads)."""
        if self.path is None:
            return ("ep", str(self.entry_point))
        files = [self.path] if self.packaging == "file" else [self.path / MANIFEST, *sorted(self.path.glob("*.py"))]
        sig = self.signature_path()
        out: list[tuple[Any, ...]] = []
        for f in [*files, *([sig] if sig is not None else [])]:
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


def first_party() -> dict[str, Candidate]:
    """The plugins that ship with midimon, by name."""
    out = {}
    for name in FIRST_PARTY:
        path = FIRST_PARTY_DIR / f"{name}.py"
        if path.is_file():
            out[name] = Candidate(name, "file", path, first_party=True)
    return out


def scan(folder: Path, *, with_first_party: bool = True) -> tuple[dict[str, Candidate], list[tuple[str, str]]]:
    """Candidates by name (the plugins folder's, then the first-party ones it does not
    override), and problems as (path, message) for files that cannot be plugins."""
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
        new_name = aliases.canonical(name)
        if new_name != name:
            problems.append((e.path, aliases.old_copy_message(name, e.path)))
            continue
        found[name] = Candidate(name, kind, Path(e.path), shadows=name if name in FIRST_PARTY else None)
    if with_first_party:
        for name, cand in first_party().items():
            found.setdefault(name, cand)
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
        notes: tuple[str, ...] = ()
        filename = str(candidate.path)
        decl = parse_source(candidate.name, data, filename)
    elif candidate.packaging == "folder":
        assert candidate.path is not None
        folder = candidate.path
        if folder.is_symlink():
            raise IntegrityError(f"{folder} is a symbolic link; plugins must be real folders")
        manifest_bytes = read_no_follow(folder / MANIFEST)
        # name, entry (or the plan's binary) and checksum checked there, each error at its line
        found = read_folder_manifest(manifest_bytes, str(folder / MANIFEST), candidate.name, folder)
        plugin, entry = found.table, found.entry
        data = read_no_follow(folder / entry)
        filename = str(folder / entry)
        integrity.check_checksum(plugin.get("checksum"), data, filename)
        notes = found.checksum_warnings(folder, data)
        decl = merge_manifest(parse_source(candidate.name, data, filename), plugin, str(folder / MANIFEST))
    else:
        raise ValueError("entry-point plugins are not read from files")
    if candidate.first_party:
        # Shipped inside the installed package: as trusted as midimon itself, so the signature
        # policy (for plugins that arrive from elsewhere) does not apply. Still sandboxed.
        verdict = integrity.Verdict(False, False, None, "first-party plugin (ships with midimon)")
        return Verified(candidate, data, filename, decl, integrity.sha256(data), verdict)
    sig_path = candidate.signature_path()
    try:
        sig = read_no_follow(sig_path, 4096) if sig_path is not None else None
    except FileNotFoundError:
        sig = None
    verdict = integrity.verify_signature(data, manifest_bytes, sig, keys)
    warning = integrity.apply_policy(policy, verdict, filename)
    return Verified(
        candidate, data, filename, decl, integrity.sha256(data), verdict, (*notes, warning) if warning else notes
    )
