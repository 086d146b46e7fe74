"""The `midimon` command line.

Each command group lives in its own module with a ``register(subparsers)`` function; a command
handler returns an exit code. Anything that shows something accepts ``--json`` and then prints
exactly one JSON document. Errors the user can act on print one line, no traceback, unless
``--debug`` is given.

Start-up is part of the product: `midimon send` and `midimon mode` run from Stream Deck buttons
and shell aliases many times a minute. So a command module's top level imports only what
building its parser needs (heavy modules are imported inside the handlers), and a command named
in :data:`COMMANDS` builds only its own module's parser. ``midimon --help``, a misspelt command
and a command missing from the table build the whole parser, so help stays complete.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from midimon.config.errors import MidimonError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

# command modules, in the order their commands appear in --help
MODULES = ("run", "devices", "config_cmds", "control", "plugins", "service", "ui")

# command -> the module that registers it. Only a shortcut: a command not listed here still
# works (through the whole parser); tests/test_thin_client.py keeps the table true.
COMMANDS = {
    "run": "run",
    "devices": "devices",
    "validate": "config_cmds",
    "config": "config_cmds",
    "status": "control",
    "reload": "control",
    "stop": "control",
    "mode": "control",
    "send": "control",
    "monitor": "control",
    "learn": "control",
    "watch": "control",
    "plugins": "plugins",
    "service": "service",
    "ui": "ui",
}

# commands that only talk to the daemon: they skip logging's set-up (the import alone is 10 ms)
THIN = frozenset({"status", "reload", "stop", "mode", "send", "monitor", "learn", "watch", "plugins"})


def _command_in(argv: Sequence[str]) -> str | None:
    """The command word, when the top-level options before it take no value (they do not)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only`` (a module in MODULES), just that module's commands."""
    return _build(only)[0]


def _build(only: str | None) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(prog="midimon", description="Turn a MIDI controller into a control surface.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (only,) if only else MODULES:
        try:
            module = importlib.import_module(f"midimon.engine.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"midimon.engine.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser, sub


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document")


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def fail(message: str, *, as_json: bool = False, code: int = 1, **extra: Any) -> int:
    if as_json:
        print_json({"ok": False, "error": message, **extra})
    else:
        print(f"midimon: error: {message}", file=sys.stderr)
    return code


def _parse(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    command = _command_in(argv)
    module = COMMANDS.get(command or "")
    if module in MODULES:
        parser, sub = _build(module)
        if command in sub.choices:
            return parser, parser.parse_args(argv)
    parser = build_parser()
    return parser, parser.parse_args(argv)


def _setup_logging(debug: bool) -> None:
    import logging

    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def main(argv: list[str] | None = None) -> int:
    parser, args = _parse(sys.argv[1:] if argv is None else argv)
    if args.version:
        from importlib.metadata import version

        print(f"midimon {version('midimon')}")
        return 0
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    if args.debug or args.command not in THIN:
        # a thin command that logs after all still shows warnings: logging's last-resort
        # handler prints them to stderr
        _setup_logging(args.debug)
    from midimon.config.home import Home

    # the one Home of this process: every path a command uses comes from it
    args.home = Home.from_env(config=getattr(args, "config", None))
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except MidimonError as exc:
        if args.debug:
            raise
        return fail(str(exc), as_json=getattr(args, "json", False))
    except BrokenPipeError:
        return 1
    except Exception as exc:  # never a traceback unless asked for
        if args.debug:
            raise
        return fail(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            as_json=getattr(args, "json", False),
            code=2,
        )
