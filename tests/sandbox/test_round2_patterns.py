"""Round 2, finding 10 (unit level): argv patterns and the one list of programs that run others."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from midimon.sandbox import commands
from midimon.sandbox.capabilities.shell import resolve_executable
from midimon.sandbox.runs_anything import RUNNERS, runner


def fits(pattern: str, argv: list[str]) -> bool:
    p = commands.parse(pattern)
    return commands.same_program(p, argv[0], resolve_executable) and commands.args_match(p, argv[1:])


@pytest.mark.parametrize(
    ("pattern", "argv", "ok"),
    [
        ("git", ["git", "-c", "core.fsmonitor=x", "status"], True),  # a bare name: any arguments
        ("git status", ["git", "status"], True),
        ("git status", ["git", "status", "--porcelain"], False),
        ("git status", ["git", "-c", "core.fsmonitor=touch /tmp/x", "status"], False),
        ("git log -n *", ["git", "log", "-n", "5"], True),
        ("git log -n *", ["git", "log", "-n", "--output=/tmp/x"], False),  # * never lets an option in
        ("tar -tf *.tar", ["tar", "-tf", "a.tar"], True),
        ("tar -tf *.tar", ["tar", "-tf", "--to-command=sh.tar"], False),
        ("ls --color=*", ["ls", "--color=never"], True),
        ("rsync -a * **", ["rsync", "-a", "src", "-e", "sh"], True),  # ** lets anything in: said so
        ("echo 'two words'", ["echo", "two words"], True),
        ("echo 'two words'", ["echo", "two", "words"], False),
    ],
)
def test_argv_patterns(pattern: str, argv: list[str], ok: bool) -> None:
    if resolve_executable(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    assert fits(pattern, argv) is ok


def test_bad_patterns_are_refused() -> None:
    for bad in ("", "* status", "git ** status", "git 'unclosed"):
        with pytest.raises(commands.PatternError):
            commands.parse(bad)


def test_multi_call_symlink_cannot_change_program(tmp_path: Path) -> None:
    """Attack: a grant of a busybox-style symlink ``ls`` (-> the shell binary) must not let the
    plugin call that same file as ``sh``: argv[0] picks the applet, so the name must match."""
    sh = resolve_executable("sh")
    assert sh is not None
    link = tmp_path / "ls"
    os.symlink(sh, link)
    assert fits(str(link), [str(link), "-c", "true"])  # the grant, as granted
    assert not fits(str(link), [sh, "-c", "true"])  # same file, another name: refused
    assert not fits(str(link), ["sh", "-c", "true"])


@pytest.mark.parametrize(
    "name",
    ["find", "xargs", "env", "git", "awk", "sed", "tar", "rsync", "make", "sudo", "busybox", "sh", "bash", "python3"],
)
def test_runs_anything_list_has_the_named_programs(name: str) -> None:
    assert runner(name) is not None
    assert commands.runs_anything(commands.parse(name)) is not None, "a bare name runs anything"


def test_runs_anything_by_real_path_and_version() -> None:
    assert runner("python3.11") is not None and runner("perl5.36") is not None
    py = shutil.which("python3")
    assert py is not None and runner("mypython", os.path.realpath(py)) is not None  # renamed copy
    assert runner("ls") is None and runner("ls", "/usr/bin/busybox") is None  # argv[0] decides busybox


@pytest.mark.parametrize(
    ("pattern", "anything"),
    [
        ("find", True),
        ("find . -name *.txt", True),  # a wildcard after an option may be that option's program
        ("find /srv -maxdepth 1", False),  # every word literal
        ("find *", False),  # a wildcard that cannot be an option, no option before it
        ("find * -exec rm {} ;", False),  # literal: exactly rm
        ("find -*", True),
        ("awk *", True),  # awk's program is positional
        ("git status", False),
        ("git log -n *", True),  # git: positional words are subcommands
        ("sh -c *", True),
        ("tar -tf *.tar", True),
        ("tar -tf archive.tar", False),
        ("ls *", False),  # not a runner at all
        ("rsync -a * **", True),
    ],
)
def test_patterns_rule_runs_anything_out_only_when_nothing_is_open(pattern: str, anything: bool) -> None:
    assert (commands.runs_anything(commands.parse(pattern)) is not None) is anything


def test_every_runner_says_how() -> None:
    assert all(r.how and len(r.how) < 200 for r in RUNNERS.values())
