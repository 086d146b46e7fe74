"""Issue 11 point 5: grants in one step. Every command midimon prints grants exactly what is
missing when run as printed; dangerous grants ask on a terminal, refuse without one, and never
wait for an answer that cannot come."""

from __future__ import annotations

import json
import os
import pty
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pluginkit import cli, cli_json, write

from midimon.plugins.state import PluginState
from midimon.sandbox.grants import grant_command

MIDIMON = str(Path(sys.executable).with_name("midimon"))

SHELLER = '''"""Runs a listed program."""
capabilities = ["subprocess"]
commands = ["ls"]
def execute(params, context):
    return shell.run(["ls"])["returncode"]
'''

NETTER = '''"""Posts to a url given in the params."""
capabilities = ["network"]
def execute(params, context):
    return http.get(params["url"])["status"]
'''

CONFIG = """
[[modes]]
name = "Play"
[[modes.mappings]]
trigger = {{ type = "Note", note = 36 }}
action = {{ type = "Plugin", plugin = "netter", params = {{ url = "{url}" }} }}
[[modes.mappings]]
trigger = {{ type = "Note", note = 37 }}
action = {{ type = "Plugin", plugin = "home_automation", params = {{ broker = "mqtt://127.0.0.1:1883", topic = "home/light 1", payload = "on" }} }}
"""


