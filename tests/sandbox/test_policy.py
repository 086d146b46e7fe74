"""compile_plugin: what is refused, and how the refusal reads to a plugin author."""

from __future__ import annotations

import pytest

from midimon.sandbox import PluginCompileError, compile_plugin


def error_for(source: str) -> PluginCompileError:
    with pytest.raises(PluginCompileError) as info:
        compile_plugin(source, "plug.py")
    return info.value


def test_valid_plugin_compiles_from_bytes_and_str() -> None:
    src = "import json\ndef f(x):\n    return json.dumps({'x': x})\n"
    assert compile_plugin(src.encode(), "p.py").filename == "p.py"
    assert compile_plugin(src, "p.py").code.co_filename == "p.py"


def test_error_has_file_line_column_and_a_reason() -> None:
    err = error_for("x = 1\n\ndef f():\n    return x._secret\n")
    assert (err.filename, err.lineno, err.col) == ("plug.py", 4, 12)
    assert "names starting with '_' are not allowed because" in err.message
    assert str(err) == f"plug.py:4:12: {err.message}"


def test_every_problem_is_reported_sorted() -> None:
    err = error_for("a = b._x\nc = d._y\n")
    assert [p[0] for p in err.problems] == [1, 2]


def test_syntax_error_is_structured() -> None:
    err = error_for("def f(:\n    pass\n")
    assert err.lineno == 1 and err.col >= 1
    assert err.message.startswith("syntax error:")


@pytest.mark.parametrize(
    "source, words",
    [
        ("eval('1')", "exec and eval are not available"),
        ("class A(metaclass=type):\n    pass\n", "metaclasses are not allowed"),
        ("async def f():\n    pass\n", "async code is not supported"),
        ("from json import *\n", "'import *' is not allowed"),
        ("try:\n    pass\nexcept* ValueError:\n    pass\n", "CVE-2025-22153"),
        ("g = (i for i in [1])\nf = g.gi_frame\n", "'gi_frame'"),
        ("x = 'a'.format_map({})\n", "'format_map'"),
        ("x = 1\nx.a += 1\n", "augmented assignment"),
        ("match 1:\n    case 1:\n        pass\n", "'Match' syntax is not allowed"),
        ("printed = 1\n", "reserved"),
    ],
)
def test_refusals_say_why(source: str, words: str) -> None:
    assert words in error_for(source).message


def test_invalid_utf8_and_nul_and_size() -> None:
    with pytest.raises(PluginCompileError, match="UTF-8"):
        compile_plugin(b"x = '\xff'", "p.py")
    with pytest.raises(PluginCompileError, match="NUL"):
        compile_plugin("x = 1\x00", "p.py")
    with pytest.raises(PluginCompileError, match="larger than"):
        compile_plugin("x = 1\n" * 10, "p.py", max_source_bytes=20)


def test_deep_nesting_is_a_compile_error_not_a_crash() -> None:
    with pytest.raises(PluginCompileError):
        compile_plugin("x = " + "(" * 5000 + ")" * 5000, "p.py")
