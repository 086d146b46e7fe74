"""Round 2, findings 10 and 11 and issue 11's one-step grants, through a real `midimon run`.

Each attack is a plugin the daemon really runs (a note comes in with `midimon send`); each test
checks the effect on the host side: the marker file a smuggled program would create, the
planted config a program would read, the raw escape bytes on the user's terminal, the server's
request count. No JACK needed: `send` plays the note into the daemon.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from pluginkit import cli, cli_json, write
from testkit.daemon import DaemonProcess
from testkit.jack import wait_for

CONFIG = """
[[modes]]
name = "Play"
[[modes.mappings]]
trigger = {{ type = "Note", note = 36 }}
action = {{ type = "Plugin", plugin = "{name}", params = {params} }}
"""


@pytest.fixture
def plugins_dir(home: Path) -> Path:
    d = home / "plugins"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture
def daemon(home: Path) -> Iterator[Any]:
    procs: list[DaemonProcess] = []

    def start(name: str, params: str = "{}") -> DaemonProcess:
        d = DaemonProcess(home, CONFIG.format(name=name, params=params))
        procs.append(d)
        d.wait_log(f"plugin {name}: version", timeout=30)
        d.wait_log("control socket", timeout=30)
        return d

    yield start
    for d in procs:
        d.stop()


def press(home: Path) -> None:
    cli("send", "note_on", "note=36", "velocity=100", home=home)


def result(home: Path, name: str) -> Any:
    """What the plugin wrote into its own data folder (``fs.write_json("result.json", ...)``)."""
    path = home / "plugins-data" / name / "files" / "result.json"
    return wait_for(lambda: json.loads(path.read_text()) if path.exists() else None, 20, what=f"{name}'s result")


FINDER = '''"""Lists files; tries find -exec."""
capabilities = ["subprocess", "filesystem"]
commands = [{pattern!r}]
def execute(params, context):
    out = {{}}
    for label, argv in (("plain", ["find", "."]),
                        ("exec", ["find", ".", "-exec", "/bin/sh", "-c", "touch " + params["marker"], ";"])):
        try:
            out[label] = shell.run(argv)["returncode"]
        except CapabilityError as e:
            out[label] = "refused: " + str(e)
    fs.write_json("result.json", out)
'''


def test_find_exec_outside_the_argv_pattern_is_refused(home: Path, plugins_dir: Path, daemon: Any, tmp_path: Path):
    """Attack: ``commands = ["find"]`` read as "may list files"; ``find -exec sh -c`` ran
    anything. A pattern that names the arguments ("find *") refuses it, and the denial quotes
    the one command that would allow exactly that argv (so the user sees what it is)."""
    marker = tmp_path / "find-exec-ran"
    write(plugins_dir / "finder.py", FINDER.format(pattern="find *"))
    cli("plugins", "grant", "finder", "subprocess", "--yes", home=home)
    cli("plugins", "grant", "finder", "filesystem", home=home)
    daemon("finder", f'{{ marker = "{marker}" }}')
    press(home)
    out = result(home, "finder")
    assert out["plain"] == 0
    assert out["exec"].startswith("refused:") and "not in the plugin's granted commands" in out["exec"]
    assert "midimon plugins grant finder subprocess --scope 'commands=find . -exec" in out["exec"]
    assert out["exec"].rstrip().endswith("--yes")
    time.sleep(0.3)
    assert not marker.exists(), "find -exec ran a shell"
    info = cli_json("plugins", "info", "finder", home=home)
    assert info["runs_anything"] == []  # "find *": no option can get in


def test_a_bare_find_grant_says_runs_anything_and_does(home: Path, plugins_dir: Path, daemon: Any, tmp_path: Path):
    """The control: granted as a bare name, find runs anything, and midimon says so in those
    words, in ``plugins info`` (text and JSON) and in the grant's answer."""
    marker = tmp_path / "find-exec-ran"
    write(plugins_dir / "finder.py", FINDER.format(pattern="find"))
    granted = cli_json("plugins", "grant", "finder", "subprocess", "--yes", home=home)
    assert any("runs anything" in w for w in granted["warnings"]), granted
    cli("plugins", "grant", "finder", "filesystem", home=home)
    daemon("finder", f'{{ marker = "{marker}" }}')
    info = cli_json("plugins", "info", "finder", home=home)
    assert info["runs_anything"] and "find -exec" in info["runs_anything"][0]
    assert "runs anything" in cli("plugins", "info", "finder", home=home).stdout
    press(home)
    assert result(home, "finder")["exec"] == 0
    assert wait_for(marker.exists, 10, what="the marker: the grant allowed it, as it said")


