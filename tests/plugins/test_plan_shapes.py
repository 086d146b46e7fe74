"""The MIDIMon v2.3 plan's shapes are accepted as the plan writes them (issue 11, point 4):
its plugin.toml (``binary``, the ``sha256:...`` placeholder), its ``PluginEvent`` and its
``TriggerContext.current_mode``."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from midimon.plugins import discovery, testing
from midimon.plugins.context import plain_context
from midimon.plugins.integrity import IntegrityError
from midimon.plugins.manifest import ManifestError
from midimon.plugins.triggers import to_events

MIDIMON = str(Path(sys.executable).with_name("midimon"))

# The plan's manifest, pasted verbatim (v2.3-plugin-architecture.md, "Create plugin manifest format").
PLAN_MANIFEST = """\
[plugin]
name = "http_request"
version = "1.0.0"
description = "Make HTTP requests as actions"
author = "MIDIMon Team"
license = "MIT"
type = "action"  # or "trigger"
binary = "http_request.so"
checksum = "sha256:..."

[plugin.capabilities]
network = true
"""
ENTRY = 'def execute(params, context):\n    return "sent " + params.get("url", "")\n'


def folder(tmp_path: Path, manifest: str, files: dict[str, str] | None = None, name: str = "http_request") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "plugin.toml").write_text(manifest)
    for fname, text in (files if files is not None else {"http_request.py": ENTRY}).items():
        (d / fname).write_text(text)
    return d


def read(d: Path) -> discovery.Verified:
    return discovery.read(discovery.Candidate(d.name, "folder", d))


def sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


# -- the manifest ------------------------------------------------------------------------------


def test_the_plans_manifest_verbatim_loads_and_runs_its_python_entry(tmp_path):
    d = folder(tmp_path, PLAN_MANIFEST)
    v = read(d)
    assert v.filename == str(d / "http_request.py") and v.source == ENTRY.encode()
    assert (v.decl.kind, v.decl.version, v.decl.author, v.decl.license) == ("action", "1.0.0", "MIDIMon Team", "MIT")
    assert v.decl.capabilities == ("network",)
    text = "\n".join(v.warnings)
    # binary: deprecated, at its line, naming the key to write instead
    assert "plugin.toml:8: binary is deprecated" in text and 'entry = "http_request.py"' in text
    # the placeholder: not checked, and the warning carries the real value
    assert "plugin.toml:9: checksum is a placeholder" in text and sha(d / "http_request.py") in text
    with testing.load(d) as p:
        assert p.execute({"url": "http://127.0.0.1:9/x"}) == "sent http://127.0.0.1:9/x"


def test_binary_naming_the_py_file_is_the_entry_with_a_deprecation_warning(tmp_path):
    d = folder(
        tmp_path, PLAN_MANIFEST.replace("http_request.so", "http_request.py").replace('checksum = "sha256:..."\n', "")
    )
    v = read(d)
    assert v.filename.endswith("http_request.py")
    assert [w for w in v.warnings if "binary is deprecated" in w and 'entry = "http_request.py"' in w]
    assert not [w for w in v.warnings if "placeholder" in w]


def test_entry_is_read_without_warnings(tmp_path):
    manifest = PLAN_MANIFEST.replace('binary = "http_request.so"', 'entry = "http_request.py"')
    d = folder(tmp_path, manifest.replace("sha256:...", sha_of(ENTRY)))
    v = read(d)
    assert v.warnings == () and v.decl.checksum == sha_of(ENTRY)


def sha_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_entry_and_binary_that_disagree_are_refused_at_the_binary_line(tmp_path):
    d = folder(tmp_path, PLAN_MANIFEST.replace("binary =", 'entry = "other.py"\nbinary ='), {"other.py": ENTRY})
    with pytest.raises(ManifestError) as e:
        read(d)
    assert e.value.lineno == 9 and "disagree" in e.value.message


@pytest.mark.parametrize(
    "line,wrong,suggested",
    [
        ('entyr = "http_request.py"', "entyr", "entry"),
        ('Version = "2"', "Version", "version"),
        ('main = "x.py"', "main", "entry"),
    ],
)
def test_an_unknown_key_is_reported_at_its_own_line_with_a_did_you_mean(tmp_path, line, wrong, suggested):
    manifest = PLAN_MANIFEST.replace('license = "MIT"\n', f'license = "MIT"\n{line}\n')
    d = folder(tmp_path, manifest)
    with pytest.raises(ManifestError) as e:
        read(d)
    assert (e.value.lineno, e.value.col) == (7, 1)
    assert f"unknown key {wrong!r}" in e.value.message and f"did you mean {suggested!r}?" in e.value.message


def test_an_unknown_capability_is_reported_at_its_line_with_a_did_you_mean(tmp_path):
    d = folder(tmp_path, PLAN_MANIFEST.replace("network = true", "network = true\nfilesytem = true"))
    with pytest.raises(ManifestError) as e:
        read(d)
    assert e.value.lineno == 13 and "did you mean 'filesystem'?" in e.value.message


def test_an_unknown_scope_is_reported_at_its_line_with_a_did_you_mean(tmp_path):
    manifest = PLAN_MANIFEST + '\n[plugin.scopes]\nhots = ["http://127.0.0.1:8080"]\n'
    d = folder(tmp_path, manifest)
    with pytest.raises(ManifestError) as e:
        read(d)
    assert (
        e.value.lineno == manifest.splitlines().index('hots = ["http://127.0.0.1:8080"]') + 1
        and "did you mean 'hosts'?" in e.value.message
    )


def test_a_toml_syntax_error_points_at_its_line(tmp_path):
    d = folder(tmp_path, PLAN_MANIFEST.replace('license = "MIT"', "license = "))
    with pytest.raises(ManifestError) as e:
        read(d)
    assert e.value.lineno == 6


def test_a_missing_entry_file_is_named_as_such(tmp_path):
    d = folder(tmp_path, PLAN_MANIFEST, {"helper.py": ENTRY})
    with pytest.raises(ManifestError) as e:
        read(d)
    assert e.value.lineno == 8
    assert "the entry file http_request.py is missing" in e.value.message and "helper.py" in e.value.message


def test_a_missing_default_entry_says_no_entry_was_set(tmp_path):
    manifest = PLAN_MANIFEST.replace('binary = "http_request.so"\n', "")
    d = folder(tmp_path, manifest, {})
    with pytest.raises(ManifestError) as e:
        read(d)
    assert "the entry file plugin.py is missing" in e.value.message and "no entry set" in e.value.message


def test_a_malformed_checksum_is_refused_at_its_line_with_the_command(tmp_path):
    d = folder(tmp_path, PLAN_MANIFEST.replace("sha256:...", "sha256:abc123"))
    with pytest.raises(ManifestError) as e:
        read(d)
    assert e.value.lineno == 9 and "midimon plugins checksum" in e.value.message


def test_the_checksum_command_prints_what_the_manifest_needs_and_a_wrong_one_still_refuses(tmp_path):
    d = folder(tmp_path, PLAN_MANIFEST)
    out = subprocess.run([MIDIMON, "plugins", "checksum", str(d)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    value = out.stdout.strip()
    assert value == sha(d / "http_request.py")
    assert "sha256:..." in out.stderr  # it says what the manifest has now
    (d / "plugin.toml").write_text(PLAN_MANIFEST.replace("sha256:...", value))
    assert not [w for w in read(d).warnings if "placeholder" in w]
    (d / "http_request.py").write_text(ENTRY + "# changed\n")
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        read(d)


def test_the_checksum_command_json_and_failures(tmp_path):
    f = tmp_path / "solo.py"
    f.write_text(ENTRY)
    out = subprocess.run([MIDIMON, "plugins", "checksum", str(f), "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    doc = json.loads(out.stdout)
    assert doc["checksum"] == sha(f) and doc["sha256"] == sha(f)[7:] and doc["matches"] is None
    missing = subprocess.run(
        [MIDIMON, "plugins", "checksum", str(tmp_path / "nope"), "--json"], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1 and json.loads(missing.stdout)["ok"] is False
    assert "Traceback" not in missing.stderr


# -- PluginEvent -------------------------------------------------------------------------------


def triples(events: list) -> list[tuple[str, str, dict]]:
    """(plugin, event, data), whichever carrier the trigger module hands the engine."""
    return [(e.device, e.name, e.data) if hasattr(e, "device") else tuple(e) for e in events]


PLAN_TRIGGER = '''"""Returns the plan's PluginEvent shape."""
def poll_events():
    return [
        {"plugin_name": "doorbell", "event_type": "ring", "data": {"door": "front"}, "timestamp": time.time()},
        {"plugin_name": "http_request", "event_type": "spoof", "data": {"x": 1}, "timestamp": 0},
        {"event": "ours", "data": {"n": 2}},
    ]
