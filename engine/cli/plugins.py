"""`midimon plugins ...`: list, install, grant and configure plugins (see docs/plugins-user-guide.md).

When a daemon runs, each subcommand that has a ``plugins.SUBCOMMAND`` socket command asks the
daemon (the one door: it changes the files and applies the change before it answers); when none
runs, the same operation works on the files (the plugins folder, MIDIMON_HOME/plugin-state.json,
trusted_keys/). Either way ``--json`` prints the same document.
"""

from __future__ import annotations

from midimon.engine.cli import add_json, fail, plugin_checksum, print_json

TYPE_CHECKING = False  # not `from typing import`: every CLI start imports this module
if TYPE_CHECKING:
    from typing import Any


def register(sub) -> None:
    p = sub.add_parser("plugins", help="manage plugins: list, install, grant, configure")
    ps = p.add_subparsers(dest="plugins_command", metavar="SUBCOMMAND")
    p.set_defaults(handler=lambda a: (p.print_help(), 2)[1])

    def cmd(name, help_, fn, *args):
        c = ps.add_parser(name, help=help_)
        for spec in args:
            flags, kw = spec
            c.add_argument(*flags, **kw)
        add_json(c)
        c.set_defaults(handler=lambda a: _run(fn, a))
        return c

    cmd("list", "list installed plugins, their state and what they were granted", _list)
    from . import plugin_auth  # `plugins auth spotify`: sign in once, the daemon renews the token

    plugin_auth.register(ps)
    cmd("info", "everything about one plugin", _info, (("name",), {}))
    cmd(
        "install",
        "install a .py file, a plugin folder, a .zip, or builtin:NAME",
        _install,
        (("source",), {}),
        (("--grant",), {"action": "store_true", "help": "grant every capability it asks for"}),
        (("--force",), {"action": "store_true", "help": "replace an installed plugin"}),
        (("--allow-unsigned",), {"action": "store_true", "help": "install unsigned under a 'require' policy"}),
        (("--yes",), {"action": "store_true", "help": "with --grant: grant dangerous capabilities without asking"}),
    )
    cmd(
        "uninstall",
        "remove a plugin (its data folder is kept unless --purge)",
        _uninstall,
        (("name",), {}),
        (("--purge",), {"action": "store_true"}),
    )
    cmd("enable", "enable a plugin", _enable(True), (("name",), {}))
    cmd("disable", "disable a plugin (it is unloaded)", _enable(False), (("name",), {}))
    cmd("resume", "lift a plugin's suspension (it failed too often in a row)", _resume, (("name",), {}))
    cmd(
        "limits",
        "show or set a plugin's call deadline and memory limit",
        _limits,
        (("name",), {}),
        (("--timeout-ms",), {"type": int}),
        (("--memory-mb",), {"type": int}),
    )
    grant_cmd = cmd(
        "grant",
        "grant a capability (with the scopes the plugin declares, plus --scope); --from-config: what the config needs",
        _grant,
        (("name",), {}),
        (("capability",), {"nargs": "?"}),
        (
            ("--scope",),
            {
                "action": "append",
                "default": [],
                "metavar": "KEY=VALUE",
                "help": "add a scope, e.g. hosts=http://127.0.0.1:8080 or topics=home/#",
            },
        ),
    )
    from midimon.engine.cli import plugin_grants

    plugin_grants.add_arguments(grant_cmd)  # --yes, --from-config (engine/cli/plugin_grants.py)
    cmd(
        "revoke",
        "revoke a capability, or every grant without CAPABILITY (takes effect on the next call)",
        _revoke,
        (("name",), {}),
        (("capability",), {"nargs": "?"}),
    )
    cmd(
        "deny",
        "dismiss a pending permission request: it is not asked again until a restart or an edit",
        _deny,
        (("name",), {}),
        (("capability",), {}),
        (("--scope",), {"metavar": "SCOPE", "help": "the request's scope as plugins info shows it (default: all)"}),
    )
    cmd(
        "config",
        "show or change a plugin's settings (checked against its config_schema)",
        _config,
        (("name",), {}),
        (("--set",), {"action": "append", "default": [], "metavar": "KEY=VALUE"}),
        (("--unset",), {"action": "append", "default": [], "metavar": "KEY"}),
    )
    cmd(
        "new",
        "write a working plugin and its test from a template",
        lambda a: _ops().new(a.home, a.name, a.trigger, a.dir),
        (("name",), {}),
        (("--trigger",), {"action": "store_true", "help": "a trigger plugin (poll_events)"}),
        (("--dir",), {"help": "write here instead of the plugins folder"}),
    )
    cmd("verify", "check checksum and signature", _verify, (("name",), {}))
    plugin_checksum.register(ps)
    cmd(
        "sign",
        "sign a plugin with an Ed25519 private key (PEM)",
        lambda a: _ops().sign(a.home, a.name, a.key),
        (("name",), {}),
        (("--key",), {"required": True}),
    )
    cmd(
        "policy",
        "show or set the signature policy: allow, warn or require",
        lambda a: _ops().set_policy(a.home, a.policy),
        (("policy",), {"nargs": "?"}),
    )
    k = ps.add_parser("keys", help="trusted public keys: add, list, remove")
    ks = k.add_subparsers(dest="keys_command", metavar="ACTION")
    k.set_defaults(handler=lambda a: (k.print_help(), 2)[1])
    for name, help_, fn, extra in (
        (
            "add",
            "trust a public key (PEM or raw base64)",
            lambda a: _ops().keys_add(a.home, a.file, a.name),
            ((("file",), {}), (("--name",), {})),
        ),
        ("list", "list trusted keys", lambda a: _ops().keys_list(a.home), ()),
        ("remove", "stop trusting a key", lambda a: _ops().keys_remove(a.home, a.name), ((("name",), {}),)),
    ):
        c = ks.add_parser(name, help=help_)
        options: dict[str, Any]
        for flags, options in extra:
            c.add_argument(*flags, **options)
        add_json(c)
        c.set_defaults(handler=lambda a, fn=fn: _run(fn, a))
    from . import plugin_catalog  # `plugins catalog`, `plugins install catalog:NAME`

    plugin_catalog.register(ps)


