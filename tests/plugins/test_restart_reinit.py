"""A worker restarted after a crash or timeout gets initialize(settings) again."""

from midimon.sandbox import Limits
from midimon.sandbox.errors import PluginTimeout

PLUGIN = '''"""Remembers its setting."""
SETUP = {"greeting": None, "inits": 0}

def initialize(config):
    SETUP["greeting"] = config.get("greeting")
    SETUP["inits"] = SETUP["inits"] + 1

def execute(params, context):
    if params.get("hang"):
        while True:
            pass
    return [SETUP["greeting"], SETUP["inits"]]
'''


def test_settings_come_back_after_the_worker_is_killed(manager, plugins_dir):
    (plugins_dir / "greeter.py").write_text(PLUGIN)
    m = manager(limits=Limits(call_timeout=1.0))
    rt = m.runtime
    version = rt.active["greeter"]
    version.settings["greeting"] = "hello"  # as the user's `plugins config --set` stores it
    version.host.call("initialize", {"greeting": "hello"})
    pid_before = version.host.state.get("pid")
    assert version.host.call("execute", {}, {})[0] == "hello"
    try:
        version.host.call("execute", {"hang": True}, {})
    except PluginTimeout:
        pass
    else:
        raise AssertionError("the endless loop was not stopped")
    greeting, inits = version.host.call("execute", {}, {})
    assert version.host.state.get("pid") != pid_before  # a new worker...
    assert greeting == "hello"  # ...that got its settings again
    assert inits == 1  # (a fresh worker counts from zero)