GITTER = '''"""Plants git config in its data folder, then runs git status."""
capabilities = ["subprocess", "filesystem"]
commands = ["git status", "git status --porcelain"]
def execute(params, context):
    hook = "touch " + params["marker"]
    fs.write_text(".gitconfig", "[core]\\n\\tfsmonitor = " + hook + "-home\\n[alias]\\n\\tstatus = !" + hook + "-alias\\n")
    fs.mkdir(".git")
    fs.mkdir(".git/objects")
    fs.mkdir(".git/refs")
    fs.write_text(".git/HEAD", "ref: refs/heads/main\\n")
    fs.write_text(".git/config", "[core]\\n\\trepositoryformatversion = 0\\n\\tfsmonitor = " + hook + "-repo\\n")
    fs.write_text(".npmrc", "script-shell = /bin/sh\\n")
    out = {}
    for label, argv in (("status", ["git", "status", "--porcelain"]),
                        ("dash_c", ["git", "-c", "core.fsmonitor=" + hook + "-c", "status"]),
                        ("dash_C", ["git", "-C", params["files"], "status"])):
        try:
            r = shell.run(argv)
            out[label] = [r["returncode"], r["stderr"][:300]]
        except CapabilityError as e:
            out[label] = "refused: " + str(e)
    fs.write_json("result.json", out)
'''


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_never_reads_config_the_plugin_wrote(home: Path, plugins_dir: Path, daemon: Any, tmp_path: Path):
    """Attack: with HOME and the working directory in the plugin's data folder, a planted
    ``.gitconfig`` or ``.git/config`` with ``core.fsmonitor`` ran code on a harmless
    ``git status``. Now a program runs in a fresh, empty HOME and working directory."""
    marker = tmp_path / "git-hook-ran"
    files = home / "plugins-data" / "gitter" / "files"
    write(plugins_dir / "gitter.py", GITTER)
    cli("plugins", "grant", "gitter", "subprocess", "--yes", home=home)
    cli("plugins", "grant", "gitter", "filesystem", home=home)
    params = f'{{ marker = "{marker}", files = "{files}" }}'
    daemon("gitter", params)
    press(home)
    out = result(home, "gitter")
    assert out["status"][0] != 0 and "not a git repository" in out["status"][1], out
    assert out["dash_c"].startswith("refused:") and out["dash_C"].startswith("refused:"), out
    time.sleep(0.5)
    assert sorted(p.name for p in tmp_path.glob("git-hook-ran*")) == [], "git ran the planted hook"
    # Control: the planted files are live ammunition for any program that does read them.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(files)}
    subprocess.run(["git", "status"], cwd=files, env=env, capture_output=True, timeout=30)
    assert wait_for(lambda: list(tmp_path.glob("git-hook-ran*")), 10, what="the hook, run by git itself")


ENVER = '''"""Shows the environment its programs get."""
capabilities = ["subprocess", "filesystem"]
commands = ["printenv", "pwd"]
def execute(params, context):
    env = shell.run(["printenv"])["stdout"]
    cwd = shell.run(["pwd"])["stdout"].strip()
    fs.write_json("result.json", {"env": env, "cwd": cwd})
'''


def test_programs_get_a_fresh_environment_outside_the_data_folder(home: Path, plugins_dir: Path, daemon: Any):
    write(plugins_dir / "enver.py", ENVER)
    cli("plugins", "grant", "enver", "subprocess", "--yes", home=home)
    cli("plugins", "grant", "enver", "filesystem", home=home)
    d = daemon("enver")
    d_env_secret = "MIDIMON_TEST_TOKEN_SHOULD_NOT_LEAK"
    assert d_env_secret not in os.environ
    press(home)
    out = result(home, "enver")
    env = dict(line.split("=", 1) for line in out["env"].splitlines() if "=" in line)
    assert set(env) <= {
        "PATH",
        "LANG",
        "HOME",
        "TMPDIR",
        "XDG_CONFIG_HOME",
        "GIT_CEILING_DIRECTORIES",
        "PWD",
        "SHLVL",
        "_",
    }, env
    data = str(home / "plugins-data" / "enver")
    assert not env["HOME"].startswith(data) and not out["cwd"].startswith(data), (env, out)
    # one fresh folder per run (printenv and pwd ran apart), in a folder no plugin's fs reaches
    assert env["HOME"] != out["cwd"] and Path(env["HOME"]).parent == Path(out["cwd"]).parent
    assert not Path(env["HOME"]).exists(), "the fresh HOME is removed after the run"
    assert "MIDIMON_HOME" not in env and d.proc.poll() is None


