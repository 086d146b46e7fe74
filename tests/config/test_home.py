"""``Home``: every path, worked out once from the environment (or a root) and passed down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from midimon.config.home import Home
from midimon.engine.cli import main


def test_from_env_reads_midimon_home_with_tilde_and_the_runtime_dir(tmp_path: Path) -> None:
    env = {"MIDIMON_HOME": "~/mm", "XDG_RUNTIME_DIR": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    home = Home.from_env(env)
    assert home.root == Path("~/mm").expanduser()
    assert home.runtime == tmp_path / "xdg" / "midimon"
    assert home.socket == tmp_path / "xdg" / "midimon" / "midimon.sock"
    assert home.config == home.root / "config.toml"


def test_without_xdg_runtime_dir_the_runtime_folder_is_in_the_home(tmp_path: Path) -> None:
    home = Home.from_env({"MIDIMON_HOME": str(tmp_path)})
    assert home.runtime == tmp_path / "run"


def test_config_overrides_only_the_config_file(tmp_path: Path) -> None:
    home = Home.from_env({"MIDIMON_HOME": str(tmp_path)}, config=tmp_path / "other.toml")
    assert home.config == tmp_path / "other.toml"
    assert home.plugins == tmp_path / "plugins" and home.audit == tmp_path / "logs" / "audit.jsonl"


def test_every_path_is_under_the_root_or_the_runtime_folder(tmp_path: Path) -> None:
    home = Home.at(tmp_path / "h", runtime=tmp_path / "r")
    for key, value in home.to_json().items():
        assert Path(value).is_relative_to(tmp_path / "h") or Path(value).is_relative_to(tmp_path / "r"), key


def test_config_path_shows_the_processs_home(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "path", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == Home.at(home).to_json()


ROOT = Path(__file__).resolve().parents[2]
#: where a process makes its one Home: the CLI entry (every command, `midimon run` included)
ENTRY = {"engine/cli/__init__.py"}
PATH_VARIABLES = ("MIDIMON_HOME", "XDG_RUNTIME_DIR")


def _package_files() -> list[Path]:
    return sorted(p for folder in ("config", "engine", "sandbox", "plugins") for p in (ROOT / folder).rglob("*.py"))


def test_only_home_reads_the_environment_for_a_path() -> None:
    found = []
    for path in _package_files():
        rel = str(path.relative_to(ROOT))
        if rel == "config/home.py":
            continue
        text = path.read_text(encoding="utf-8")
        for n, line in enumerate(text.splitlines(), 1):
            code = line.split("#", 1)[0]
            if any(f'"{v}"' in code or f"'{v}'" in code for v in PATH_VARIABLES) and (
                "environ" in code or "getenv" in code
            ):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert found == []


def test_a_process_makes_its_home_once_at_the_entry() -> None:
    import ast

    found = []
    for path in _package_files():
        rel = str(path.relative_to(ROOT))
        if rel in ENTRY or rel in ("config/home.py", "config/paths.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "from_env"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "Home"
            ):
                found.append(f"{rel}:{node.lineno}")
    assert found == [], "take the Home handed down (args.home, daemon.home) instead of Home.from_env()"


def test_config_paths_is_gone() -> None:
    # the module-level helpers read the environment at every call: exactly what Home replaced
    assert not (ROOT / "config" / "paths.py").exists()