class _Operations:
    """``midimon.plugins.operations``, imported at first use: while a daemon runs, the plugins
    commands only talk to its socket, and a thin client must not import the plugin system
    (tests/test_thin_client.py)."""

    def __getattr__(self, name: str):
        from midimon.plugins import operations

        return getattr(operations, name)


def _ops():
    return _Operations()


class _Refused(Exception):
    """The daemon said no; ``error`` is its error object (code, message...)."""

    def __init__(self, error: dict) -> None:
        super().__init__(error.get("message", "failed"))
        self.error = error


def _ask(args, command: str, payload: dict, local):
    """The daemon's answer to ``plugins.COMMAND`` when one runs, else ``local()`` on the files."""
    from midimon.engine.live.client import Client, NotRunning, RequestFailed

    try:
        with Client(getattr(args, "socket", None) or args.home.socket, timeout=30.0) as c:
            return c.call(f"plugins.{command}", payload)
    except NotRunning:
        return local()
    except RequestFailed as exc:
        raise _Refused(getattr(exc, "error", None) or {"message": str(exc)}) from None


def _run(fn, args) -> int:
    ops = _ops()
    try:
        result = fn(args)
    except ops.OperationError as exc:
        extra = {"code": exc.code, **exc.data} if exc.code != "failed" else {}
        return _failed(str(exc), args.json, extra)
    except _Refused as exc:
        err = dict(exc.error)
        return _failed(str(err.pop("message", "failed")), args.json, err)
    if isinstance(result, int):
        return result
    if args.json:
        print_json({"ok": True, **result} if isinstance(result, dict) else result)
    elif isinstance(result, dict):
        _show(_printable(result))
    return 0 if not (isinstance(result, dict) and result.get("ok") is False) else 1


def _printable(data):
    from midimon.engine.cli.plugin_grants import printable_data

    # plugin-supplied text (name, author, description, errors...) is escaped on a terminal
    return printable_data(data)


def _failed(message: str, as_json: bool, extra: dict) -> int:
    # ``code`` is the error's code ("needs_confirmation"): a JSON field, never fail()'s exit code
    if as_json:
        print_json({"ok": False, "error": message, **extra})
        return 1
    return fail(message)


def _show(result: dict, indent: str = "") -> None:
    for key, value in result.items():
        if key == "plugin" and isinstance(value, dict):
            print(f"{indent}now: {_state_words(value)}")
            continue
        if isinstance(value, dict) and value:
            print(f"{indent}{key}:")
            _show(value, indent + "  ")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{indent}{key}:")
            for item in value:
                print(f"{indent}  - " + ", ".join(f"{k}={v}" for k, v in item.items()))
        else:
            print(f"{indent}{key}: {value}")


# -- words for people ----------------------------------------------------------------------------

STATE_WORDS = {
    "running": "running",
    "idle": "idle (starts at its first use)",
    "disabled": "disabled",
    "error": "ERROR",
    "suspended": "SUSPENDED",
    "needs_grant": "needs a grant",
    "stopped": "not running",
}


def _where(err: dict) -> str:
    where = str(err.get("file") or "")
    if where and err.get("line"):
        where += f":{err['line']}"
        if err.get("col"):
            where += f":{err['col']}"
    return where