'''


def test_the_plans_plugin_event_shape_from_a_sandboxed_trigger(tmp_path):
    f = tmp_path / "doorbell.py"
    f.write_text("import time\n" + PLAN_TRIGGER)
    with testing.load(f) as p:
        value = p.poll_events()
    events, problems = to_events("doorbell", value)
    assert triples(events) == [
        ("doorbell", "ring", {"door": "front"}),
        ("doorbell", "spoof", {"x": 1}),  # delivered as its own, never as http_request's
        ("doorbell", "ours", {"n": 2}),
    ]
    assert len(problems) == 1 and "'http_request' ignored" in problems[0] and problems[0].startswith("item 1:")


def test_a_plugin_event_without_a_name_is_dropped_with_a_reason():
    events, problems = to_events("p", [{"event_type": "", "data": {}}, {"plugin_name": "p", "data": {}}])
    assert events == [] and len(problems) == 2 and all("event_type" in p for p in problems)


# -- TriggerContext.current_mode ---------------------------------------------------------------


def test_the_engine_context_carries_the_mode_index_beside_its_name():
    from testkit.rig import Rig, mappings

    text = mappings('pad | { type = "Note", note = 1 }', modes=3)
    text += '[[modes.mappings]]\ndescription = "pad2"\ntrigger = { type = "Note", note = 1 }\naction = { type = "Delay", ms = 0 }\n'
    r = Rig(text)
    r.on(0, 1)
    r.engine.set_mode("Mode2")
    r.on(10, 1)
    got = [(d, ctx["mode"], ctx["current_mode"]) for d, ctx in r.fired]
    assert got == [("pad", "Default", 0), ("pad2", "Mode2", 2)]


def test_a_sandboxed_plugin_reads_current_mode(tmp_path):
    f = tmp_path / "which.py"
    f.write_text('def execute(params, context):\n    return [context["mode"], context["current_mode"]]\n')
    with testing.load(f) as p:
        assert p.execute({}, {"mode": "Media", "current_mode": 1}) == ["Media", 1]
        assert p.execute({}, {}) == [None, None]


def test_plain_context_keeps_current_mode_an_index_or_none():
    assert plain_context({"mode": "A", "current_mode": 3})["current_mode"] == 3
    assert plain_context({"current_mode": "3"})["current_mode"] is None
    assert plain_context({"current_mode": True})["current_mode"] is None


def test_through_the_manager_a_spoofed_plugin_name_fires_as_the_plugin_itself(plugins_dir, manager, caplog):
    from pluginkit import write
    from testkit.jack import wait_for

    write(
        plugins_dir / "doorbell.py",
        "poll_interval_ms = 20\n"
        "def poll_events():\n"
        '    return [{"plugin_name": "http_request", "event_type": "ring", "data": {"n": 1}, "timestamp": 0}]\n',
    )
    with caplog.at_level(logging.WARNING, "midimon.plugins"):
        m = manager()
        wait_for(lambda: len(m.events) >= 3, 5, what="events from the trigger")
    assert {(e.device, e.name) for e in m.events} == {("doorbell", "ring")}
    warned = [r.getMessage() for r in caplog.records if "plugin_name 'http_request' ignored" in r.getMessage()]
    assert len(warned) == 1, warned  # said once, not every 20 ms


def test_a_plan_manifest_plugin_installs_and_signs_its_python_entry(tmp_path):
    """`binary` is the entry everywhere: install verifies it and `plugins sign` signs it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    d = folder(tmp_path, PLAN_MANIFEST)
    home = tmp_path / "home"
    env = {**__import__("os").environ, "MIDIMON_HOME": str(home)}
    env.pop("XDG_RUNTIME_DIR", None)
    private = Ed25519PrivateKey.generate()
    key = tmp_path / "k.pem"
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = tmp_path / "k.pub.pem"
    public.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([MIDIMON, *args], env=env, capture_output=True, text=True, timeout=60)

    installed = run("plugins", "install", str(d), "--json")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    signed = run("plugins", "sign", "http_request", "--key", str(key), "--json")
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert run("plugins", "keys", "add", str(public)).returncode == 0
    info = json.loads(run("plugins", "info", "http_request", "--json").stdout)
    # the signature holds over the file the daemon reads (signing another file would not verify)
    assert info["signature"]["status"] == "signed", info
    assert info["signature"]["key_id"] == json.loads(signed.stdout)["key"]
