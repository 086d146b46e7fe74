"""The four real MIDIMon configs load, with the legacy vocabulary warned about by line."""

import shutil

import pytest
from testkit.paths import COMPAT

from midimon.config import ConfigError, load_config
from midimon.config.migrate import migrate_text

FILES = sorted(COMPAT.glob("*.toml"))


def test_all_four_real_configs_are_there():
    assert {f.name for f in FILES} == {
        "config_enhanced.toml",
        "daw-control-ableton.toml",
        "template-maschine-mikro-mk3.toml",
        "v0.1.0-baseline.toml",
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_real_config_loads_and_compiles(path):
    from midimon.engine.table import compile_table

    result = load_config(path)
    table = compile_table(result.config)
    assert table.mapping_count > 0
    # only the legacy file may carry warnings, and only deprecations
    if path.name != "config_enhanced.toml":
        assert result.warnings == []


def test_ableton_config_shape():
    cfg = load_config(COMPAT / "daw-control-ableton.toml").config
    assert [m.name for m in cfg.modes] == ["Ableton Instruments", "Ableton Mixer", "Ableton Effects"]
    assert sum(len(m.mappings) for m in cfg.modes) + len(cfg.global_mappings) == 25
    assert cfg.logging.level == "info"
    seq = cfg.modes[2].mappings[5].action
    assert seq.type == "Sequence" and len(seq.actions) == 12
    assert cfg.modes[0].mappings[2].action.note == 42


def test_legacy_config_warns_with_file_line_and_key():
    result = load_config(COMPAT / "config_enhanced.toml")
    by_key = {w.key: w for w in result.warnings}
    w = by_key["modes[0].mappings[1].trigger.min_velocity"]
    assert w.line == 36 and w.file.endswith("config_enhanced.toml") and "velocity_min" in w.message
    assert by_key["modes[0].mappings[4].trigger.min_duration_ms"].line == 70
    assert by_key["modes[0].mappings[7].action.modifiers[1]"].line == 109
    assert "'Development'" in by_key["global_mappings[0].action.mode"].message
    cfg = result.config
    assert cfg.modes[0].mappings[1].trigger.velocity_max == 40
    assert cfg.modes[0].mappings[1].action.operation == "Down"
    assert cfg.global_mappings[0].action.mode == "Development"
    assert cfg.modes[0].mappings[7].action.modifiers == ["cmd", "alt"]
    assert cfg.advanced_settings.hold_threshold_ms == 2000


def test_strict_turns_deprecations_into_nothing_but_unknown_keys_into_errors(tmp_path):
    # deprecated spellings are accepted in strict mode too (they have a meaning); typos are not
    load_config(COMPAT / "config_enhanced.toml", strict=True)
    bad = tmp_path / "c.toml"
    bad.write_text('[device]\nnmae = "x"\n')
    with pytest.raises(ConfigError) as e:
        load_config(bad, strict=True)
    assert e.value.first().line == 2 and "did you mean 'name'" in e.value.first().message


def test_migrate_keeps_comments_and_removes_every_warning(tmp_path):
    src = (COMPAT / "config_enhanced.toml").read_text()
    new, rewrites = migrate_text(src)
    assert len(rewrites) == 21
    assert load_config("m.toml", text=new).warnings == []
    old_comments = [l for l in src.splitlines() if l.strip().startswith("#")]
    new_comments = [l for l in new.splitlines() if l.strip().startswith("#")]
    assert old_comments == new_comments and len(old_comments) > 20
    assert len(src.splitlines()) == len(new.splitlines())
    assert 'mode = "Development"' in new and '"alt"' in new and "min_velocity" not in new
    before = load_config("a.toml", text=src).config
    after = load_config("b.toml", text=new).config
    assert before == after  # same meaning, new spelling


def test_migrate_cli_writes_in_place_and_is_idempotent(tmp_path, home):
    from midimon.engine.cli import main

    target = tmp_path / "legacy.toml"
    shutil.copy(COMPAT / "config_enhanced.toml", target)
    assert main(["config", "migrate", str(target)]) == 0
    first = target.read_text()
    assert "max_interval_ms" not in first
    assert main(["config", "migrate", str(target)]) == 0
    assert target.read_text() == first
