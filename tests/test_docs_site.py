"""The docs site builds (`mkdocs build --strict`), covers every page and every capability
method, and its runnable examples run as written (issue 11, point 8)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CAPABILITIES = DOCS / "capabilities.md"
GUIDE = DOCS / "plugin-author-guide.md"


def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "scripts" / "docs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nav_pages(nav: Any) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, list):
        return set().union(*(nav_pages(x) for x in nav)) if nav else set()
    if isinstance(nav, dict):
        return set().union(*(nav_pages(v) for v in nav.values()))
    return set()


def python_blocks(doc: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", doc.read_text(encoding="utf-8"), re.S | re.M)


# -- the site ----------------------------------------------------------------------------------


def test_the_site_builds_with_strict_and_has_a_page_for_every_doc(tmp_path):
    site = tmp_path / "site"
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    for doc in DOCS.glob("*.md"):
        page = site / ("index.html" if doc.stem == "index" else f"{doc.stem}/index.html")
        assert page.is_file(), f"{doc.name} was not built"
    for uri in hooks().readmes():
        assert (site / uri.removesuffix(".md") / "index.html").is_file(), f"{uri} (a plugin README) was not built"
    assert "fs.stat" in (site / "capabilities" / "index.html").read_text(encoding="utf-8")


def test_every_page_in_docs_is_in_the_nav():
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["theme"]["name"] == "material"
    listed = nav_pages(config["nav"])
    missing = sorted(p.name for p in DOCS.glob("*.md") if p.name not in listed)
    assert not missing, f"add {', '.join(missing)} to the nav in mkdocs.yml"
    gone = sorted(p for p in listed if not (DOCS / p).is_file())
    assert not gone, f"the nav in mkdocs.yml names pages that do not exist: {', '.join(gone)}"


def test_github_style_links_outside_docs_are_rewritten_for_the_site():
    h = hooks()
    # a docs page pointing at a repository file: its path as code, not a dead link
    assert h._rewrite("index.md", "../scripts/test", "the test script") == "the test script (`scripts/test`)"
    # links inside docs/, URLs and anchors are left to mkdocs
    assert h._rewrite("index.md", "config.md#modes", "modes") is None
    assert h._rewrite("index.md", "https://example.com/x", "x") is None
    for uri, readme in h.readmes().items():
        # a README's link to a docs page, from its place in the repository, lands on the page
        rel = os.path.relpath(DOCS / "security.md", readme.parent)
        assert h._rewrite(uri, rel, "security") == "[security](../security.md)"
        assert h._rewrite("index.md", os.path.relpath(readme, DOCS), "it") == f"[it]({uri})"


# -- every config snippet of the site validates, plugin params included ------------------------


def site_toml_blocks() -> list[Any]:
    """Every ```toml block of the site: docs/*.md and the plugins' READMEs."""
    out = []
    for doc in sorted(DOCS.glob("*.md")) + sorted(hooks().readmes().values()):
        text = doc.read_text(encoding="utf-8")
        for m in re.finditer(r"^```toml\n(.*?)^```", text, re.S | re.M):
            line = text[: m.start()].count("\n") + 1
            out.append(pytest.param(doc, line, m.group(1), id=f"{doc.relative_to(ROOT)}:{line}"))
    return out


#: Warnings a snippet may draw on a new home: it has granted nothing and installed nothing.
EXPECTED_ON_A_NEW_HOME = ("midimon plugins grant", "is not installed")


@pytest.mark.parametrize("doc,line,text", site_toml_blocks())
def test_each_config_snippet_of_the_site_passes_the_plugin_checks(tmp_path, doc, line, text):
    """tests/test_docs.py loads the docs' snippets; this adds what `midimon validate` adds (each
    Plugin mapping's params against the plugin's schema) and the plugins' READMEs."""
    from midimon.config import load_config
    from midimon.config.diagnostics import ConfigError
    from midimon.config.home import Home
    from midimon.engine.checks import config_checks

    try:
        result = load_config(f"{doc.name}:{line}", text=text, checks=config_checks(Home.at(tmp_path)))
    except ConfigError as exc:
        pytest.fail(f"{doc.relative_to(ROOT)}:{line}: {exc}")
    unexpected = [str(w) for w in result.warnings if not any(e in str(w) for e in EXPECTED_ON_A_NEW_HOME)]
    assert not unexpected, f"{doc.relative_to(ROOT)}:{line}: {unexpected}"


# -- every capability method is documented -----------------------------------------------------


def test_every_capability_and_every_method_of_its_proxy_is_documented():
    from midimon.sandbox import CAPABILITIES as CAPS
    from midimon.sandbox.capabilities import HANDLERS
    from midimon.sandbox.stubs import LOG_LEVELS, STUB_METHODS

    text = CAPABILITIES.read_text(encoding="utf-8")
    offered = {(obj, m) for obj, methods in STUB_METHODS.items() for m in methods}
    offered |= {(h.obj_name, m) for h in HANDLERS for m in h.methods}
    offered |= {("log", level) for level in LOG_LEVELS}
    missing = sorted(f"{obj}.{m}(" for obj, m in offered if f"`{obj}.{m}(" not in text)
    assert not missing, f"docs/capabilities.md does not document: {', '.join(missing)}"
    for cap in CAPS:
        assert f"`{cap}`" in text, f"docs/capabilities.md does not name the capability {cap}"


# -- runnable examples -------------------------------------------------------------------------


def test_the_fs_stat_trigger_example_fires_when_the_file_changes(tmp_path):
    from midimon.plugins import testing

    src = next(b for b in python_blocks(CAPABILITIES) if "fs.stat(" in b)
    watched = tmp_path / "setlist"
    watched.mkdir()
    song = watched / "tonight.txt"
    song.write_text("one")
    os.utime(song, (time.time() - 100, time.time() - 100))
    plugin = tmp_path / "watcher.py"
    plugin.write_text(src.replace("/home/me/setlist", str(watched)))
    grants = {"capabilities": ["filesystem"], "allow": {"read_paths": [str(watched)]}}
    with testing.load(plugin, grants=grants, data_dir=tmp_path / "d") as p:
        assert p.poll_events() == []  # the first look only remembers
        assert p.poll_events() == []  # unchanged
        song.write_text("one two")
        assert p.poll_events() == [{"event": "changed", "data": {"size": 7}}]
        assert p.poll_events() == []


def test_the_testing_load_example_of_the_author_guide_passes_and_its_refusal_is_real(tmp_path):
    blocks = python_blocks(GUIDE)
    plugin_src = next(b for b in blocks if "Counts the presses" in b)
    test_src = next(b for b in blocks if "from midimon.plugins.testing import load" in b)
    (tmp_path / "counter.py").write_text(plugin_src)
    test_src = test_src.replace(
        'Path.home() / ".midimon" / "plugins" / "counter.py"', f"Path({str(tmp_path / 'counter.py')!r})"
    )
    assert str(tmp_path) in test_src, "the example's PLUGIN line changed; update this test"
    (tmp_path / "test_counter.py").write_text(test_src)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_counter.py")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


@pytest.mark.parametrize("doc", ["plugin-api.md", "publishing.md", "capabilities.md", "index.md"])
def test_the_pages_of_this_issue_name_the_plan_shapes_they_document(doc):
    text = (DOCS / doc).read_text(encoding="utf-8")
    expected = {
        "plugin-api.md": ["current_mode", "event_type", "binary", "midimon plugins checksum", "testing"],
        "publishing.md": ["midimon plugins checksum", "midimon plugins sign", "midimon.plugins", ".zip", "Submission"],
        "capabilities.md": ["fs.stat(path)", "testing.load"],
        "index.md": ['plugin = "http_request"', 'plugin = "spotify"', 'plugin = "home_automation"'],
    }[doc]
    assert [e for e in expected if e not in text] == []


def test_the_publishing_steps_work_as_written(tmp_path):
    """docs/publishing.md: checksum -> install -> sign -> trust the key -> signed; a change after
    signing is refused."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    midimon = str(Path(sys.executable).with_name("midimon"))
    env = {**os.environ, "MIDIMON_HOME": str(tmp_path / "home")}
    env.pop("XDG_RUNTIME_DIR", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([midimon, *args], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)

    src = tmp_path / "weather"
    src.mkdir()
    (src / "plugin.py").write_text('"""Says the weather."""\ndef execute(params, context):\n    return "sunny"\n')
    manifest = '[plugin]\nname = "weather"\nversion = "1.2.0"\ntype = "action"\nentry = "plugin.py"\n'
    (src / "plugin.toml").write_text(manifest)
    checksum = run("plugins", "checksum", str(src))
    assert checksum.returncode == 0 and checksum.stdout.startswith("sha256:"), checksum.stderr
    (src / "plugin.toml").write_text(manifest + f'checksum = "{checksum.stdout.strip()}"\n')
    assert run("plugins", "install", str(src)).returncode == 0
    key = Ed25519PrivateKey.generate()
    (tmp_path / "my-ed25519.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp_path / "my-ed25519.pub.pem").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signed = run("plugins", "sign", "weather", "--key", "my-ed25519.pem", "--json")
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert run("plugins", "keys", "add", "my-ed25519.pub.pem").returncode == 0
    info = json.loads(run("plugins", "info", "weather", "--json").stdout)
    assert info["signature"]["status"] == "signed" and info["signature"]["key_id"] == json.loads(signed.stdout)["key"]
    installed = tmp_path / "home" / "plugins" / "weather" / "plugin.py"
    installed.write_text(installed.read_text() + "# changed after signing\n")
    after = json.loads(run("plugins", "info", "weather", "--json").stdout)
    # the checksum written in plugin.toml catches the change first: the plugin is refused
    assert after["state"] == "error" and "checksum mismatch" in after["error"]["message"], after