def run_printed(command: str, home: Path, *, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """Run a command exactly as midimon printed it, through a POSIX shell."""
    assert command.startswith("midimon ")
    env = {**os.environ, "MIDIMON_HOME": str(home), "PATH": f"{Path(MIDIMON).parent}:{os.environ['PATH']}"}
    env.pop("XDG_RUNTIME_DIR", None)
    return subprocess.run(["/bin/sh", "-c", command], env=env, stdin=stdin, capture_output=True, text=True, timeout=60)


def grants_of(home: Path, name: str) -> dict:
    return PluginState(home / "plugin-state.json").entry(name)["grants"]


def test_grant_command_quotes_every_scope_for_a_shell() -> None:
    cmd = grant_command("p", "network", {"publish": ["home/light 1; touch /tmp/pwned"], "hosts": ["http://h:1"]})
    words = shlex.split(cmd)
    assert words == [
        "midimon", "plugins", "grant", "p", "network",
        "--scope", "hosts=http://h:1", "--scope", "publish=home/light 1; touch /tmp/pwned",
    ]  # fmt: skip
    assert shlex.split(grant_command("p", "subprocess", {"commands": ["git status"]}))[-1] == "--yes"
    assert "--yes" not in grant_command("p", "filesystem", {"read_paths": ["/srv"]})
    assert grant_command("p", "filesystem", {"write_paths": ["/srv"]}).endswith("--yes")


def test_validate_prints_commands_that_grant_exactly_what_the_config_needs(home: Path, plugins_dir: Path) -> None:
    write(plugins_dir / "netter.py", NETTER)
    (home / "config.toml").write_text(CONFIG.format(url="http://127.0.0.1:8765/hook"))
    proc = cli("validate", "--json", home=home)
    warnings = [w["message"] for w in json.loads(proc.stdout)["warnings"]]
    commands = [w.split("grant it with: ", 1)[1] for w in warnings if "grant it with: " in w]
    assert len(commands) == 2, warnings
    for command in commands:  # run exactly as printed: each grants what it says
        assert run_printed(command, home).returncode == 0, command
    assert grants_of(home, "netter")["network"]["scopes"] == {"hosts": ["http://127.0.0.1:8765"]}
    assert grants_of(home, "home_automation")["network"]["scopes"] == {
        "brokers": ["127.0.0.1:1883"],
        "publish": ["home/light 1"],
    }
    after = json.loads(cli("validate", "--json", home=home).stdout)["warnings"]
    assert not [w for w in after if "grant it with" in w["message"]], after


def test_grant_from_config_grants_what_the_mappings_need(home: Path, plugins_dir: Path) -> None:
    write(plugins_dir / "netter.py", NETTER)
    (home / "config.toml").write_text(CONFIG.format(url="http://127.0.0.1:8765/hook"))
    out = cli_json("plugins", "grant", "netter", "--from-config", home=home)
    assert [r["granted"] for r in out["results"]] == ["network"]
    assert grants_of(home, "netter")["network"]["scopes"]["hosts"] == ["http://127.0.0.1:8765"]
    assert grants_of(home, "home_automation") == {}, "only the named plugin is granted"
    again = cli_json("plugins", "grant", "netter", "--from-config", home=home)
    assert again["results"] == []


def test_a_dangerous_grant_without_a_terminal_is_refused_with_the_command(home: Path, plugins_dir: Path) -> None:
    write(plugins_dir / "sheller.py", SHELLER)
    start = time.monotonic()
    proc = cli("plugins", "grant", "sheller", "subprocess", "--json", home=home, check=False)
    assert time.monotonic() - start < 30, "it waited for an answer"
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["code"] == "needs_confirmation" and data["command"] == "midimon plugins grant sheller subprocess --yes"
    assert data["command"] in data["error"]
    assert grants_of(home, "sheller") == {}, "granted although refused"
    assert run_printed(data["command"], home).returncode == 0
    assert grants_of(home, "sheller")["subprocess"]["scopes"] == {"commands": ["ls"]}


def _on_terminal(home: Path, argv: list[str], answer: bytes) -> tuple[int, str]:
    """Run the CLI with a real terminal (pty) on stdin/stdout/stderr; answer the question."""
    env = {**os.environ, "MIDIMON_HOME": str(home)}
    env.pop("XDG_RUNTIME_DIR", None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once
        os.execve(MIDIMON, [MIDIMON, *argv], env)
    out = b""
    answered = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if not answered and b"[y/N]" in out:
            os.write(fd, answer)
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


def test_on_a_terminal_a_dangerous_grant_asks_and_shows_the_scopes(home: Path, plugins_dir: Path) -> None:
    write(plugins_dir / "sheller.py", SHELLER.replace('commands = ["ls"]', 'commands = ["ls", "find"]'))
    code, out = _on_terminal(home, ["plugins", "grant", "sheller", "subprocess"], b"n\n")
    assert "commands: find" in out and "runs anything" in out and "[y/N]" in out
    assert code == 1 and grants_of(home, "sheller") == {}, "granted on a no"
    code, out = _on_terminal(home, ["plugins", "grant", "sheller", "subprocess"], b"y\n")
    assert code == 0, out
    assert sorted(grants_of(home, "sheller")["subprocess"]["scopes"]["commands"]) == ["find", "ls"]


def test_review_escapes_plugin_text_on_the_terminal(home: Path, plugins_dir: Path) -> None:
    """Finding 11: an ESC[8m (conceal) in a scope the plugin declares must reach the terminal as
    text, so the lines after it stay visible."""
    write(plugins_dir / "sheller.py", SHELLER.replace('commands = ["ls"]', 'commands = ["ls \\x1b[8m", "ls"]'))
    _, out = _on_terminal(home, ["plugins", "grant", "sheller", "subprocess"], b"n\n")
    assert "\x1b[8m" not in out and "\\x1b[8m" in out


def test_a_bare_network_grant_says_it_reaches_nothing(home: Path, plugins_dir: Path) -> None:
    write(plugins_dir / "netter.py", NETTER)
    out = cli_json("plugins", "grant", "netter", "network", home=home)
    assert any("reaches nothing" in w for w in out["warnings"]), out
    text = cli("plugins", "grant", "netter", "network", home=home).stdout
    assert "reaches nothing" in text


@pytest.mark.parametrize("yes", [True, False])
def test_yes_answers_for_scripts(home: Path, plugins_dir: Path, yes: bool) -> None:
    write(plugins_dir / "sheller.py", SHELLER)
    args = ["plugins", "grant", "sheller", "subprocess"] + (["--yes"] if yes else [])
    proc = cli(*args, home=home, check=False)
    assert (proc.returncode == 0) is yes
    assert bool(grants_of(home, "sheller")) is yes


def test_install_grant_asks_for_dangerous_capabilities(home: Path, plugins_dir: Path, tmp_path: Path) -> None:
    """``install --grant`` used to hand out subprocess without a question: without a terminal it
    is now refused (nothing installed, nothing granted) with the command plus ``--yes``."""
    src = tmp_path / "sheller.py"
    src.write_text(SHELLER)
    proc = cli("plugins", "install", str(src), "--grant", "--json", home=home, check=False)
    data = json.loads(proc.stdout)
    assert proc.returncode == 1 and data["code"] == "needs_confirmation", data
    assert data["command"] == f"midimon plugins install {src} --grant --yes"
    assert not (plugins_dir / "sheller.py").exists() and grants_of(home, "sheller") == {}
    assert run_printed(data["command"], home).returncode == 0
    assert (plugins_dir / "sheller.py").exists() and "subprocess" in grants_of(home, "sheller")
