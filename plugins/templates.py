"""What ``midimon plugins new NAME [--trigger]`` writes: a working plugin and its test."""

from __future__ import annotations

ACTION = '''"""{title}: describe what it does in this first line."""
version = "0.1.0"
# capabilities = ["network"]          # ask for what you need; the user grants it
# hosts = ["https://api.example.com"]  # and say where
params_schema = {{
    "type": "object",
    "properties": {{"text": {{"type": "string"}}}},
    "additionalProperties": False,
}}


def execute(params, context):
    text = params.get("text", "hello")
    count = store.get("count", 0) + 1
    store.set("count", count)
    log.info(text, "from note", context["note"], "velocity", context["velocity"], "#", count)
    return count
'''

TRIGGER = '''"""{title}: describe the events it produces in this first line."""
version = "0.1.0"
poll_interval_ms = 1000   # how often poll_events() runs (default 50)


def initialize(config):
    store.set("ticks", 0)


def poll_events():
    ticks = store.get("ticks", 0) + 1
    store.set("ticks", ticks)
    return [{{"event": "tick", "data": {{"count": ticks}}}}]
'''

ACTION_TEST = '''"""Run with: python -m pytest {test_name}"""
from pathlib import Path

from midimon.plugins.testing import load

PLUGIN = Path({plugin_path!r})


def test_execute_counts_presses(tmp_path):
    with load(PLUGIN, data_dir=tmp_path) as plugin:
        assert plugin.execute({{"text": "hi"}}, {{"note": 36, "velocity": 100}}) == 1
        assert plugin.execute({{"text": "hi"}}, {{"note": 36, "velocity": 90}}) == 2
'''

TRIGGER_TEST = '''"""Run with: python -m pytest {test_name}"""
from pathlib import Path

from midimon.plugins.testing import load

PLUGIN = Path({plugin_path!r})


def test_poll_events_ticks(tmp_path):
    with load(PLUGIN, data_dir=tmp_path) as plugin:
        assert plugin.poll_events() == [{{"event": "tick", "data": {{"count": 1}}}}]
        assert plugin.poll_events()[0]["data"]["count"] == 2
'''


def render(name: str, trigger: bool, plugin_path: str = "") -> tuple[str, str]:
    title = name.replace("_", " ").capitalize()
    source = (TRIGGER if trigger else ACTION).format(title=title)
    test = (TRIGGER_TEST if trigger else ACTION_TEST).format(
        test_name=f"test_{name}.py", plugin_path=plugin_path or f"{name}.py"
    )
    return source, test
