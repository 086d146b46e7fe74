"""Habits the type checker relies on (docs/quality.md).

- The engine's dispatch on config models goes by class (``match`` / isinstance), never by the
  ``type`` string, so that a misspelt field is a type error. Checked here on the source, and
  checked for real by running mypy on a small module that misspells a field.
- Every ``type: ignore`` names its error code (mypy enforces it too: ``ignore-without-code``).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: the modules that dispatch on config models
DISPATCHERS = [
    ROOT / "engine" / "actions" / "runner.py",
    ROOT / "engine" / "table.py",
    ROOT / "engine" / "conditions.py",
    ROOT / "engine" / "recognizer.py",
    ROOT / "engine" / "curves.py",
    ROOT / "engine" / "feedback.py",
    ROOT / "engine" / "daemon.py",
    ROOT / "plugins" / "config_checks.py",
    ROOT / "plugins" / "grant_needs.py",
    *sorted((ROOT / "config").glob("*.py")),
]
# config/legacy.py rewrites raw TOML dicts, before there are models: strings are all it has
RAW_TOML = {ROOT / "config" / "legacy.py"}


def _string_tag_tests(path: Path) -> list[str]:
    """``x.type == "Name"`` / ``x.type in ("A", "B")`` comparisons, and ``{"Name": handler}`` tables."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute) and node.left.attr == "type":
            for right in node.comparators:
                names = right.elts if isinstance(right, (ast.Tuple, ast.List, ast.Set)) else [right]
                if any(
                    isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value[:1].isupper() for n in names
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: compares .type with a string")
        if isinstance(node, ast.Dict) and node.keys:
            keys = [k for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            handlers = [v for v in node.values if isinstance(v, (ast.Attribute, ast.Lambda))]
            if len(keys) >= 3 and len(handlers) >= 3 and all(k.value[:1].isupper() for k in keys):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: a table of handlers keyed by type name")
    return found


@pytest.mark.parametrize("path", [p for p in DISPATCHERS if p not in RAW_TOML], ids=lambda p: p.name)
def test_dispatch_is_on_model_classes(path: Path) -> None:
    assert _string_tag_tests(path) == []


def test_the_source_check_sees_a_string_tag(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def run(a):\n"
        '    if a.type == "Keystroke":\n'
        "        pass\n"
        '    table = {"Keystroke": a.k, "Text": a.t, "Shell": lambda x: x}\n'
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert len(_string_tag_tests(sample)) == 2
    finally:
        ROOT = saved


def test_mypy_sees_a_misspelt_field(tmp_path: Path) -> None:
    """What the class dispatch buys: on the narrowed model, a wrong field name is an error."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from midimon.config.models import Action, KeystrokeAction\n"
        "def keys(action: Action) -> str:\n"
        "    match action:\n"
        "        case KeystrokeAction():\n"
        "            return action.kyes\n"
        '    return ""\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), str(probe)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"KeystrokeAction" has no attribute "kyes"' in result.stdout


def test_every_type_ignore_names_its_code() -> None:
    bare = re.compile(r"#\s*type:\s*ignore(?!\[)")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("config", "engine", "sandbox", "plugins")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(line)
    ]
    assert found == []
