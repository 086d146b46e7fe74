"""The loader's fast good path, and the slow parts it keeps for errors only.

A good file is parsed by rtoml and never scanned for positions; a bad one is parsed again by
tomli, which names the line and column. The garbage collector is held off during a load and
is back on afterwards, whether the load worked or not.
"""

from __future__ import annotations

import gc

import pytest

from midimon.config import ConfigError, load_config, loader

GOOD = """\
[[modes]]
name = "Default"
[[modes.mappings]]
trigger = { type = "Note", note = 36 }
action = { type = "Delay", ms = 1 }
"""


def test_a_good_file_is_parsed_by_rtoml_and_never_located(monkeypatch: pytest.MonkeyPatch) -> None:
    assert loader.rtoml is not None, "rtoml is a dependency: the fast parser must be installed"
    calls: list[str] = []

    def tomli_loads(text: str) -> dict:
        calls.append("tomli")
        raise AssertionError("a good file must not reach tomli")

    def locate(text: str) -> dict:
        calls.append("locate")
        raise AssertionError("a good file must not be scanned for positions")

    monkeypatch.setattr(loader.tomllib, "loads", tomli_loads)
    monkeypatch.setattr(loader, "locate", locate)
    result = load_config("config.toml", text=GOOD)
    assert result.config.modes[0].mappings[0].trigger.note == 36
    assert calls == []


def test_a_file_rtoml_refuses_gets_tomlis_line_and_column() -> None:
    bad = GOOD + 'name = "again"\n[[modes]\n'
    with pytest.raises(ConfigError) as info:
        load_config("config.toml", text=bad)
    d = info.value.first()
    assert d.file == "config.toml" and d.line == 7 and d.column is not None
    assert d.message.startswith("invalid TOML")


def test_a_value_error_still_names_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_config("config.toml", text=GOOD.replace("note = 36", "note = 300"))
    d = info.value.first()
    assert (d.line, d.key) == (4, "modes[0].mappings[0].trigger.note")


def test_if_rtoml_refuses_what_tomli_accepts_tomli_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refuses:
        @staticmethod
        def loads(text: str) -> dict:
            raise ValueError("refused")

    monkeypatch.setattr(loader, "rtoml", Refuses)
    assert load_config("config.toml", text=GOOD).config.modes[0].name == "Default"


@pytest.mark.parametrize("text", [GOOD, GOOD.replace("note = 36", "note = 300"), "[[modes]\n"])
def test_the_collector_is_back_on_after_a_load(text: str) -> None:
    assert gc.isenabled()
    try:
        load_config("config.toml", text=text)
    except ConfigError:
        pass
    assert gc.isenabled()


def test_a_load_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        load_config("config.toml", text=GOOD)
        assert not gc.isenabled()
    finally:
        gc.enable()
