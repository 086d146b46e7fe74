"""The private staging folder: uploads and catalog downloads wait here for the user's review.

The folder is 0700 in the runtime folder; each upload gets its own random 0700 sub-folder whose
name is the id the page sends back to install it, so the page never names a path. A `.zip` is
checked for members that would land outside its folder (zip slip), links, and its unpacked size
before it is kept.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from midimon.config.errors import MidimonError
from midimon.config.home import Home

MAX_UPLOAD_BYTES = 2 << 20  # a plugin is source text: 2 MiB is generous
MAX_UNPACKED_BYTES = 8 << 20
MAX_MEMBERS = 200
KEEP_S = 3600.0  # an upload reviewed but neither installed nor cancelled is removed after this
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}\.(py|zip)$")
_ID = re.compile(r"^up-[A-Za-z0-9_]{6,40}$")


class StagingError(MidimonError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Staged:
    id: str
    path: Path  # the uploaded file itself (.py or .zip), inside its own folder

    @property
    def folder(self) -> Path:
        return self.path.parent


class Staging:
    def __init__(self, home: Home) -> None:
        self.root = home.runtime / "ui-staging"

    def _ensure_root(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)  # mkdir's mode obeys the umask; this does not
        self._prune()
        return self.root

    def _prune(self) -> None:
        cutoff = time.time() - KEEP_S
        for entry in self.root.iterdir():
            try:
                if _ID.match(entry.name) and entry.is_dir() and entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                continue

    def put(self, filename: str, data: bytes, signature: str | None = None) -> Staged:
        """Keep ``data`` under its own id; ``signature`` (a catalog's, already verified) is written
        beside a ``.py`` as ``midimon plugins sign`` would, so the daemon's install keeps it."""
        base = PurePosixPath(filename.replace("\\", "/")).name
        if not _SAFE_NAME.match(base):
            raise StagingError(
                "bad_filename", f"{filename!r}: upload a .py or .zip whose name is letters, digits, _ . - only"
            )
        if len(data) > MAX_UPLOAD_BYTES:
            raise StagingError("too_large", f"{base}: {len(data)} bytes is over the {MAX_UPLOAD_BYTES} byte limit")
        if base.endswith(".zip"):
            check_zip(data, base)
        folder = Path(tempfile.mkdtemp(prefix="up-", dir=self._ensure_root()))
        path = folder / base
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if signature is not None and base.endswith(".py"):
            (folder / f"{base}.sig").write_text(signature.strip() + "\n")
        return Staged(folder.name, path)

    def get(self, staged_id: str) -> Staged:
        if not _ID.match(staged_id):
            raise StagingError("no_such_upload", f"{staged_id!r} is not an upload id")
        folder = self.root / staged_id
        files = [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()] if folder.is_dir() else []
        uploads = [p for p in files if _SAFE_NAME.match(p.name)]
        if len(uploads) != 1:
            raise StagingError("no_such_upload", f"upload {staged_id} is gone (installed, discarded or expired)")
        return Staged(staged_id, uploads[0])

    def discard(self, staged_id: str) -> None:
        staged = self.get(staged_id)
        shutil.rmtree(staged.folder, ignore_errors=True)


def check_zip(data: bytes, what: str) -> None:
    """Refuse an archive whose members escape, link, or unpack too large; nothing is extracted."""
    import io

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise StagingError("bad_zip", f"{what}: not a zip archive") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise StagingError("bad_zip", f"{what}: more than {MAX_MEMBERS} members")
        total = 0
        for info in infos:
            name = info.filename
            p = PurePosixPath(name)
            if name.startswith("/") or "\\" in name or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                raise StagingError("path_escape", f"{what}: member {name!r} would be written outside the plugin folder")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise StagingError("path_escape", f"{what}: member {name!r} is a symbolic link")
            total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                raise StagingError("too_large", f"{what}: unpacks to more than {MAX_UNPACKED_BYTES} bytes")
