"""The `midimon` command line.

Each command group lives in its own module with a ``register(subparsers)`` function; a command
handler returns an exit code. Anything that shows something accepts ``--json`` and then prints
exactly one JSON document. Errors the user can act on print one line, no traceback, unless
``--debug`` is given.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys

from midimon.engine.errors import MidimonError

# command modules, in the order their commands appear in --help
MODULES = ("run", "devices", "config_cmds", "control", "plugins", "service")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="midimon", description="Turn a MIDI controller into a control surface.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in MODULES:
        try:
            module = importlib.import_module(f"midimon.engine.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"midimon.engine.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document")


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def fail(message: str, *, as_json: bool = False, code: int = 1, **extra) -> int:
    if as_json:
        print_json({"ok": False, "error": message, **extra})
    else:
        print(f"midimon: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from importlib.metadata import version

        print(f"midimon {version('midimon')}")
        return 0
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
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