def error_line(p: dict) -> str | None:
    """The one problem of a plugin record worth a line (file:line first), or None."""
    err = p.get("error")
    if err:
        where = _where(err)
        message = str(err.get("message") or err.get("text") or "")
        return f"{where}: {message}" if where and where not in message else message
    if p.get("suspended"):
        return f"suspended: {p['suspended'].get('reason')} (lift it with: midimon plugins resume {p['name']})"
    if p.get("pending_requests"):
        r = p["pending_requests"][0]
        return f"was refused {r['capability']} ({r['scope']}, {r['count']}x); grant it with: {r['command']}"
    return None


def _state_words(p: dict) -> str:
    return STATE_WORDS.get(str(p.get("state") or ""), str(p.get("state")))


def _list(args):
    ops = _ops()
    data = _ask(args, "list", {}, lambda: ops.list_plugins(args.home))
    if args.json:
        return data
    data = _printable(data)
    where = "daemon running" if data["daemon_running"] else "daemon not running: read from the files"
    print(f"plugins folder: {data['folder']}  (signature policy: {data['signature_policy']}; {where})")
    if data.get("safe_mode"):
        print("SAFE MODE: only first-party plugins run (run midimon without --safe-mode to lift it)")
    if not data["plugins"]:
        print("no plugins installed")
    for p in data["plugins"]:
        kind = p.get("kind") or ("trusted" if p.get("source") == "entry_point" else "-")
        print(f"  {p['name']:<20} {kind:<8} {p.get('version') or '-':<8} {_state_words(p)}")
        if p.get("description"):
            print(f"      {p['description']}")
        line = error_line(p)
        if line:
            print(f"      {line}")
    for prob in data["problems"]:
        print(f"  ignored {prob['path']}: {prob['message']}")
    if data["available_builtin"]:
        print(
            "built-in plugins you can install (midimon plugins install builtin:NAME): "
            + ", ".join(data["available_builtin"])
        )
    return 0


def _info(args):
    ops = _ops()
    data = _ask(args, "info", {"name": args.name}, lambda: ops.info(args.home, args.name))
    if args.json:
        return data
    print(info_page(_printable(data)))
    return 0


def _scopes_text(scopes: dict) -> str:
    return "; ".join(f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in scopes.items())


def info_page(p: dict) -> str:
    """``plugins info`` in words: a page, not a dump (``--json`` keeps the whole record)."""
    from midimon.sandbox.grants import grant_command, is_dangerous

    name = p["name"]
    kind = f"{p['kind']} plugin" if p.get("kind") else "not loaded"
    out = [f"{name} {p.get('version') or ''}".rstrip() + f" ({kind})"]
    if p.get("description"):
        out.append(f"  {p['description']}")
    out.append("")
    hint = "" if p.get("enabled", True) else f" (enable it with: midimon plugins enable {name})"
    out.append(f"state:       {_state_words(p)}{hint}")
    line = error_line(p)
    if line:
        out.append(f"problem:     {line}")
    if p.get("failed_version"):
        out.append("             the edit failed to load; the previous version keeps running")
    out.append(f"source:      {p.get('source')} {p.get('path') or ''}".rstrip())
    sig = p.get("signature") or {}
    out.append(f"signature:   {sig.get('status')}" + (f" ({sig['message']})" if sig.get("message") else ""))
    if p.get("sha256"):
        out.append(f"sha256:      {p['sha256']}")
    for key in ("author", "homepage", "license"):
        if p.get(key):
            out.append(f"{key + ':':<13}{p[key]}")
    requested = p.get("capabilities_requested") or {}
    grants = p.get("grants") or {}
    if requested:
        out.append("capabilities:")
        for cap, scopes in requested.items():
            mark = (
                "granted"
                if cap in grants
                else f"not granted: {grant_command(name, cap, yes=is_dangerous(cap, scopes))}"
            )
            detail = _scopes_text(scopes)
            out.append(f"  {cap:<15} {mark}" + (f"  [{detail}]" if detail else ""))
    else:
        out.append("capabilities: none asked for")
    if p.get("settings"):
        out.append("settings:")
        for k, v in p["settings"].items():
            out.append(f"  {k} = {'(set)' if isinstance(v, dict) and v.get('set') else v}")
    auth = p.get("auth")
    if auth:  # a plugin that signs in: whether it is and until when, never a token
        if auth.get("signed_in"):
            left = auth.get("access_token_expires_in_s")
            when = (
                f"access token renewed by midimon, current one expires in {left // 60} min"
                if isinstance(left, int)
                else "access token fetched at the first call"
            )
            out.append(f"signed in:   yes ({when}; sign out with: {auth.get('sign_out')})")
        else:
            out.append(f"signed in:   no (sign in with: {auth.get('sign_in')})")
    c = p.get("counters") or {}
    out.append(
        f"calls:       {c.get('calls', 0)} ({c.get('failures', 0)} failed, {c.get('timeouts', 0)} timed out, "
        f"{c.get('denials', 0)} refused)"
    )
    for m in p.get("mappings") or []:
        desc = f": {m['description']}" if m.get("description") else ""
        out.append(f"used by:     mode {m['mode']}, mapping {m['index']}{desc}")
    for w in p.get("warnings") or []:
        out.append(f"warning:     {w}")
    for w in p.get("runs_anything") or []:
        out.append(f"WARNING:     {w}")
    audit = p.get("recent_audit") or []
    if audit:
        out.append("recent capability use:")
        for a in audit[-5:]:
            out.append(f"  {a.get('capability', '')} {a.get('action', '')} {a.get('outcome', '')}".rstrip())
    return "\n".join(out)


