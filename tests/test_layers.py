"""Layers point down only (DESIGN.md): each folder imports only the midimon folders below it.

``config`` is the ground floor; ``sandbox`` may use ``config`` for the shared error base, the
``Home`` and the one atomic write; ``plugins`` may use ``sandbox`` and ``config``; ``engine`` may
use all. Every import counts, including those inside functions and ``TYPE_CHECKING`` blocks: a
deferred import upward is still a dependency upward.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("config", "sandbox", "plugins", "engine")

#: what each folder may import, as module prefixes (a prefix also allows its submodules)
ALLOWED: dict[str, tuple[str, ...]] = {
    "config": ("midimon.config",),
    # config.atomic: the one crash-safe write; it imports nothing of midimon (see docs/quality.md)
    "sandbox": ("midimon.sandbox", "midimon.config.errors", "midimon.config.home", "midimon.config.atomic"),
    "plugins": ("midimon.plugins", "midimon.sandbox", "midimon.config"),
    "engine": ("midimon.engine", "midimon.plugins", "midimon.sandbox", "midimon.config"),
}


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["midimon", *parts])


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module) for every midimon import in ``path``.

    ``from midimon.config import errors`` names the submodule ``midimon.config.errors``;
    ``from midimon.config import load_config`` names the package ``midimon.config`` itself.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "midimon":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != "midimon":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if _is_module(sub) else base


def _is_module(name: str) -> bool:
    parts = name.split(".")[1:]
    if not parts:
        return False
    target = ROOT.joinpath(*parts)
    return target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()


def _allowed(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(folder: str) -> list[str]:
    out = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for line, name in imports(path):
            if not _allowed(name, ALLOWED[folder]):
                out.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    return out


@pytest.mark.parametrize("folder", FOLDERS)
def test_layers_point_down(folder: str) -> None:
    found = violations(folder)
    assert not found, f"{folder}/ may import only {', '.join(ALLOWED[folder])}:\n" + "\n".join(found)


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The checker itself: absolute, relative, deferred and TYPE_CHECKING imports all count."""
    fake = tmp_path / "sandbox"
    (fake / "capabilities").mkdir(parents=True)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "errors.py").write_text("")
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "events.py").write_text("")
    (fake / "capabilities" / "x.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from midimon.config import errors\n"  # allowed: the error base
        "from midimon.config import load_config\n"  # the package itself: not allowed
        "from ..grants import Grants\n"  # relative, inside sandbox
        "if TYPE_CHECKING:\n"
        "    from midimon.engine.daemon import Daemon\n"
        "def f():\n"
        "    import midimon.engine.events\n"
    )
    saved = ROOT
    globals()["ROOT"] = tmp_path  # the checker reads the module's ROOT
    try:
        found = violations("sandbox")
    finally:
        globals()["ROOT"] = saved
    assert found == [
        "sandbox/capabilities/x.py:3: imports midimon.config",
        "sandbox/capabilities/x.py:6: imports midimon.engine.daemon",
        "sandbox/capabilities/x.py:8: imports midimon.engine.events",
    ]
