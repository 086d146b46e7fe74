"""The MIDIMon plan's three config examples as the docs show them (issue 11, point 8).

Each snippet is kept here verbatim, checked against the plan when the plan is at hand, and must
stand verbatim in docs/index.md; each block of the docs, pasted as it is into a new home's
config, must validate with no install step. The plan names hosts outside this machine
(``api.example.com``, ``192.168.1.100``); the tests swap exactly those for loopback addresses
and contact nothing. A first-party plugin of the plan that does not ship is skipped with its
name; one that ships must validate, or the test fails. The plugins' own behaviour, live over
JACK after the printed grant command, is tested in tests/plugins/test_plan_snippets.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from testkit.plan_snippets import HOME_AUTOMATION, HTTP, SNIPPETS, SPOTIFY

ROOT = Path(__file__).resolve().parent.parent
MIDIMON = str(Path(sys.executable).with_name("midimon"))

#: What each snippet names outside this machine: swapped for a loopback server in the tests.
REMOTE = {"http_request": "https://api.example.com", "home_automation": "mqtt://192.168.1.100:1883"}
LOOPBACK_STANDINS = {"http_request": "http://127.0.0.1:9", "home_automation": "mqtt://127.0.0.1:9"}


def plan_text() -> str | None:
    """The plan, where it is at hand (shared/ beside the repository, or MIDIMON_PLAN)."""
    for candidate in (
        os.environ.get("MIDIMON_PLAN", ""),
        ROOT.parent / "shared" / "plan" / "v2.3-plugin-architecture.md",
        ROOT.parent.parent / "shared" / "plan" / "v2.3-plugin-architecture.md",
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_text(encoding="utf-8")
    return None


def env_for(home: Path) -> dict[str, str]:
    env = {**os.environ, "MIDIMON_HOME": str(home)}
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def midimon(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MIDIMON, *args], env=env_for(home), capture_output=True, text=True, timeout=60)


def shipped(plugin: str) -> bool:
    from midimon.plugins import discovery

    return plugin in discovery.first_party()


def new_home(tmp_path: Path, text: str) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(text)
    return home


def grant_commands(output: str) -> list[list[str]]:
    """Every `midimon plugins grant ...` command the output quotes, split as a shell would."""
    found = []
    for m in re.finditer(r"midimon plugins grant [^\n`]*", output):
        argv = shlex.split(m.group(0).rstrip(" .;)"))
        if argv[:3] == ["midimon", "plugins", "grant"] and argv not in found:
            found.append(argv)
    return found


# -- the snippets are the plan's --------------------------------------------------------------


def test_the_snippets_here_are_the_plans_verbatim():
    text = plan_text()
    if text is None:
        pytest.skip("the plan is not at hand (shared/plan beside the repository, or MIDIMON_PLAN)")
    appendix = text[text.index("## Appendix") :]
    blocks = re.findall(r"^```toml\n(.*?)^```", appendix, re.S | re.M)
    assert blocks == [HTTP, SPOTIFY, HOME_AUTOMATION]


def test_the_docs_show_each_snippet_verbatim():
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for name, snippet in SNIPPETS.items():
        assert snippet in index, f"docs/index.md lost the plan's {name} example"


# -- each validates on a new home, with no install step ------------------------------------


def docs_block(snippet: str) -> str:
    """The ```toml block of docs/index.md that holds ``snippet``, as a reader copies it."""
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"^```toml\n(.*?)^```", index, re.S | re.M) if snippet in b]
    assert len(blocks) == 1, "docs/index.md should show the snippet in one ```toml block"
    return blocks[0]


@pytest.mark.parametrize("plugin", list(SNIPPETS))
def test_each_snippet_as_the_docs_show_it_validates_on_a_new_home(tmp_path, plugin):
    if not shipped(plugin):
        pytest.skip(f"the first-party plugin {plugin!r} does not ship yet")
    text = docs_block(SNIPPETS[plugin])
    if plugin in REMOTE:
        assert REMOTE[plugin] in text
        text = text.replace(REMOTE[plugin], LOOPBACK_STANDINS[plugin])
    home = new_home(tmp_path, text)
    run = midimon(home, "validate", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    doc = json.loads(run.stdout)
    assert doc["ok"] is True and doc["mappings"] == 1
    # A new home has granted nothing, so the one warning expected says which grant to run, as a
    # complete command. Any other (a param only tolerated, a deprecation of the plan's own names,
    # a plugin not found) would mean the plan's example is not what midimon follows.
    warned = [w["message"] for w in doc.get("warnings", [])]
    others = [m for m in warned if "midimon plugins grant" not in m]
    assert not others, f"the plan's {plugin} example draws warnings: {others}"
    for argv in grant_commands("\n".join(warned)):
        assert argv[3] == plugin and "network" in argv, argv
    plugins_dir = home / "plugins"
    assert not plugins_dir.exists() or not any(plugins_dir.iterdir()), "validate installed something"
