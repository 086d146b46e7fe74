"""The author guide's examples work as written (docs/plugin-author-guide.md)."""

import re
import subprocess
import sys
from pathlib import Path

from midimon.plugins import testing

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugin-author-guide.md"


def python_blocks():
    return re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(), re.S | re.M)


def test_the_two_line_plugin_runs(tmp_path):
    src = python_blocks()[0]
    assert len([l for l in src.splitlines() if l.strip()]) == 2
    (tmp_path / "hello.py").write_text(src)
    with testing.load(tmp_path / "hello.py") as p:
        p.execute({}, {"note": 36, "velocity": 100})
        assert any("hello from note 36 velocity 100" in text for _level, text in p.logs)


def test_the_greeter_uses_its_config_default_and_a_setting(tmp_path):
    src = next(b for b in python_blocks() if "Greets someone" in b)
    (tmp_path / "greeter.py").write_text(src)
    with testing.load(tmp_path / "greeter.py") as p:
        assert p.execute({"name": "Ann"}, {}) == "Hello Ann"
    with testing.load(tmp_path / "greeter.py", settings={"greeting": "Hi"}) as p:
        assert p.execute({"name": "Ann"}, {}) == "Hi Ann"


def test_plugins_new_makes_a_plugin_whose_own_test_passes(home):
    midimon = str(Path(sys.executable).with_name("midimon"))
    made = subprocess.run([midimon, "plugins", "new", "greeter"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    tests = list(home.rglob("test_greeter.py"))
    assert tests, made.stdout
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests[0])],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=home,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "passed" in run.stdout
