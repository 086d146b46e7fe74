"""Reading declarations, loading versions, and the swap between versions."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
from pluginkit import store_of, write

from midimon.config.home import Home
from midimon.plugins import discovery
from midimon.plugins.integrity import IntegrityError
from midimon.plugins.manifest import ManifestError, parse_source

TWO_LINES = "def execute(params, context):\n    return params['x'] * 2\n"


def test_the_smallest_plugin_is_two_lines(plugins_dir, manager):
    write(plugins_dir / "double.py", TWO_LINES)
    m = manager()
    assert m.plugin_call("double", {"x": 21}, {}) == 42
    assert m.runtime.active["double"].decl.kind == "action"


def test_declarations_are_read_without_running_code():
    src = b'''"""Says hello.\n\nMore text."""
version = "1.2.3"
capabilities = ["network"]
hosts = ["https://api.example.com"]
topics = ["a/#"]
params_schema = {"type": "object"}
raise SystemExit("never runs")
def execute(params, context):
    pass
'''
    d = parse_source("hello", src, "hello.py")
    assert (d.description, d.version, d.capabilities) == ("Says hello.", "1.2.3", ("network",))
    assert d.scopes == {"hosts": ["https://api.example.com"], "publish": ["a/#"], "subscribe": ["a/#"]}
    assert d.params_schema == {"type": "object"} and d.functions == ("execute",)


def test_kind_follows_from_what_the_plugin_defines():
    assert parse_source("t", b"def poll_events():\n    return []\n", "t.py").kind == "trigger"
    with pytest.raises(ManifestError, match="neither execute"):
        parse_source("n", b"x = 1\n", "n.py")


@pytest.mark.parametrize(
    "src,match",
    [
        (b"capabilities = ['teleport']\ndef execute(p, c):\n    pass\n", "unknown capabilities"),
        (b"params_schema = {'type': 12}\ndef execute(p, c):\n    pass\n", "not a valid JSON Schema"),
        (b"version = make()\ndef execute(p, c):\n    pass\n", "plain literal"),
        (b"hosts = [1]\ndef execute(p, c):\n    pass\n", "list of strings"),
        (b"poll_interval_ms = 1\ndef poll_events():\n    pass\n", "at least"),
    ],
)
def test_bad_declarations_are_refused_with_a_reason(src, match):
    with pytest.raises(ManifestError, match=match):
        parse_source("p", src, "p.py")


def test_syntax_error_has_file_line_and_column(plugins_dir, manager):
    write(plugins_dir / "bad.py", "def execute(params, context):\n    return (1 +\n")
    m = manager()
    err = m.error("bad")
    assert err["file"].endswith("bad.py") and err["line"] == 2 and err["col"] > 0
    assert "bad" not in m.runtime.active


def test_sandbox_policy_error_has_file_line_and_column(plugins_dir, manager):
    write(plugins_dir / "sneaky.py", "def execute(params, context):\n    return ().__class__\n")
    m = manager()
    err = m.error("sneaky")
    assert (err["type"], err["line"]) == ("PluginCompileError", 2) and err["col"] > 0


def test_module_level_exception_is_a_load_error(plugins_dir, manager):
    write(plugins_dir / "boom.py", "x = 1 // 0\ndef execute(params, context):\n    pass\n")
    m = manager()
    assert m.error("boom")["type"] == "PluginLoadError"
    assert "ZeroDivisionError" in m.error("boom")["text"]


def folder_plugin(root, name="folded", checksum=True, entry="main.py", code=TWO_LINES):
    d = root / name
    d.mkdir()
    (d / entry).write_text(code)
    digest = hashlib.sha256(code.encode()).hexdigest()
    (d / "plugin.toml").write_text(f'''[plugin]
name = "{name}"
version = "2.0.0"
description = "A folder plugin"
type = "action"
entry = "{entry}"
{f'checksum = "sha256:{digest}"' if checksum else ""}
[plugin.capabilities]
network = true
hosts = ["https://api.example.com"]
''')
    return d


def test_folder_plugin_with_manifest_and_checksum(plugins_dir, manager):
    folder_plugin(plugins_dir)
    m = manager()
    v = m.runtime.active["folded"]
    assert (v.decl.version, v.decl.capabilities, v.decl.description) == ("2.0.0", ("network",), "A folder plugin")
    assert m.plugin_call("folded", {"x": 2}, {}) == 4


def test_folder_entry_outside_the_folder_is_refused(plugins_dir):
    folder_plugin(plugins_dir, entry="main.py")
    toml = plugins_dir / "folded" / "plugin.toml"
    toml.write_text(toml.read_text().replace('entry = "main.py"', 'entry = "../main.py"'))
    cand = discovery.scan(plugins_dir)[0]["folded"]
    with pytest.raises(ManifestError, match="directly inside"):
        discovery.read(cand)


def test_a_failed_edit_keeps_the_old_version(plugins_dir, manager):
    write(plugins_dir / "p.py", TWO_LINES)
    m = manager()
    write(plugins_dir / "p.py", "def execute(params, context)\n    return 0\n")
    m.sync("test")
    assert m.error("p")["keeps_previous_version"] is True
    assert m.plugin_call("p", {"x": 1}, {}) == 2


def test_calls_in_flight_finish_on_the_old_version(plugins_dir, manager):
    slow = "import time\ndef execute(params, context):\n    time.sleep(params.get('s', 0))\n    return 'old'\n"
    write(plugins_dir / "p.py", slow)
    m = manager()
    result = {}
    t = threading.Thread(target=lambda: result.update(r=m.plugin_call("p", {"s": 0.6}, {})))
    t.start()
    time.sleep(0.2)
    write(plugins_dir / "p.py", slow.replace("'old'", "'new'"))
    m.sync("test")
    t.join(5)
    assert result["r"] == "old"
    assert m.plugin_call("p", {}, {}) == "new"


def test_old_shutdown_runs_before_new_initialize(plugins_dir, manager, home):
    src = """def initialize(config):
    store.set("log", store.get("log", []) + ["init {v}"])
