"""`midimon plugins catalog` and `install catalog:NAME` against an index served on loopback.

No daemon runs: the install goes to the files, as the CLI does then. Each refusal is checked by
its effect: the plugin file is not written.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from midimon.plugins import integrity

EXE = str(Path(sys.executable).with_name("midimon"))
GOOD = b'''"""From the catalog."""
version = "1.4.0"


def execute(params, context):
    return 1
'''


class _Quiet(http.server.SimpleHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        _Quiet.hits.append(self.path)
        super().do_GET()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str, Any]]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    root = tmp_path / "www"
    root.mkdir()
    key = Ed25519PrivateKey.generate()
    other = Ed25519PrivateKey.generate()
    (root / "good.py").write_bytes(GOOD)
    (root / "tampered.py").write_bytes(GOOD.replace(b"1.4.0", b"6.6.6"))
    (root / "plain.py").write_bytes(GOOD)
    (root / "stranger.py").write_bytes(GOOD)
    fp = integrity.fingerprint(key.public_key())
    entries = [
        ("good", "good.py", integrity.sha256(GOOD), integrity.sign(GOOD, None, key), fp),
        ("tampered", "tampered.py", integrity.sha256(GOOD), integrity.sign(GOOD, None, key), fp),
        ("plain", "plain.py", integrity.sha256(GOOD), None, None),
        ("stranger", "stranger.py", integrity.sha256(GOOD), integrity.sign(GOOD, None, other), fp),
    ]
    index = {
        "catalog": 1,
        "plugins": [
            {
                "name": n,
                "version": "1.4.0",
                "description": f"the {n} one",
                "author": "Tester",
                "capabilities": {"network": {"hosts": ["https://api.example.com"]}},
                "url": u,
                "sha256": h,
                **({"signature": s, "key_id": k} if s else {}),
            }
            for n, u, h, s, k in entries
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _Quiet(*a, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    (home / "trusted_keys").mkdir(parents=True)
    (home / "trusted_keys" / "test.pem").write_bytes(integrity.public_pem(key.public_key()))
    url = f"http://127.0.0.1:{httpd.server_address[1]}/index.json"
    (home / "config.toml").write_text(f'[plugins]\ncatalog = "{url}"\n\n[[modes]]\nname = "Default"\n')
    yield home, url, key
    httpd.shutdown()


def run(home: Path, *args: str) -> tuple[int, Any]:
    env = {"MIDIMON_HOME": str(home), "PATH": "/usr/bin:/bin", "HOME": str(home)}
    out = subprocess.run([EXE, *args, "--json"], env=env, capture_output=True, text=True, timeout=60)
    try:
        return out.returncode, json.loads(out.stdout)
    except ValueError:
        raise AssertionError(f"no JSON from midimon {args}: {out.stdout!r} {out.stderr!r}") from None


def test_catalog_lists_the_entries(served):
    home, url, _ = served
    code, doc = run(home, "plugins", "catalog")
    assert code == 0 and doc["source"] == url
    assert sorted(e["name"] for e in doc["plugins"]) == ["good", "plain", "stranger", "tampered"]
    good = next(e for e in doc["plugins"] if e["name"] == "good")
    assert good["capabilities"] == {"network": {"hosts": ["https://api.example.com"]}}
    assert good["signed"] is True and good["url"].endswith("/good.py")


def test_install_from_the_catalog_verifies_then_installs(served):
    home, _, _ = served
    code, doc = run(home, "plugins", "install", "catalog:good")
    assert code == 0, doc
    installed = home / "plugins" / "good.py"
    assert installed.read_bytes() == GOOD
    assert (home / "plugins" / "good.py.sig").is_file()  # the catalog's signature came along


def test_a_checksum_mismatch_is_refused_and_nothing_written(served):
    home, _, _ = served
    code, doc = run(home, "plugins", "install", "catalog:tampered")
    assert code == 1 and doc["code"] == "checksum_mismatch"
    assert not (home / "plugins" / "tampered.py").exists()


def test_unsigned_and_untrusted_are_refused_unless_allowed_for_that_install(served):
    home, _, _ = served
    for name in ("plain", "stranger"):
        code, doc = run(home, "plugins", "install", f"catalog:{name}")
        assert code == 1 and doc["code"] == "untrusted", doc
        assert "--allow-unsigned" in doc["error"]
        assert not (home / "plugins" / f"{name}.py").exists()
    code, doc = run(home, "plugins", "install", "catalog:plain", "--allow-unsigned")
    assert code == 0, doc
    assert (home / "plugins" / "plain.py").read_bytes() == GOOD


def test_no_catalog_configured_says_where_to_set_it(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[[modes]]\nname = "Default"\n')
    code, doc = run(home, "plugins", "catalog")
    assert code == 1 and "[plugins] catalog" in doc["error"]
