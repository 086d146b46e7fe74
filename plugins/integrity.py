"""Checksums and Ed25519 signatures: read once, hash, verify and compile the same bytes.

A plugin's bytes are read exactly once per load (``read_no_follow``), without following
symlinks, and those bytes are hashed, checked against the manifest's ``checksum``, verified
against the signature, and handed to the sandbox: a file swapped between the check and the
compile cannot slip through.

Signatures cover ``SIGNED_PREFIX + sha256(entry) + "\\n" + sha256(plugin.toml or "") + "\\n"``,
so a folder plugin's manifest (its capabilities) is signed with its code. Trusted public keys
live in ``MIDIMON_HOME/trusted_keys/`` as PEM or raw-base64 files; midimon only writes there when
the user runs ``midimon plugins keys add``.
"""

from __future__ import annotations

import base64
import dataclasses
import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from midimon.config.atomic import write_atomic

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNED_PREFIX = b"midimon-plugin-signature-v1\n"
POLICIES = ("allow", "warn", "require")
MAX_PLUGIN_BYTES = 4 * 1024 * 1024


class IntegrityError(Exception):
    """The plugin is refused: the reason says what to do."""


def read_no_follow(path: Path, limit: int = MAX_PLUGIN_BYTES) -> bytes:
    """Read a regular file without following a symlink at its last component."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IntegrityError(
                f"{path} is a symbolic link; plugins must be regular files (copy the file instead of linking it)"
            ) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IntegrityError(f"{path} is not a regular file")
        if st.st_size > limit:
            raise IntegrityError(f"{path} is larger than {limit} bytes")
        chunks = []
        size = 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise IntegrityError(f"{path} is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_checksum(expected: str | None, data: bytes, what: str) -> None:
    if expected is None:
        return
    actual = "sha256:" + sha256(data)
    if actual != expected:
        raise IntegrityError(
            f"{what}: checksum mismatch: plugin.toml says {expected}, the file "
            f"is {actual}; refusing to load it (if you changed the file on "
            "purpose, update the checksum)"
        )


def signed_message(entry: bytes, manifest: bytes | None) -> bytes:
    return SIGNED_PREFIX + f"{sha256(entry)}\n{sha256(manifest or b'')}\n".encode()


# -- keys -----------------------------------------------------------------------------------------


def _load_public(data: bytes) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    raw = base64.b64decode(text, validate=True)
    return Ed25519PublicKey.from_public_bytes(raw)


def load_private(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def public_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(public_key) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class TrustedKey:
    name: str
    fingerprint: str
    path: Path


def trusted_keys(folder: Path) -> list[tuple[TrustedKey, Ed25519PublicKey]]:
    """The usable Ed25519 public keys in ``folder`` (the Home's ``trusted_keys``)."""
    out: list[tuple[TrustedKey, Ed25519PublicKey]] = []
    if not folder.is_dir():
        return out
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file() or p.is_symlink():
            continue
        try:
            key = _load_public(p.read_bytes())
        except Exception:
            continue  # not a key: `keys list` shows only usable keys
        out.append((TrustedKey(p.stem, fingerprint(key), p), key))
    return out


def add_key(folder: Path, source: Path, name: str | None = None) -> TrustedKey:
    data = Path(source).read_bytes()
    try:
        key = _load_public(data)
    except Exception as exc:
        raise IntegrityError(f"{source} is not an Ed25519 public key (PEM or raw base64): {exc}") from None
    name = name or Path(source).stem
    target = folder / f"{name}.pem"
    write_atomic(target, public_pem(key), 0o644)  # a public key: readable is fine
    return TrustedKey(name, fingerprint(key), target)


def remove_key(folder: Path, name: str) -> bool:
    for tk, _key in trusted_keys(folder):
        if name in (tk.name, tk.fingerprint):
            tk.path.unlink()
            return True
    return False


# -- signatures ------------------------------------------------------------------------------------


def sign(entry: bytes, manifest: bytes | None, private_key) -> str:
    return base64.b64encode(private_key.sign(signed_message(entry, manifest))).decode()


@dataclasses.dataclass(frozen=True)
class Verdict:
    signed: bool
    valid: bool
    key: str | None
    message: str


def verify_signature(
    entry: bytes, manifest: bytes | None, signature: bytes | None, folder: Path | None = None
) -> Verdict:
    if signature is None:
        return Verdict(False, False, None, "not signed")
    try:
        sig = base64.b64decode(signature.strip(), validate=True)
    except ValueError:
        return Verdict(True, False, None, "the signature file is not base64")
    message = signed_message(entry, manifest)
    keys = trusted_keys(folder) if folder is not None else []  # no folder given: nothing is trusted
    for tk, key in keys:
        try:
            key.verify(sig, message)
            return Verdict(True, True, tk.fingerprint, f"signed by trusted key {tk.name} ({tk.fingerprint})")
        except Exception:
            continue
    if not keys:
        return Verdict(
            True,
            False,
            None,
            "signed, but there are no trusted keys in "
            f"{folder or 'the trusted keys folder'} (add one with: midimon plugins keys add FILE)",
        )
    return Verdict(
        True,
        False,
        None,
        "the signature does not match any trusted key (the "
        "plugin changed after signing, or it was signed by an unknown key)",
    )


def apply_policy(policy: str, verdict: Verdict, what: str) -> str | None:
    """Raise IntegrityError when refused; return a warning to log, or None."""
    if verdict.signed and not verdict.valid:
        # A bad signature is never ignored: someone claims a signature that does not hold.
        raise IntegrityError(f"{what}: {verdict.message}; refusing to load it")
    if not verdict.signed:
        if policy == "require":
            raise IntegrityError(
                f"{what}: not signed, and the signature policy is 'require' "
                "(sign it with: midimon plugins sign NAME --key FILE, or change "
                "the policy with: midimon plugins policy warn)"
            )
        if policy == "warn":
            return f"{what}: not signed (signature policy 'warn')"
    return None
