"""What an upload would install, read before anything is written to the plugins folder.

The page shows this on the review step: the manifest (name, version, author...), the
capabilities and scopes it asks for, its checksum and what its signature says. The daemon
checks everything again when it installs; this is for the user's eyes.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from midimon.config.home import Home
from midimon.engine.ui.staging import Staged, StagingError, check_zip
from midimon.plugins import discovery, integrity
from midimon.plugins.manifest import MANIFEST, SCOPE_CAPABILITY
from midimon.sandbox.text import printable


def review(staged: Staged, home: Home) -> dict[str, Any]:
    data = staged.path.read_bytes()
    out: dict[str, Any] = {
        "id": staged.id,
        "filename": staged.path.name,
        "size": len(data),
        "sha256": integrity.sha256(data),
    }
    with tempfile.TemporaryDirectory(prefix="review-", dir=staged.folder) as tmp:
        try:
            cand = _candidate(staged.path, data, Path(tmp))
            verified = discovery.read(cand, "allow", home.trusted_keys)
        except StagingError:
            raise
        except Exception as exc:  # a broken plugin is shown as such, not as a server error
            out.update(ok=False, problem=printable(str(exc)).replace(tmp, "<upload>"))
            return out
    decl = verified.decl
    sig = verified.signature
    out.update(
        ok=True,
        name=decl.name,
        kind=decl.kind,
        version=decl.version,
        description=decl.description,
        author=decl.author,
        license=decl.license,
        homepage=decl.homepage,
        entry_sha256=verified.sha256,
        capabilities={cap: _scopes(decl.scopes, cap) for cap in decl.capabilities},
        config_schema=decl.config_schema,
        signature={
            "status": "signed" if sig.valid else ("invalid" if sig.signed else "unsigned"),
            "key_id": sig.key,
            "message": sig.message,
        },
    )
    return out


def _scopes(scopes: dict[str, Any], cap: str) -> dict[str, Any]:
    """The declared scopes that belong to ``cap`` (``hosts`` to network, ``commands`` to subprocess)."""
    return {key: value for key, value in scopes.items() if SCOPE_CAPABILITY.get(key) == cap}


def _candidate(path: Path, data: bytes, work: Path) -> discovery.Candidate:
    if path.suffix == ".py":
        target = work / path.name
        target.write_bytes(data)
        return discovery.Candidate(path.stem, "file", target)
    check_zip(data, path.name)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(work / "x")  # members were checked above: none escapes, none links
    root = work / "x"
    entries = [e for e in root.iterdir() if not e.name.startswith((".", "__MACOSX"))]
    if (root / MANIFEST).is_file():
        folder = work / path.stem
        root.rename(folder)
        return discovery.Candidate(folder.name, "folder", folder)
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / MANIFEST).is_file():
        return discovery.Candidate(entries[0].name, "folder", entries[0])
    if len(entries) == 1 and entries[0].suffix == ".py":
        return discovery.Candidate(entries[0].stem, "file", entries[0])
    raise StagingError("bad_zip", f"{path.name}: holds neither a plugin folder with {MANIFEST} nor a single .py file")
