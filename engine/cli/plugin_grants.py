"""`midimon plugins grant` on the command line: the review, the question, ``--yes``, ``--from-config``.

The grant itself is ``plugins/granting.py`` (through the daemon's ``plugins.grant`` when one runs,
on the files when none does). What happens here is the asking: a dangerous grant (subprocess,
filesystem write, system control) shows what it gives, scopes included, and asks on a terminal;
``--yes`` answers yes; without a terminal and without ``--yes`` it is refused (exit 1) with the
exact command plus ``--yes``. Nothing ever waits for an answer that cannot come: the question is
only asked when standard input is a terminal. Every plugin-supplied string shown is escaped
(``sandbox.text.printable``): a name or author holding ESC[8m must not hide the lines after it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not `from typing import`: the CLI's start-up pays for every import
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from midimon.config.home import Home

    Ask = Callable[[Any, str, dict[str, Any], Callable[[], Any]], Any]


def add_arguments(c: Any) -> None:
    """The grant subcommand's options beyond NAME [CAPABILITY] and --scope."""
    c.add_argument("--yes", action="store_true", help="answer yes: grant a dangerous capability without asking")
    c.add_argument(
        "--from-config",
        action="store_true",
        help="grant what the config's Plugin mappings need (capabilities, hosts, brokers, topics)",
    )


def printable_data(value: Any) -> Any:
    """``value`` with every string (keys too) escaped for a terminal."""
    from midimon.sandbox.text import printable

    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(str(k)): printable_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_data(v) for v in value]
    return value


def interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def confirm(lines: list[str], question: str) -> bool:
    """Show ``lines`` and ask on the terminal (stderr, so ``--json`` output stays one document)."""
    from midimon.sandbox.text import printable

    for line in lines:
        print(printable(line), file=sys.stderr)
    print(f"{printable(question)} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, KeyboardInterrupt):
        return False
    return answer.strip().lower() in ("y", "yes")


def _plan(home: Home, name: str, capability: str, scopes: dict[str, Any]) -> Any:
    from midimon.plugins import granting, operations
    from midimon.sandbox import CAPABILITIES

    if capability not in CAPABILITIES:
        raise operations.OperationError(
            f"unknown capability {capability!r}; known: {', '.join(sorted(CAPABILITIES))}", "unknown_capability"
        )
    declared = operations.declared_scopes(home, name, capability)
    return granting.GrantPlan(name, capability, declared, scopes)


def confirmed(args: Any, plans: list[Any], what: str) -> bool:
    """True to go on: nothing dangerous, ``--yes``, or the user said yes on a terminal.
    Refuses (OperationError, code needs_confirmation) when nobody can be asked."""
    from midimon.plugins import granting, operations

    risky = [p for p in plans if p.dangerous]
    if not risky or args.yes:
        return True
    if not interactive():
        try:
            granting.check(risky[0], yes=False)
        except granting.NeedsConfirmation as exc:
            raise operations.OperationError(str(exc), exc.code, **exc.data) from None
    lines: list[str] = []
    for p in risky:
        lines += p.review()
    if confirm(lines, what):
        return True
    raise operations.OperationError("nothing was granted: the answer was no", "declined")


def grant(args: Any, ask: Ask) -> Any:
    """`midimon plugins grant NAME [CAPABILITY] [--scope K=V]... [--yes] [--from-config]`."""
    from midimon.plugins import operations
    from midimon.plugins.grants import parse_scope_args

    if args.from_config:
        return _from_config(args, ask)
    if not args.capability:
        raise operations.OperationError("name a CAPABILITY to grant, or use --from-config", "bad_args")
    try:
        scopes = parse_scope_args(args.scope, args.capability)
    except ValueError as exc:
        raise operations.OperationError(str(exc), "bad_scope") from None
    p = _plan(args.home, args.name, args.capability, scopes)
    confirmed(args, [p], f"Grant {args.capability} to {args.name}?")
    result = _send(args, ask, p)
    if args.json:
        return result
    _print_result(result)
    return 0


def _send(args: Any, ask: Ask, p: Any) -> Any:
    from midimon.plugins import operations

    # confirmed above: on a terminal, by --yes, or not dangerous at all
    payload = {"name": p.plugin, "capability": p.capability, "scopes": p.extra, "yes": True}
    return ask(
        args,
        "grant",
        payload,
        lambda: operations.grant_capability(args.home, p.plugin, p.capability, p.extra, yes=True),
    )


def _from_config(args: Any, ask: Ask) -> Any:
    from midimon.config import ConfigError, load_config
    from midimon.plugins import grant_needs, operations

    home = args.home  # the CLI's one Home (engine/cli/__init__.py)
    operations.check_installed(home, args.name)
    try:
        cfg = load_config(home.config).config
    except ConfigError as exc:
        raise operations.OperationError(
            f"{home.config} is not valid ({len(exc.diagnostics)} errors): see midimon validate", "invalid_config"
        ) from None
    needs = grant_needs.merge_needs([n for n, _ in grant_needs.config_needs(cfg, home, only=args.name)])
    if args.capability:
        needs = [n for n in needs if n.capability == args.capability]
    plans = [_plan(home, n.plugin, n.capability, n.scopes) for n in needs]
    confirmed(args, plans, f"Grant all of this to {args.name}?")
    results = [_send(args, ask, p) for p in plans]
    out = {"name": args.name, "from_config": str(home.config), "results": results}
    if args.json:
        return out
    if not results:
        print(f"the Plugin mappings in {home.config} need nothing more for {args.name}")
    for r in results:
        _print_result(r)
    return 0


def _print_result(result: dict[str, Any]) -> None:
    data = printable_data(result)
    scopes = data.get("scopes") or {}
    listed = "; ".join(f"{k}={', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in scopes.items())
    print(f"granted {data.get('granted')} to {data.get('name')}" + (f" ({listed})" if listed else " (no scopes)"))
    for w in data.get("warnings") or []:
        print(f"  warning: {w}")


def confirm_install(args: Any) -> list[str]:
    """`install --grant`: the capabilities to grant, once the dangerous ones are confirmed (a
    terminal's yes, or ``--yes``); refused with the command plus ``--yes`` when nobody can be asked."""
    import shlex

    from midimon.plugins import granting, operations
    from midimon.plugins.grants import declared_scopes_for

    decl = operations.asked_declarations(args.home, args.source)
    plans = [granting.GrantPlan(decl.name, c, declared_scopes_for(decl, c), {}) for c in decl.capabilities]
    risky = [p for p in plans if p.dangerous]
    if risky and not args.yes:
        if not interactive():
            command = shlex.join(["midimon", "plugins", "install", args.source, "--grant", "--yes"])
            raise operations.OperationError(
                f"plugin {decl.name!r} asks for {', '.join(p.capability for p in risky)}, which lets it act on "
                f"this machine; nothing was installed. To install and grant it, run: {command}",
                "needs_confirmation",
                command=command,
            )
        lines: list[str] = []
        for p in plans:
            lines += p.review()
        if not confirm(lines, f"Install {decl.name} and grant all of this?"):
            raise operations.OperationError("nothing was installed: the answer was no", "declined")
    return [p.capability for p in plans]
