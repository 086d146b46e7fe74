"""plugins/catalog.py on its own: reading an index from a path, resolving entries, refusing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from midimon.config.home import Home
from midimon.plugins import catalog, integrity

DATA = b'"""x."""\nversion = "1"\n\n\ndef execute(params, context):\n    return 1\n'


def _index(root: Path, entries: list[dict]) -> Path:
    path = root / "index.json"
    path.write_text(json.dumps({"catalog": 1, "plugins": entries}))
    return path


def _entry(**over) -> dict:
    base = {"name": "one", "version": "1", "url": "one.py", "sha256": integrity.sha256(DATA)}
    return {**base, **over}


def test_a_path_index_resolves_urls_beside_it_and_lists_bad_entries_as_problems(tmp_path):
    (tmp_path / "one.py").write_bytes(DATA)
    idx = _index(tmp_path, [_entry(), _entry(name="Bad Name"), _entry(name="two", sha256="short"), "nope"])
    cat = catalog.load(str(idx))
    assert [e.name for e in cat.entries] == ["one"]
    assert cat.entries[0].url == str(tmp_path / "one.py")
    assert len(cat.problems) == 3
    got = catalog.fetch(cat.entries[0], Home.at(tmp_path / "home"), allow_unsigned=True)
    assert got.data == DATA and got.key_name is None


def test_plugin_text_in_the_index_is_escaped(tmp_path):
    idx = _index(tmp_path, [_entry(description="evil\x1b[2J\u202eend")])
    e = catalog.load(str(idx)).entries[0]
    assert "\x1b" not in e.description and "\u202e" not in e.description


def test_an_oversized_index_and_other_schemes_are_refused(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (catalog.MAX_INDEX_BYTES + 1))
    with pytest.raises(catalog.CatalogError) as exc:
        catalog.load(str(big))
    assert exc.value.code == "too_large"
    with pytest.raises(catalog.CatalogError):
        catalog.load("ftp://127.0.0.1/index.json")


def test_a_signature_is_checked_against_the_named_trusted_key(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    home = Home.at(tmp_path / "home")
    home.trusted_keys.mkdir(parents=True)
    (home.trusted_keys / "k.pem").write_bytes(integrity.public_pem(key.public_key()))
    (tmp_path / "one.py").write_bytes(DATA)
    fp = integrity.fingerprint(key.public_key())
    good = _entry(signature=integrity.sign(DATA, None, key), key_id=fp)
    wrong_bytes = _entry(signature=integrity.sign(DATA + b"#", None, key), key_id=fp)
    idx = _index(tmp_path, [good])
    assert catalog.fetch(catalog.load(str(idx)).entries[0], home).key_name == "k"
    idx = _index(tmp_path, [wrong_bytes])
    with pytest.raises(catalog.CatalogError) as exc:
        catalog.fetch(catalog.load(str(idx)).entries[0], home)
    assert exc.value.code == "untrusted"


def test_no_catalog_by_default(tmp_path):
    home = Home.at(tmp_path)
    home.config.write_text('[[modes]]\nname = "Default"\n')
    assert catalog.configured_source(home) is None