def _enable(enabled: bool):
    def run(args):
        ops = _ops()
        command = "enable" if enabled else "disable"
        return _ask(args, command, {"name": args.name}, lambda: ops.set_enabled(args.home, args.name, enabled))

    return run


def _resume(args):
    ops = _ops()

    def local():
        ops.check_installed(args.home, args.name)
        raise ops.OperationError(f"midimon is not running; plugin {args.name!r} starts afresh with the next run")

    return _ask(args, "resume", {"name": args.name}, local)


def _limits(args):
    ops = _ops()
    payload = {"name": args.name, "timeout_ms": args.timeout_ms, "memory_mb": args.memory_mb}
    return _ask(
        args,
        "limits",
        {k: v for k, v in payload.items() if v is not None},
        lambda: ops.set_limits(args.home, args.name, timeout_ms=args.timeout_ms, memory_mb=args.memory_mb),
    )


def _grant(args):
    from midimon.engine.cli import plugin_grants

    # the review, the question, --yes and --from-config live in plugin_grants.py
    return plugin_grants.grant(args, _ask)


def _revoke(args):
    ops = _ops()
    payload = {"name": args.name, "capability": args.capability}
    return _ask(args, "revoke", payload, lambda: ops.revoke_capability(args.home, args.name, args.capability))


def _deny(args):
    ops = _ops()

    def local():
        # pending requests live in the running daemon only: with none running, none are pending
        ops.check_installed(args.home, args.name)
        raise ops.OperationError(f"midimon is not running: plugin {args.name!r} has no pending request to deny")

    payload = {"name": args.name, "capability": args.capability}
    if args.scope is not None:
        payload["scope"] = args.scope
    return _ask(args, "deny", payload, local)


def _config(args):
    ops = _ops()
    current = _ask(args, "config", {"name": args.name}, lambda: ops.get_settings(args.home, args.name))
    if not (args.set or args.unset):
        return current
    settings = ops.edited_settings(current, args.set, args.unset)
    return _ask(
        args,
        "config",
        {"name": args.name, "settings": settings},
        lambda: ops.save_settings(args.home, args.name, settings),
    )


def _install(args):
    ops = _ops()
    payload = {"path": args.source, "force": args.force, "allow_unsigned": args.allow_unsigned, "yes": True}
    if args.grant:
        from midimon.engine.cli import plugin_grants

        # a dangerous capability is asked about on a terminal, or needs --yes (plugin_grants.py)
        payload["grants"] = plugin_grants.confirm_install(args)
    result = _ask(
        args,
        "install",
        payload,
        lambda: ops.install(
            args.home, args.source, grant=args.grant, force=args.force, allow_unsigned=args.allow_unsigned
        ),
    )
    if not args.json:
        from midimon.sandbox.grants import grant_command, is_dangerous

        result = _printable(result)
        print(f"installed {result['installed']} {result['version']} ({result['kind']}) -> {result['path']}")
        print(f"  {result['signature']}; sha256 {result['sha256']}")
        for w in result["warnings"]:
            print(f"  warning: {w}")
        for ask in result["asks_for"]:
            state = (
                "granted"
                if ask["capability"] in result["granted"]
                else "not granted: "
                + grant_command(
                    result["installed"], ask["capability"], yes=is_dangerous(ask["capability"], ask["scopes"])
                )
            )
            print(f"  asks for {ask['capability']} ({ask['why']}) {ask['scopes'] or ''}: {state}")
        return 0
    return result


def _uninstall(args):
    ops = _ops()
    return _ask(
        args,
        "uninstall",
        {"name": args.name, "keep_data": not args.purge},
        lambda: ops.uninstall(args.home, args.name, keep_data=not args.purge),
    )


def _verify(args):
    return _ops().verify(args.home, args.name)
