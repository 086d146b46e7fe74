"""The Shell action: a program run without a shell unless asked, with a timeout."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess

from midimon.engine.errors import ActionError

log = logging.getLogger("midimon.shell")
OUTPUT_LINES = 20


def argv_for(action) -> list[str]:
    if action.shell:
        cmd = action.command if isinstance(action.command, str) else shlex.join(action.command)
        return ["/bin/sh", "-c", cmd]
    if isinstance(action.command, list):
        return [str(a) for a in action.command]
    try:
        return shlex.split(action.command)
    except ValueError as exc:
        raise ActionError(f"cannot split command {action.command!r}: {exc}") from None


def context_env(ctx: dict) -> dict[str, str]:
    """The event reaches the program as MIDIMON_* environment variables."""
    env = {}
    for key in (
        "note",
        "velocity",
        "velocity_out",
        "cc",
        "value",
        "channel",
        "mode",
        "device",
        "trigger",
        "steps",
        "direction",
        "level",
    ):
        v = ctx.get(key)
        if v is not None:
            env["MIDIMON_" + key.upper()] = str(v)
    return env


def run_shell(action, ctx: dict) -> int:
    argv = argv_for(action)
    env = dict(os.environ)
    env.update(context_env(ctx))
    env.update(action.env)
    cwd = os.path.expanduser(action.cwd) if action.cwd else None
    try:
        proc = subprocess.run(
            argv, capture_output=True, timeout=action.timeout_ms / 1000, env=env, cwd=cwd, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        raise ActionError(f"program not found: {argv[0]!r}") from None
    except PermissionError:
        raise ActionError(f"not allowed to run {argv[0]!r}") from None
    except subprocess.TimeoutExpired:
        raise ActionError(f"{argv[0]} did not finish within {action.timeout_ms} ms and was killed") from None
    except OSError as exc:
        raise ActionError(f"cannot run {argv[0]!r}: {exc.strerror}") from None
    for stream, level in ((proc.stdout, logging.INFO), (proc.stderr, logging.WARNING)):
        lines = stream.decode(errors="replace").splitlines()
        for line in lines[:OUTPUT_LINES]:
            log.log(level, "%s: %s", os.path.basename(argv[0]), line)
        if len(lines) > OUTPUT_LINES:
            log.log(level, "%s: (%d more lines)", os.path.basename(argv[0]), len(lines) - OUTPUT_LINES)
    if proc.returncode != 0:
        raise ActionError(f"{os.path.basename(argv[0])} exited with status {proc.returncode}")
    return proc.returncode
