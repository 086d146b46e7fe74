"""Permissions, checksums and signatures: each test checks that the effect did not happen."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pluginkit import write

from midimon.config.home import Home
from midimon.plugins import operations as ops
from midimon.plugins.errors import PluginActionError as ActionError

TOUCH = """capabilities = ["subprocess"]
commands = ["touch"]
def execute(params, context):
    shell.run(["touch", params["path"]])
"""


def test_declared_but_ungranted_capability_is_not_given(plugins_dir, manager, tmp_path):
    write(plugins_dir / "toucher.py", TOUCH)
    m = manager()
    with pytest.raises(ActionError, match="not granted"):
        m.plugin_call("toucher", {"path": str(tmp_path / "x")}, {})
    assert not (tmp_path / "x").exists()


def test_granted_capability_works_and_revoke_applies_on_the_next_call(plugins_dir, manager, tmp_path):
    write(plugins_dir / "toucher.py", TOUCH)
    m = manager()
    ops.grant_capability(Home.from_env(), "toucher", "subprocess", yes=True)
    m.sync("grant")  # what the daemon's plugins.grant does after the operation
    m.plugin_call("toucher", {"path": str(tmp_path / "a")}, {})
    assert (tmp_path / "a").exists()
    ops.revoke_capability(Home.from_env(), "toucher", "subprocess")
    m.sync("revoke")
    with pytest.raises(ActionError, match="not granted"):
        m.plugin_call("toucher", {"path": str(tmp_path / "b")}, {})
    assert not (tmp_path / "b").exists()


def test_an_edit_asking_for_more_gets_nothing_new(plugins_dir, manager, tmp_path):
    write(plugins_dir / "toucher.py", TOUCH)
    ops.grant_capability(Home.from_env(), "toucher", "subprocess", yes=True)
    m = manager()
    write(
        plugins_dir / "toucher.py",
        TOUCH.replace('["touch"]', '["touch", "rm"]').replace(
            'shell.run(["touch", params["path"]])', 'shell.run(["rm", params["path"]])'
        ),
    )
    m.sync("test")
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    with pytest.raises(ActionError, match="denied"):
        m.plugin_call("toucher", {"path": str(victim)}, {})
    assert victim.exists()
    assert m.runtime.active["toucher"].pending == {"commands": ["rm"]}


def test_a_new_capability_in_an_edit_is_not_granted(plugins_dir, manager, tmp_path):
    write(plugins_dir / "p.py", "def execute(params, context):\n    return 1\n")
    m = manager()
    write(plugins_dir / "p.py", TOUCH)
    m.sync("test")
    with pytest.raises(ActionError, match="not granted"):
        m.plugin_call("p", {"path": str(tmp_path / "c")}, {})
    assert not (tmp_path / "c").exists()


def test_a_plugin_cannot_grant_itself_through_the_state_file(plugins_dir, manager, home):
    write(
        plugins_dir / "sneaky.py",
        """capabilities = ["filesystem"]
def execute(params, context):
    fs.write_text("../../plugin-state.json", "{}")
""",
    )
    ops.grant_capability(Home.from_env(), "sneaky", "filesystem")
    before = (home / "plugin-state.json").read_text()
    m = manager()
    with pytest.raises(ActionError):
        m.plugin_call("sneaky", {}, {})
    assert (home / "plugin-state.json").read_text() == before


def folder(plugins_dir, code, checksum):
    d = plugins_dir / "sealed"
    d.mkdir(exist_ok=True)
    (d / "plugin.py").write_text(code)
    (d / "plugin.toml").write_text(f'[plugin]\nname = "sealed"\nchecksum = "sha256:{checksum}"\n')
    return d


def test_checksum_mismatch_is_refused_with_the_reason(plugins_dir, manager):
    code = "def execute(params, context):\n    return 'sealed'\n"
    folder(plugins_dir, code, hashlib.sha256(code.encode()).hexdigest())
    m = manager()
    assert m.plugin_call("sealed", {}, {}) == "sealed"
    (plugins_dir / "sealed" / "plugin.py").write_text(code.replace("sealed", "tampered"))
    m.sync("test")
    assert "checksum mismatch" in m.error("sealed")["message"]
    assert m.plugin_call("sealed", {}, {}) == "sealed"  # the verified version keeps running


def keypair(tmp_path, home):
    key = Ed25519PrivateKey.generate()
    priv = tmp_path / "signing.pem"
    priv.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    pub = tmp_path / "signing.pub.pem"
    pub.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return priv, pub


CODE = "def execute(params, context):\n    return 'signed'\n"


def test_require_policy_refuses_unsigned_plugins(plugins_dir, manager):
    ops.set_policy(Home.from_env(), "require")
    write(plugins_dir / "p.py", CODE)
    m = manager()
    assert "p" not in m.runtime.active and "not signed" in m.error("p")["message"]


def test_signed_plugin_with_trusted_key_loads_under_require(plugins_dir, manager, tmp_path, home):
    priv, pub = keypair(tmp_path, home)
    ops.keys_add(Home.from_env(), str(pub), "me")
    write(plugins_dir / "p.py", CODE)
    ops.sign(Home.from_env(), "p", str(priv))
    ops.set_policy(Home.from_env(), "require")
    assert ops.verify(Home.from_env(), "p")["signature_valid"] is True
    m = manager()
    assert m.plugin_call("p", {}, {}) == "signed"


def test_a_signed_plugin_edited_afterwards_is_refused(plugins_dir, manager, tmp_path, home):
    priv, pub = keypair(tmp_path, home)
    ops.keys_add(Home.from_env(), str(pub), "me")
    write(plugins_dir / "p.py", CODE)
    ops.sign(Home.from_env(), "p", str(priv))
    (plugins_dir / "p.py").write_text(CODE.replace("signed", "evil"))
    m = manager()  # even under the default 'allow' policy: a signature that does not hold is refused
    assert "p" not in m.runtime.active
    assert "does not match any trusted key" in m.error("p")["message"]


def test_a_signature_by_an_untrusted_key_is_refused(plugins_dir, manager, tmp_path, home):
    priv, _ = keypair(tmp_path, home)
    other = tmp_path / "other"
    other.mkdir()
    _, pub2 = keypair(other, home)
    ops.keys_add(Home.from_env(), str(pub2), "someone-else")
    write(plugins_dir / "p.py", CODE)
    ops.sign(Home.from_env(), "p", str(priv))
    r = ops.verify(Home.from_env(), "p")
    assert r["ok"] is False and "does not match any trusted key" in r["message"]
    m = manager()
    assert "p" not in m.runtime.active


def test_keys_add_list_remove(home, tmp_path):
    _, pub = keypair(tmp_path, home)
    added = ops.keys_add(Home.from_env(), str(pub), "alice")
    assert [k["name"] for k in ops.keys_list(Home.from_env())["keys"]] == ["alice"]
    assert added["fingerprint"].startswith("ed25519:")
    ops.keys_remove(Home.from_env(), "alice")
    assert ops.keys_list(Home.from_env())["keys"] == []
    with pytest.raises(ops.OperationError):
        ops.keys_add(Home.from_env(), str(tmp_path / "signing.pem"))  # a private key is not a public key


def test_warn_policy_loads_unsigned_with_a_warning(plugins_dir, manager):
    ops.set_policy(Home.from_env(), "warn")
    write(plugins_dir / "p.py", CODE)
    m = manager()
    assert m.plugin_call("p", {}, {}) == "signed"
    assert "not signed" in m.records["p"].warnings[0]
