"""Programs that can run other programs: a grant of one of them is a grant of everything.

``commands = ["find"]`` reads like "may list files", yet ``find / -exec /bin/sh -c ... ;`` runs
anything; so does ``git -c core.fsmonitor=...``, ``xargs``, ``env``, ``awk 'BEGIN{system(...)}'``,
GNU ``sed``'s ``e`` command, ``tar --to-command``, ``rsync -e``, ``make``, ``sudo``,
``busybox``, every shell and interpreter. This is the one list of them (``docs/security.md``
shows it); the grant prompt and ``plugins info`` say "runs anything" for a command grant that
names one of them, unless its argv patterns rule that out (``commands.py``).

Each entry says how the program runs others, in words shown to the user, and whether a
positional argument is enough (``awk PROGRAM``, ``xargs CMD``, ``sh SCRIPT``) or an option is
needed (``find -exec``, ``git -c``, ``tar --to-command``). Patterns rule it out only when no
word that could carry the danger is left open: see ``pattern_runs_anything``.
"""

from __future__ import annotations

import dataclasses
import os
import re


@dataclasses.dataclass(frozen=True)
class Runner:
    #: How it runs other programs, for the user: "find -exec runs any program".
    how: str
    #: True when a positional (non-option) argument can make it run code: the script, the
    #: program text, the command to run. False when only options can (``find -exec``).
    positional: bool


_SHELL = Runner("a shell runs any command line", True)
_INTERPRETER = Runner("an interpreter runs any program given as a file or with -c/-e", True)
_WRAPPER = Runner("runs the program named in its arguments", True)

#: Program base name -> how it runs others. Interpreter names with versions (python3.11,
#: perl5.36) are matched by ``_VERSIONED`` below.
RUNNERS: dict[str, Runner] = {
    **dict.fromkeys(("sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "ash", "rbash"), _SHELL),
    **dict.fromkeys(
        (
            "python", "python2", "python3", "pypy", "pypy3", "perl", "ruby", "irb", "node", "nodejs",
            "deno", "bun", "php", "lua", "luajit", "tclsh", "wish", "expect", "Rscript", "R", "julia",
            "pwsh", "osascript", "guile", "racket", "ocaml", "ghci", "jshell", "groovy", "scala",
        ),
        _INTERPRETER,
    ),
    **dict.fromkeys(
        (
            "env", "xargs", "sudo", "doas", "su", "runuser", "nice", "nohup", "timeout", "stdbuf", "setsid",
            "ionice", "chrt", "taskset", "time", "flock", "watch", "script", "strace", "ltrace", "chroot",
            "unshare", "nsenter", "systemd-run", "run-parts", "parallel", "start-stop-daemon", "at", "batch",
            "setpriv", "capsh", "fakeroot", "firejail", "bwrap", "proot", "catchsegv", "valgrind",
        ),
        _WRAPPER,
    ),
    "busybox": Runner("busybox runs any of its applets, shells included, named by its first argument", True),
    "toybox": Runner("toybox runs any of its applets, named by its first argument", True),
    "find": Runner("find -exec, -execdir, -ok and -okdir run any program", False),
    "git": Runner(
        "git runs programs from its options and config (-c core.fsmonitor=..., -c alias.x=!cmd, "
        "--exec-path) and from subcommands (bisect run, rebase --exec, submodule foreach)",
        True,
    ),
    **dict.fromkeys(
        ("awk", "gawk", "mawk", "nawk", "busybox-awk"), Runner("awk's system() and pipes run any command", True)
    ),
    "sed": Runner("GNU sed's e command and s///e flag run any command (and w writes files)", True),
    "tar": Runner("tar --to-command, -I/--use-compress-program and --checkpoint-action=exec run any program", False),
    "rsync": Runner("rsync -e/--rsh and --rsync-path run any program (and host:path runs ssh)", True),
    **dict.fromkeys(("make", "gmake", "bmake"), Runner("make runs the recipes of any makefile (-f, -C)", True)),
    "ssh": Runner("ssh runs any command on the other side, and ProxyCommand/LocalCommand here", True),
    "scp": Runner("scp -S and -o ProxyCommand run any program", False),
    "zip": Runner("zip -TT runs any command", False),
    "socat": Runner("socat EXEC: and SYSTEM: addresses run any program", True),
    **dict.fromkeys(("nc", "ncat", "netcat"), Runner("nc -e/-c runs any program", False)),
    **dict.fromkeys(("vi", "vim", "nvim", "ex", "ed", "emacs", "nano"), Runner("an editor's shell escape runs any command", True)),
    **dict.fromkeys(("less", "more", "man"), Runner("! in a pager runs any command (and LESSOPEN)", False)),
    **dict.fromkeys(
        ("npm", "npx", "yarn", "pnpm", "pip", "pip3", "cargo", "go", "gem", "bundle", "mvn", "gradle", "ant"),
        Runner("a build or package tool runs the scripts of any package or project", True),
    ),
    **dict.fromkeys(("apt", "apt-get", "dpkg", "rpm", "dnf", "yum"), Runner("package tools run maintainer scripts and hooks", True)),
    **dict.fromkeys(
        ("docker", "podman", "kubectl", "systemctl", "crontab"), Runner("starts programs through a service", True)
    ),
    "gdb": Runner("gdb's shell and python commands run anything", True),
    "openssl": Runner("openssl engines load any library", False),
}  # fmt: skip

#: Multi-call binaries choose their program by argv[0]; the name the plugin uses decides.
MULTI_CALL: frozenset[str] = frozenset({"busybox", "toybox"})
_VERSIONED = re.compile(r"^(python|pypy|perl|ruby|php|lua|node|tclsh|wish|guile|pip)[0-9][0-9.]*$")


def runner(name_or_path: str, real_path: str | None = None) -> Runner | None:
    """The ``Runner`` entry for a program, by the name it is called with and (unless that is a
    multi-call binary such as busybox, which obeys argv[0]) by the file it really is."""
    names = [os.path.basename(name_or_path)]
    if real_path and os.path.basename(real_path) not in MULTI_CALL:
        names.append(os.path.basename(real_path))
    for name in names:
        if name in RUNNERS:
            return RUNNERS[name]
        match = _VERSIONED.match(name)
        if match:
            return RUNNERS.get(match.group(1)) or _INTERPRETER
    return None