def shutdown():
    store.set("log", store.get("log", []) + ["shutdown {v}"])
def execute(params, context):
    return "{v}"
"""
    write(plugins_dir / "life.py", src.format(v=1))
    m = manager()
    write(plugins_dir / "life.py", src.format(v=2))
    m.sync("test")
    assert m.plugin_call("life", {}, {}) == "2"
    m.close()
    assert store_of(home, "life")["log"] == ["init 1", "shutdown 1", "init 2", "shutdown 2"]


def test_initialize_gets_settings_with_schema_defaults(plugins_dir, manager):
    from midimon.plugins.state import PluginState

    write(
        plugins_dir / "cfg.py",
        """config_schema = {"type": "object", "properties": {"a": {"default": 1}, "b": {}}}
seen = {}
def initialize(config):
    seen.update(config)
def execute(params, context):
    return seen
""",
    )
    PluginState(Home.from_env().plugin_state).update_plugin("cfg", lambda e: e.__setitem__("settings", {"b": "x"}))
    m = manager()
    assert m.plugin_call("cfg", {}, {}) == {"a": 1, "b": "x"}


def test_touching_a_file_without_changing_it_does_not_reload(plugins_dir, manager):
    p = write(plugins_dir / "p.py", TWO_LINES)
    m = manager()
    first = m.runtime.active["p"]
    p.touch()
    write(p, TWO_LINES)
    m.sync("test")
    assert m.runtime.active["p"] is first  # the same version: nothing was built again


def test_symlinked_plugin_file_is_not_read(tmp_path):
    real = tmp_path / "real.py"
    real.write_text(TWO_LINES)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    with pytest.raises(IntegrityError, match="symbolic link"):
        discovery.read(discovery.Candidate("link", "file", link))