TARRER = '''"""Lists archives; tries tar's program options."""
capabilities = ["subprocess", "filesystem"]
commands = ["tar -tf *"]
def execute(params, context):
    out = {}
    hook = "exec=touch " + params["marker"]
    for label, argv in (("checkpoint", ["tar", "-cf", "/dev/null", "--checkpoint=1", "--checkpoint-action=" + hook, "/etc/hostname"]),
                        ("smuggled", ["tar", "-tf", "--to-command=touch " + params["marker"]])):
        try:
            out[label] = shell.run(argv)["returncode"]
        except CapabilityError as e:
            out[label] = "refused: " + str(e)
    fs.write_json("result.json", out)
'''


@pytest.mark.skipif(shutil.which("tar") is None, reason="tar is not installed")
def test_a_wildcard_never_lets_an_option_in(home: Path, plugins_dir: Path, daemon: Any, tmp_path: Path):
    """Attack: ``tar -tf *`` read as "may list an archive"; the plugin puts
    ``--to-command=...`` where the archive name goes, or uses ``--checkpoint-action=exec``."""
    marker = tmp_path / "tar-ran"
    write(plugins_dir / "tarrer.py", TARRER)
    cli("plugins", "grant", "tarrer", "subprocess", "--yes", home=home)
    cli("plugins", "grant", "tarrer", "filesystem", home=home)
    daemon("tarrer", f'{{ marker = "{marker}" }}')
    press(home)
    out = result(home, "tarrer")
    assert all(str(v).startswith("refused:") for v in out.values()), out
    time.sleep(0.3)
    assert not marker.exists()


SPOOF = '''"""Weather \\u202eredaeh\\u202c forecasts."""
author = "Mallory \\x1b[8m(hidden) capabilities: none \\x9b2J"
homepage = "https://example.com/\\x1b]8;;evil\\x07"
capabilities = ["network"]
hosts = ["https://api.example.com"]
def execute(params, context):
    raise ValueError("boom \\x1b[2J\\x1b[H fake prompt")
'''


def test_plugin_text_reaches_the_terminal_escaped(home: Path, plugins_dir: Path, daemon: Any) -> None:
    """Finding 11: an author holding ESC[8m hid what followed, right before the capability
    lines; ``plugins info``, ``list`` and errors now show every control as text."""
    write(plugins_dir / "spoof.py", SPOOF)
    daemon("spoof")
    press(home)
    time.sleep(1.0)
    for argv in (("plugins", "info", "spoof"), ("plugins", "list"), ("status",)):
        out = cli(*argv, home=home, check=False)
        text = out.stdout + out.stderr
        for raw in ("\x1b", "\x9b", "\u202e", "\x07"):
            assert raw not in text, (argv, raw, text)
    info = cli("plugins", "info", "spoof", home=home).stdout
    assert "\\x1b[8m" in info and "capabilities:" in info and "\\u202e" in info


NETTER = '''"""Fetches a url from the params."""
capabilities = ["network"]
def execute(params, context):
    return http.get(params["url"])["status"]
'''


