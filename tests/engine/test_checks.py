"""The engine's checks handed to the config loader: key names are checked at load, with a line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from midimon.config import ConfigError, load_config
from midimon.config.home import Home
from midimon.engine.checks import config_checks
from midimon.engine.cli import main

CONFIG = """[device]
name = "pad"

[[modes]]
name = "Default"

[[modes.mappings]]
trigger = {{ type = "Note", note = 36 }}
action = {{ type = "Keystroke", keys = "{keys}", modifiers = {modifiers} }}
"""


def _text(keys: str, modifiers: str = "[]") -> str:
    return CONFIG.format(keys=keys, modifiers=modifiers)


def test_an_unknown_key_is_an_error_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config("c.toml", text=_text("spce"), checks=config_checks(Home.at(tmp_path)))
    [diag] = info.value.diagnostics
    assert diag.line == 9 and diag.key == "modes[0].mappings[0].action.keys"
    assert "did you mean 'space'" in diag.message


def test_fn_is_accepted_with_a_warning(tmp_path: Path) -> None:
    result = load_config("c.toml", text=_text("f8", '["fn"]'), checks=config_checks(Home.at(tmp_path)))
    assert [w.key for w in result.warnings] == ["modes[0].mappings[0].action.modifiers"]
    assert "'fn' has no key code" in result.warnings[0].message


def test_keys_nested_in_sequences_and_conditionals_are_checked(tmp_path: Path) -> None:
    text = _text("space").replace(
        'action = { type = "Keystroke", keys = "space", modifiers = [] }',
        'action = { type = "Conditional", condition = { type = "Always" }, then_action = '
        '{ type = "Sequence", actions = [{ type = "Keystroke", keys = "ctrl+xyzzy" }] } }',
    )
    with pytest.raises(ConfigError) as info:
        load_config("c.toml", text=text, checks=config_checks(Home.at(tmp_path)))
    assert [d.key for d in info.value.diagnostics] == ["modes[0].mappings[0].action.then_action.actions[0].keys"]


def test_midimon_validate_checks_key_names(tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (home / "config.toml").write_text(_text("spce"))
    assert main(["validate", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["errors"][0]["path"] == "modes[0].mappings[0].action.keys"
    (home / "config.toml").write_text(_text("space"))
    assert main(["validate"]) == 0


def test_the_daemons_reload_checks_key_names_too(tmp_path: Path) -> None:
    from midimon.engine.daemon import build_table

    path = tmp_path / "config.toml"
    path.write_text(_text("spce"))
    with pytest.raises(ConfigError) as info:
        build_table(path, Home.at(tmp_path))
    assert [d.key for d in info.value.diagnostics] == ["modes[0].mappings[0].action.keys"]
    path.write_text(_text("space"))
    table, _result = build_table(path, Home.at(tmp_path))
    assert table.mapping_count == 1
