"""The manager's operations (shared by the CLI and the web UI) and the CLI itself."""

from __future__ import annotations

import json
import zipfile

import pytest
from pluginkit import cli, cli_json, write

from midimon.config.home import Home
from midimon.plugins import operations as ops
from midimon.plugins.state import PluginState

CODE = '''"""Says hi."""
version = "1.0.0"
capabilities = ["network"]
hosts = ["https://api.example.com"]
config_schema = {"type": "object", "properties": {"port": {"type": "integer"}, "name": {"type": "string"}},
                 "additionalProperties": False}
def execute(params, context):
    return "hi"
'''


@pytest.fixture
def src(tmp_path):
    p = tmp_path / "src" / "greeter.py"
    p.parent.mkdir()
    p.write_text(CODE)
    return p


def test_install_a_py_file_shows_what_it_asks_for(home, src):
    r = ops.install(Home.from_env(), str(src))
    assert r["installed"] == "greeter" and (home / "plugins" / "greeter.py").read_text() == CODE
    assert r["asks_for"][0]["capability"] == "network"
    assert r["asks_for"][0]["scopes"] == {"hosts": ["https://api.example.com"]}
    assert r["granted"] == [] and PluginState(Home.from_env().plugin_state).entry("greeter")["grants"] == {}


def test_install_with_grant_records_the_declared_scopes(home, src):
    ops.install(Home.from_env(), str(src), grant=True)
    assert PluginState(Home.from_env().plugin_state).entry("greeter")["grants"]["network"]["scopes"] == {
        "hosts": ["https://api.example.com"]
    }


def test_install_refuses_to_overwrite_without_force(home, src):
    ops.install(Home.from_env(), str(src))
    with pytest.raises(ops.OperationError, match="already installed"):
        ops.install(Home.from_env(), str(src))
    ops.install(Home.from_env(), str(src), force=True)