def test_a_denial_quotes_the_one_command_and_it_works_as_printed(
    home: Path, plugins_dir: Path, daemon: Any, server: Any
) -> None:
    """Issue 11 point 5: the denial (log, ``plugins info``'s pending request) quotes one complete
    command; run exactly as printed, the next press reaches the server. A bare network grant
    says that it reaches nothing."""
    write(plugins_dir / "netter.py", NETTER)
    bare = cli_json("plugins", "grant", "netter", "network", home=home)
    assert any("reaches nothing" in w for w in bare["warnings"])
    d = daemon("netter", f'{{ url = "{server.url}/hook" }}')
    n = len(d.lines)
    press(home)
    line = d.wait_log("grant it with: midimon plugins grant netter network --scope", start=n)
    expected = f"midimon plugins grant netter network --scope hosts={server.url}"
    assert expected in line
    assert server.hits == [], "the server was reached before the grant"
    info = wait_for(
        lambda: (i := cli_json("plugins", "info", "netter", home=home))["pending_requests"] and i, 10, what="request"
    )
    assert info["pending_requests"][0]["command"] == expected
    env = {**os.environ, "MIDIMON_HOME": str(home), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("XDG_RUNTIME_DIR", None)
    proc = subprocess.run(["/bin/sh", "-c", expected], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    press(home)
    wait_for(lambda: server.hits == ["/hook"], 10, what="the server reached after the printed grant")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_data_home_is_only_what_the_user_grants_and_is_said_to_run_anything(
    home: Path, plugins_dir: Path, daemon: Any, tmp_path: Path
) -> None:
    """ "Unless the grant says so": ``--scope data_home=true`` runs programs in the plugin's data
    folder, where they do read what it wrote; a plugin cannot declare it for itself, and the
    grant says "runs anything"."""
    marker = tmp_path / "git-hook-ran"
    files = home / "plugins-data" / "gitter" / "files"
    write(
        plugins_dir / "declares.py",
        GITTER.replace('commands = ["git status",', 'scopes = {"data_home": True}\ncommands = ["git status",'),
    )
    assert (
        "cannot be declared"
        in cli("plugins", "info", "declares", home=home, check=False).stdout
        + cli("plugins", "list", home=home, check=False).stdout
    )
    write(plugins_dir / "gitter.py", GITTER)
    out = cli_json("plugins", "grant", "gitter", "subprocess", "--scope", "data_home=true", "--yes", home=home)
    assert any("runs anything" in w and "data_home" in w for w in out["warnings"]), out
    cli("plugins", "grant", "gitter", "filesystem", home=home)
    daemon("gitter", f'{{ marker = "{marker}", files = "{files}" }}')
    press(home)
    result(home, "gitter")
    assert wait_for(lambda: list(tmp_path.glob("git-hook-ran*")), 10, what="the hook the user allowed")


def test_socket_grant_of_a_dangerous_capability_needs_yes(home: Path, plugins_dir: Path, daemon: Any) -> None:
    """``plugins.grant`` over the socket: subprocess without ``yes: true`` is refused with code
    needs_confirmation and the exact command (scopes quoted, ``--yes``); nothing is granted."""
    from midimon.engine.live.client import Client

    write(plugins_dir / "enver.py", ENVER)
    daemon("enver")
    args = {"name": "enver", "capability": "subprocess", "scopes": {"commands": ["printenv HOME"]}}
    with Client(home / "run" / "midimon.sock") as c:
        answer = c.request("plugins.grant", args)
        assert answer["ok"] is False and answer["error"]["code"] == "needs_confirmation", answer
        expected = "midimon plugins grant enver subprocess --scope 'commands=printenv HOME' --yes"
        assert expected in answer["error"]["message"]
        assert cli_json("plugins", "info", "enver", home=home)["grants"] == {}
        done = c.request("plugins.grant", {**args, "yes": True})
        assert done["ok"] is True, done
    grants = cli_json("plugins", "info", "enver", home=home)["grants"]
    assert sorted(grants["subprocess"]["commands"]) == ["printenv", "printenv HOME", "pwd"]


UPWARD = '''"""Plants a repository in a folder above where its programs run, then runs git status."""
capabilities = ["subprocess", "filesystem"]
commands = ["git status --porcelain"]
def execute(params, context):
    root = params["root"]
    for d in (".git", ".git/objects", ".git/refs"):
        fs.mkdir(root + "/" + d)
    fs.write_text(root + "/.git/HEAD", "ref: refs/heads/main\\n")
    fs.write_text(root + "/.git/config", "[core]\\n\\trepositoryformatversion = 0\\n\\tfsmonitor = touch " + params["marker"] + "\\n")
    r = shell.run(["git", "status", "--porcelain"])
    fs.write_json("result.json", [r["returncode"], r["stderr"][:300]])
'''


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_does_not_find_a_repository_planted_above_its_working_directory(
    home: Path, plugins_dir: Path, daemon: Any, tmp_path: Path
) -> None:
    """Attack: git looks for ``.git`` in every parent of its working directory; a plugin allowed
    to write somewhere above it (here MIDIMON_HOME itself) plants one with core.fsmonitor."""
    marker = tmp_path / "upward-hook-ran"
    write(plugins_dir / "upward.py", UPWARD)
    cli("plugins", "grant", "upward", "subprocess", "--yes", home=home)
    cli("plugins", "grant", "upward", "filesystem", "--scope", f"write_paths={home}", "--yes", home=home)
    daemon("upward", f'{{ root = "{home}", marker = "{marker}" }}')
    press(home)
    code, err = result(home, "upward")
    assert code != 0 and "not a git repository" in err, err
    time.sleep(0.3)
    assert not marker.exists(), "git used the planted repository"
    # Control: without the ceiling, git in a folder below it does find it and runs the hook.
    below = home / "plugins-data" / ".command-homes" / "control"
    below.mkdir(parents=True)
    subprocess.run(["git", "status"], cwd=below, env={"PATH": "/usr/bin:/bin", "HOME": str(below)}, capture_output=True)
    assert wait_for(marker.exists, 10, what="the planted hook, run by git without a ceiling")
