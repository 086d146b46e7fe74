"""The plugin catalog: an index of plugins to browse and install, verified before anything is written.

``[plugins] catalog = "..."`` in config.toml names a JSON document by URL (http/https) or path
(none by default). Its format (docs/plugins-user-guide.md "The catalog")::

    {"catalog": 1, "plugins": [{"name", "version", "description", "author",
      "capabilities": {"network": {"hosts": ["https://api.example.com"]}},
      "url": "https://.../name.py" (or a path relative to the index), "sha256": "<hex>",
      "signature": "<base64 Ed25519>", "key_id": "ed25519:<16 hex>"}]}

The signature is what ``midimon plugins sign`` writes for a single-file plugin: Ed25519 over
``integrity.signed_message(file_bytes, None)``. A download is held in memory, its sha256 and
signature checked against the trusted keys, and only then written; an entry without a valid
signature from a trusted key is refused unless that one install allows it (``allow_unsigned``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

from midimon.config.errors import MidimonError
from midimon.config.home import Home
from midimon.plugins import integrity
from midimon.sandbox.text import printable

MAX_INDEX_BYTES = 1 << 20
MAX_FILE_BYTES = 2 << 20
TIMEOUT_S = 15.0
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}\.(py|zip)$")


class CatalogError(MidimonError):
    def __init__(self, message: str, code: str = "catalog_error") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    version: str
    description: str
    author: str
    capabilities: dict[str, Any]
    url: str  # absolute: resolved against the index's own location
    sha256: str
    signature: str | None
    key_id: str | None
    homepage: str = ""
    license: str = ""

    @property
    def filename(self) -> str:
        tail = Path(urlparse(self.url).path).name
        return tail if _FILE.match(tail) else f"{self.name}.py"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "author": self.author,
            "homepage": self.homepage,
            "license": self.license,
            "capabilities": self.capabilities,
            "url": self.url,
            "sha256": self.sha256,
            "signed": self.signature is not None,
            "key_id": self.key_id,
        }


@dataclass(frozen=True, slots=True)
class Catalog:
    source: str
    entries: tuple[Entry, ...]
    problems: tuple[str, ...] = field(default_factory=tuple)

    def find(self, name: str) -> Entry:
        for e in self.entries:
            if e.name == name:
                return e
        raise CatalogError(
            f"the catalog {self.source} has no plugin {name!r}; `midimon plugins catalog` lists it", "no_such_entry"
        )

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "plugins": [e.to_json() for e in self.entries], "problems": list(self.problems)}


@dataclass(frozen=True, slots=True)
class Download:
    entry: Entry
    data: bytes
    signature: str  # "signed" (by a trusted key) or "unsigned (allowed)"
    key_name: str | None


def configured_source(home: Home) -> str | None:
    """``[plugins] catalog`` from config.toml, or None (no catalog by default)."""
    try:
        doc = tomllib.loads(home.config.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{home.config}: cannot read [plugins] catalog: {exc}") from None
    value = (doc.get("plugins") or {}).get("catalog")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{home.config}: [plugins] catalog must be a URL or a path")
    return value.strip()


def _is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


def _get(location: str, cap: int, what: str) -> bytes:
    if _is_url(location):
        import httpx

        try:
            with httpx.stream("GET", location, timeout=TIMEOUT_S, follow_redirects=True) as resp:
                if resp.status_code != 200:
                    raise CatalogError(f"{what} {location}: the server answered HTTP {resp.status_code}")
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise CatalogError(f"{what} {location}: larger than {cap} bytes", "too_large")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise CatalogError(f"{what} {location}: {type(exc).__name__}: {exc}", "unreachable") from None
    if urlparse(location).scheme not in ("", "file"):
        raise CatalogError(f"{what} {location}: only http, https and local paths are supported")
    path = Path(urlparse(location).path if location.startswith("file:") else location).expanduser()
    try:
        with open(path, "rb") as fh:
            data = fh.read(cap + 1)
    except OSError as exc:
        raise CatalogError(f"{what} {path}: {exc.strerror}", "unreachable") from None
    if len(data) > cap:
        raise CatalogError(f"{what} {path}: larger than {cap} bytes", "too_large")
    return data


def _resolve(base: str, ref: str) -> str:
    if _is_url(ref) or Path(ref).is_absolute():
        return ref
    if _is_url(base):
        return urljoin(base, ref)
    return str((Path(base).expanduser().resolve().parent / ref).resolve())


def load(source: str) -> Catalog:
    raw = _get(source, MAX_INDEX_BYTES, "catalog")
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise CatalogError(f"catalog {source}: not JSON: {exc}", "bad_catalog") from None
    items = doc.get("plugins") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise CatalogError(f'catalog {source}: expected an object with a "plugins" list', "bad_catalog")
    entries: list[Entry] = []
    problems: list[str] = []
    for i, item in enumerate(items):
        try:
            entries.append(_entry(item, source))
        except CatalogError as exc:
            problems.append(f"plugins[{i}]: {exc}")
    return Catalog(source, tuple(entries), tuple(problems))


def _entry(item: Any, source: str) -> Entry:
    if not isinstance(item, dict):
        raise CatalogError("an entry must be an object")

    def text(key: str, required: bool = False) -> str:
        value = item.get(key, "")
        if not isinstance(value, str) or (required and not value):
            raise CatalogError(f"{key!r} must be a non-empty string")
        return printable(value)

    name = text("name", True)
    if not _NAME.match(name):
        raise CatalogError(f"name {name!r} is not a plugin name (lower case, digits, _)")
    digest = text("sha256", True).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise CatalogError(f"{name}: sha256 must be 64 hex digits")
    caps = item.get("capabilities") or {}
    if isinstance(caps, list):
        caps = {c: {} for c in caps if isinstance(c, str)}
    if not isinstance(caps, dict):
        raise CatalogError(f"{name}: capabilities must be an object of capability -> scopes")
    sig = item.get("signature")
    key_id = item.get("key_id")
    return Entry(
        name=name,
        version=text("version"),
        description=text("description"),
        author=text("author"),
        capabilities=caps,
        url=_resolve(source, text("url", True)),
        sha256=digest,
        signature=sig if isinstance(sig, str) and sig else None,
        key_id=key_id if isinstance(key_id, str) and key_id else None,
        homepage=text("homepage"),
        license=text("license"),
    )


def fetch(entry: Entry, home: Home, *, allow_unsigned: bool = False) -> Download:
    """Download ``entry`` into memory and verify it; nothing is written here."""
    data = _get(entry.url, MAX_FILE_BYTES, entry.name)
    actual = integrity.sha256(data)
    if actual != entry.sha256:
        raise CatalogError(
            f"{entry.name}: the download's sha256 is {actual}, the catalog says {entry.sha256}; not installed",
            "checksum_mismatch",
        )
    problem = _signature_problem(entry, data, home)
    if problem is None:
        key = next(tk.name for tk, _ in integrity.trusted_keys(home.trusted_keys) if tk.fingerprint == entry.key_id)
        return Download(entry, data, "signed", key)
    if not allow_unsigned:
        raise CatalogError(
            f"{entry.name}: {problem}; not installed (to install it anyway, for this one install: "
            f"midimon plugins install catalog:{entry.name} --allow-unsigned)",
            "untrusted",
        )
    return Download(entry, data, f"unsigned (allowed: {problem})", None)


def _signature_problem(entry: Entry, data: bytes, home: Home) -> str | None:
    if entry.signature is None:
        return "the catalog entry is not signed"
    try:
        sig = base64.b64decode(entry.signature, validate=True)
    except (ValueError, binascii.Error):
        return "the catalog entry's signature is not base64"
    keys = integrity.trusted_keys(home.trusted_keys)
    candidates = [key for tk, key in keys if entry.key_id is None or tk.fingerprint == entry.key_id]
    if not candidates:
        return f"the entry is signed by key {entry.key_id}, which is not one of your trusted keys"
    message = integrity.signed_message(data, None)
    for key in candidates:
        try:
            key.verify(sig, message)
            if entry.key_id is None:
                return "the entry names no key_id"
            return None
        except Exception:
            continue
    return "the signature does not match the downloaded file (changed after signing, or another key signed it)"