def test_install_refuses_an_invalid_plugin_and_copies_nothing(home, tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("def execute(:\n")
    with pytest.raises(ops.OperationError, match="broken.py:1"):
        ops.install(Home.from_env(), str(bad))
    assert not (home / "plugins" / "broken.py").exists()


def test_install_a_folder(home, tmp_path):
    d = tmp_path / "folded"
    d.mkdir()
    (d / "plugin.py").write_text("def execute(params, context):\n    return 1\n")
    (d / "plugin.toml").write_text('[plugin]\nname = "folded"\nversion = "0.2.0"\n')
    r = ops.install(Home.from_env(), str(d))
    assert r["version"] == "0.2.0" and (home / "plugins" / "folded" / "plugin.toml").exists()


def test_install_a_zip(home, tmp_path):
    z = tmp_path / "zipped.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("zipped/plugin.toml", '[plugin]\nname = "zipped"\n')
        zf.writestr("zipped/plugin.py", "def execute(params, context):\n    return 1\n")
    assert ops.install(Home.from_env(), str(z))["installed"] == "zipped"
    assert (home / "plugins" / "zipped" / "plugin.py").exists()


@pytest.mark.parametrize("member", ["../evil.py", "/tmp/evil.py", "zipped/../../evil.py"])
def test_zip_slip_is_rejected(home, tmp_path, member):
    z = tmp_path / "slip.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("zipped/plugin.toml", '[plugin]\nname = "zipped"\n')
        zf.writestr(member, "owned = True\n")
    with pytest.raises(ops.OperationError, match="outside the plugin folder"):
        ops.install(Home.from_env(), str(z))
    assert not (tmp_path / "evil.py").exists() and not (home / "plugins" / "zipped").exists()


def test_install_builtin(home):
    r = ops.install(Home.from_env(), "builtin:http_request")
    assert r["installed"] == "http_request"
    assert "http_request" not in ops.list_plugins(Home.from_env())["available_builtin"]


def test_uninstall_keeps_data_unless_purged(home, src):
    ops.install(Home.from_env(), str(src))
    (home / "plugins-data" / "greeter").mkdir(parents=True)
    ops.grant_capability(Home.from_env(), "greeter", "network")
    r = ops.uninstall(Home.from_env(), "greeter")
    assert r["data_kept"] and not (home / "plugins" / "greeter.py").exists()
    assert PluginState(Home.from_env().plugin_state).entry("greeter")["grants"] == {}
    with pytest.raises(ops.OperationError, match="no plugin named"):
        ops.uninstall(Home.from_env(), "greeter")


def test_enable_disable(home, src):
    ops.install(Home.from_env(), str(src))
    ops.set_enabled(Home.from_env(), "greeter", False)
    assert PluginState(Home.from_env().plugin_state).enabled("greeter") is False
    ops.set_enabled(Home.from_env(), "greeter", True)
    assert PluginState(Home.from_env().plugin_state).enabled("greeter") is True


def test_grant_unknown_or_undeclared_capability_is_refused(home, src):
    ops.install(Home.from_env(), str(src))
    with pytest.raises(ops.OperationError, match="unknown capability"):
        ops.grant_capability(Home.from_env(), "greeter", "teleport")
    with pytest.raises(ops.OperationError, match="does not ask for 'subprocess'"):
        ops.grant_capability(Home.from_env(), "greeter", "subprocess")


def test_grant_with_extra_scopes_and_revoke(home, src):
    ops.install(Home.from_env(), str(src))
    r = ops.grant_capability(Home.from_env(), "greeter", "network", ["hosts=http://127.0.0.1:9"])
    assert r["scopes"]["hosts"] == ["http://127.0.0.1:9", "https://api.example.com"]
    with pytest.raises(ops.OperationError, match="belongs to the 'subprocess'"):
        ops.grant_capability(Home.from_env(), "greeter", "network", ["commands=rm"])
    assert ops.revoke_capability(Home.from_env(), "greeter", "network")["was_granted"] is True
    assert PluginState(Home.from_env().plugin_state).entry("greeter")["grants"] == {}


def test_config_set_is_validated_against_config_schema(home, src):
    ops.install(Home.from_env(), str(src))
    assert ops.configure(Home.from_env(), "greeter", ["port=1883", "name=x"])["settings"] == {"port": 1883, "name": "x"}
    with pytest.raises(ops.OperationError, match="port"):
        ops.configure(Home.from_env(), "greeter", ["port=high"])
    with pytest.raises(ops.OperationError, match="Additional properties"):
        ops.configure(Home.from_env(), "greeter", ["colour=red"])
    assert ops.configure(Home.from_env(), "greeter", unset=["name"])["settings"] == {"port": 1883}


def test_secret_settings_are_masked(home):
    # spotify ships with midimon: no install step before its settings
    shown = ops.configure(Home.from_env(), "spotify", ["access_token=abc"])["settings"]
    assert shown["access_token"] == "***"
    assert PluginState(Home.from_env().plugin_state).entry("spotify")["settings"]["access_token"] == "abc"


def test_new_writes_a_plugin_that_loads(home, manager):
    r = ops.new(Home.from_env(), "my_action")
    t = ops.new(Home.from_env(), "my_trigger", trigger=True)
    m = manager()
    assert m.plugin_call("my_action", {"text": "x"}, {"note": 1, "velocity": 2}) == 1
    assert m.runtime.active["my_trigger"].decl.kind == "trigger"
    assert "from midimon.plugins.testing import load" in open(r["test"]).read()
    assert open(t["test"]).read()
    with pytest.raises(ops.OperationError, match="already exists"):
        ops.new(Home.from_env(), "my_action")


def test_policy_setting(home):
    assert ops.set_policy(Home.from_env(), None)["signature_policy"] == "allow"
    assert ops.set_policy(Home.from_env(), "require")["signature_policy"] == "require"
    with pytest.raises(ops.OperationError):
        ops.set_policy(Home.from_env(), "maybe")


def test_cli_list_and_info_json(home, src):
    cli("plugins", "install", str(src), home=home)
    data = cli_json("plugins", "list", home=home)
    greeter = next(p for p in data["plugins"] if p["name"] == "greeter")  # first-party ones are listed too
    assert greeter["source"] == "file" and greeter["state"] == "stopped" and data["daemon_running"] is False
    info = cli_json("plugins", "info", "greeter", home=home)
    # the same record shape the daemon returns: what it asks for, nothing granted yet
    assert info["description"] == "Says hi." and "network" in info["capabilities_requested"]
    assert info["grants"] == {} and info["error"] is None


def test_cli_errors_are_one_line_with_exit_code_1(home):
    proc = cli("plugins", "info", "ghost", home=home, check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("midimon: error: no plugin named 'ghost'")
    assert "Traceback" not in proc.stderr
    data = json.loads(cli("plugins", "grant", "ghost", "network", "--json", home=home, check=False).stdout)
    assert data["ok"] is False


def test_cli_human_list_shows_state(home, src):
    cli("plugins", "install", str(src), home=home)
    cli("plugins", "disable", "greeter", home=home)
    out = cli("plugins", "list", home=home).stdout
    assert "greeter" in out and "disabled" in out and "Says hi." in out


def test_status_reports_errors_timeouts_and_calls(plugins_dir, manager):
    from midimon.sandbox import Limits

    write(plugins_dir / "slow.py", "import time\ndef execute(params, context):\n    time.sleep(5)\n")
    m = manager(limits=Limits(call_timeout=0.3))
    with pytest.raises(Exception, match="did not finish"):
        m.plugin_call("slow", {}, {})
    s = next(p for p in m.status()["plugins"] if p["name"] == "slow")
    assert s["counters"]["timeouts"] == 1 and s["counters"]["calls"] == 1
