"""Bad input: each mistake is one clear message with file, line and key path; never a traceback."""

import json

import pytest

from midimon.config import ConfigError, load_config


def errors(text: str, **kw):
    with pytest.raises(ConfigError) as e:
        load_config("bad.toml", text=text, **kw)
    return e.value.diagnostics


def one(text: str):
    diags = errors(text)
    assert len(diags) == 1, diags
    return diags[0]


def test_empty_file():
    d = one("   \n")
    assert d.message == "the file is empty" and d.file == "bad.toml"


def test_invalid_toml_names_line_and_column():
    d = one('[device]\nname = "x\n')
    assert d.line == 2 and "invalid TOML" in d.message


def test_not_utf8():
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config("bad.toml", text=b'[device]\nname = "\xff"\n')


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


M = '[[modes]]\nname = "A"\n[[modes.mappings]]\ntrigger = {trig}\naction = {act}\n'


def mapping(trig='{ type = "Note", note = 1 }', act='{ type = "Delay", ms = 1 }'):
    return M.format(trig=trig, act=act)


@pytest.mark.parametrize(
    "text,key,line,words",
    [
        (
            mapping(trig='{ type = "Note", note = 128 }'),
            "modes[0].mappings[0].trigger.note",
            4,
            "from 0 to 127, got 128",
        ),
        (
            mapping(trig='{ type = "Note", note = 1, channel = 16 }'),
            "modes[0].mappings[0].trigger.channel",
            4,
            "from 0 to 15, got 16",
        ),
        (
            mapping(trig='{ type = "Note", note = "C3" }'),
            "modes[0].mappings[0].trigger.note",
            4,
            "whole number, got 'C3'",
        ),
        (
            mapping(trig='{ type = "NoteChord", notes = [] }'),
            "modes[0].mappings[0].trigger.notes",
            4,
            "at least two notes",
        ),
        (mapping(trig='{ type = "Nte", note = 1 }'), "modes[0].mappings[0].trigger", 4, "did you mean 'Note'"),
        (mapping(trig="{ note = 1 }"), "modes[0].mappings[0].trigger", 4, "needs a 'type' key"),
        (
            mapping(act='{ type = "ModeChange", mode = "B" }'),
            "modes[0].mappings[0].action.mode",
            5,
            "no mode named 'B'",
        ),
        (
            mapping(act='{ type = "VolumeControl", operation = "Set" }'),
            "modes[0].mappings[0].action",
            5,
            "needs a value",
        ),
        (
            mapping(act='{ type = "VolumeControl", operation = "Louder" }'),
            "modes[0].mappings[0].action.operation",
            5,
            "expected one of",
        ),
        (
            mapping(act='{ type = "SendMidi", message_type = "CC" }'),
            "modes[0].mappings[0].action",
            5,
            "needs controller",
        ),
        (mapping(act='{ type = "Shell", command = "" }'), "modes[0].mappings[0].action.command", 5, "command is empty"),
        (
            mapping(
                act='{ type = "Conditional", condition = { type = "TimeRange", start = "25:00", end = "1:00" }, then_action = { type = "Delay", ms = 1 } }'
            ),
            "modes[0].mappings[0].action.condition.start",
            5,
            "HH:MM",
        ),
        (
            mapping(act='{ type = "Sequence", actions = [ { type = "Delay", ms = 1 }, { type = "Delay" } ] }'),
            "modes[0].mappings[0].action.actions[1].ms",
            5,
            "required key is missing",
        ),
        ('[[modes]]\nname = "A"\n[[modes]]\nname = "A"\n', "modes[1].name", 4, "already used by modes[0]"),
        ('[logging]\nlevel = "loud"\n', "logging.level", 2, "expected one of"),
        ("[advanced_settings]\nchord_timeout_ms = -5\n", "advanced_settings.chord_timeout_ms", 2, "at least 0"),
    ],
)
def test_bad_values(text, key, line, words):
    d = one(text)
    assert d.key == key
    assert d.line == line
    assert words in d.message
    assert d.file == "bad.toml"
    assert str(d).startswith(f"bad.toml:{line}:")


def test_several_errors_are_all_reported():
    text = (
        mapping(trig='{ type = "Note", note = 200 }')
        + '[[modes.mappings]]\ntrigger = { type = "CC", cc = -1 }\naction = { type = "Delay", ms = 1 }\n'
    )
    diags = errors(text)
    assert [d.key for d in diags] == ["modes[0].mappings[0].trigger.note", "modes[0].mappings[1].trigger.cc"]


def test_unknown_keys_are_warnings_with_suggestions():
    r = load_config(
        "c.toml", text='[device]\nnaem = "x"\n' + mapping(trig='{ type = "Note", note = 1, velocty_min = 3 }')
    )
    keys = {w.key: w for w in r.warnings}
    assert "did you mean 'name'" in keys["device.naem"].message and keys["device.naem"].line == 2
    assert "did you mean 'velocity_min'" in keys["modes[0].mappings[0].trigger.velocty_min"].message
    assert r.config.modes[0].mappings[0].trigger.velocity_min == 1  # the typo had no effect


def test_validate_cli_exit_codes_and_json(tmp_path, home, capsys):
    from midimon.engine.cli import main

    good = tmp_path / "good.toml"
    good.write_text(mapping())
    bad = tmp_path / "bad.toml"
    bad.write_text(mapping(trig='{ type = "Note", note = 128 }'))
    assert main(["validate", str(good)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["validate", str(bad), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["errors"][0]["line"] == 4
    assert doc["errors"][0]["path"] == "modes[0].mappings[0].trigger.note"
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.toml:4:" in err and "Traceback" not in err


def test_schema_is_valid_json_schema_and_accepts_a_real_config():
    import tomllib

    import jsonschema
    from testkit.paths import COMPAT

    from midimon.engine.cli.config_cmds import schema

    doc = schema()
    jsonschema.Draft202012Validator.check_schema(doc)
    data = tomllib.loads((COMPAT / "daw-control-ableton.toml").read_text())
    jsonschema.validate(data, doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {
                "modes": [
                    {
                        "name": "A",
                        "mappings": [{"trigger": {"type": "Note", "note": 300}, "action": {"type": "Delay", "ms": 1}}],
                    }
                ]
            },
            doc,
        )


def test_starter_config_is_valid_and_written_once(home):
    from midimon.config.home import Home
    from midimon.engine.daemon import ensure_config

    target = Home.at(home).config
    assert ensure_config(target) is True
    assert ensure_config(target) is False
    r = load_config(target)
    assert r.warnings == [] and len(r.config.modes) == 2
