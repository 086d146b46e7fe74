"""`midimon plugins ...`: list, install, grant and configure plugins (see docs/plugins-user-guide.md).

The commands change files (the plugins folder, MIDIMON_HOME/plugin-state.json, trusted_keys/);
a running daemon picks the change up within a fraction of a second.
"""

from __future__ import annotations

from midimon.engine.cli import add_json, fail, plugin_checksum, print_json


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
    )
    cmd(
        "uninstall",
        "remove a plugin (its data folder is kept unless --purge)",
        _uninstall,
        (("name",), {}),
        (("--purge",), {"action": "store_true"}),
    )
    cmd("enable", "enable a plugin", lambda a: _ops().set_enabled(a.name, True), (("name",), {}))
    cmd("disable", "disable a plugin (it is unloaded)", lambda a: _ops().set_enabled(a.name, False), (("name",), {}))
    cmd(
        "grant",
        "grant a capability (with the scopes the plugin declares, plus --scope)",
        lambda a: _ops().grant_capability(a.name, a.capability, a.scope),
        (("name",), {}),
        (("capability",), {}),
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
    cmd(
        "revoke",
        "revoke a capability (takes effect on the next call)",
        lambda a: _ops().revoke_capability(a.name, a.capability),
        (("name",), {}),
        (("capability",), {}),
    )
    cmd(
        "config",
        "show or change a plugin's settings (checked against its config_schema)",
        lambda a: _ops().configure(a.name, a.set, a.unset),
        (("name",), {}),
        (("--set",), {"action": "append", "default": [], "metavar": "KEY=VALUE"}),
        (("--unset",), {"action": "append", "default": [], "metavar": "KEY"}),
    )
    cmd(
        "new",
        "write a working plugin and its test from a template",
        lambda a: _ops().new(a.name, a.trigger, a.dir),
        (("name",), {}),
        (("--trigger",), {"action": "store_true", "help": "a trigger plugin (poll_events)"}),
        (("--dir",), {"help": "write here instead of the plugins folder"}),
    )
    cmd("verify", "check checksum and signature", _verify, (("name",), {}))
    plugin_checksum.register(ps)
    cmd(
        "sign",
        "sign a plugin with an Ed25519 private key (PEM)",
        lambda a: _ops().sign(a.name, a.key),
        (("name",), {}),
        (("--key",), {"required": True}),
    )
    cmd(
        "policy",
        "show or set the signature policy: allow, warn or require",
        lambda a: _ops().set_policy(a.policy),
        (("policy",), {"nargs": "?"}),
    )
    k = ps.add_parser("keys", help="trusted public keys: add, list, remove")
    ks = k.add_subparsers(dest="keys_command", metavar="ACTION")
    k.set_defaults(handler=lambda a: (k.print_help(), 2)[1])
    for name, help_, fn, extra in (
        (
            "add",
            "trust a public key (PEM or raw base64)",
            lambda a: _ops().keys_add(a.file, a.name),
            ((("file",), {}), (("--name",), {})),
        ),
        ("list", "list trusted keys", lambda a: _ops().keys_list(), ()),
        ("remove", "stop trusting a key", lambda a: _ops().keys_remove(a.name), ((("name",), {}),)),
    ):
        c = ks.add_parser(name, help=help_)
        for flags, kw in extra:
            c.add_argument(*flags, **kw)
        add_json(c)
        c.set_defaults(handler=lambda a, fn=fn: _run(fn, a))
    from . import plugin_catalog  # `plugins catalog`, `plugins install catalog:NAME`

    plugin_catalog.register(ps)


def _ops():
    from midimon.plugins import operations

    return operations


def _run(fn, args) -> int:
    ops = _ops()
    try:
        result = fn(args)
    except ops.OperationError as exc:
        return fail(str(exc), as_json=args.json)
    if isinstance(result, int):
        return result
    if args.json:
        print_json({"ok": True, **result} if isinstance(result, dict) else result)
    elif isinstance(result, dict):
        _show(result)
    return 0 if not (isinstance(result, dict) and result.get("ok") is False) else 1


def _show(result: dict, indent: str = "") -> None:
    for key, value in result.items():
        if isinstance(value, dict) and value:
            print(f"{indent}{key}:")
            _show(value, indent + "  ")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{indent}{key}:")
            for item in value:
                print(f"{indent}  - " + ", ".join(f"{k}={v}" for k, v in item.items()))
        else:
            print(f"{indent}{key}: {value}")


def _list(args):
    data = _ops().list_plugins()
    if args.json:
        return data
    print(
        f"plugins folder: {data['folder']}  (signature policy: {data['signature_policy']}; "
        f"daemon {'running' if data['daemon_running'] else 'not running'})"
    )
    if not data["plugins"]:
        print("no plugins installed")
    for p in data["plugins"]:
        state = "enabled" if p["enabled"] else "disabled"
        live = p.get("daemon")
        if live is not None:
            if live.get("error"):
                state += ", ERROR: " + live["error"]["text"]
            elif live.get("loaded"):
                host = live.get("host") or {}
                state += (
                    f", loaded (calls {host.get('calls', 0)}, failures {host.get('failures', 0)}"
                    f"{', SUSPENDED' if host.get('status') == 'suspended' else ''})"
                )
        if not p.get("valid", True):
            state += ", INVALID: " + p.get("problem", "")
        kind = p.get("kind") or "trusted"
        print(f"  {p['name']:<20} {kind:<8} {p.get('version') or '-':<8} {state}")
        if p.get("description"):
            print(f"      {p['description']}")
        if p.get("pending"):
            print(f"      asks for more than granted: {p['pending']}")
    for prob in data["problems"]:
        print(f"  ignored {prob['path']}: {prob['message']}")
    if data["available_builtin"]:
        print(
            "built-in plugins you can install (midimon plugins install builtin:NAME): "
            + ", ".join(data["available_builtin"])
        )
    return 0


def _info(args):
    data = _ops().info(args.name)
    return data


def _install(args):
    result = _ops().install(args.source, grant=args.grant, force=args.force)
    if not args.json:
        print(f"installed {result['installed']} {result['version']} ({result['kind']}) -> {result['path']}")
        print(f"  {result['signature']}; sha256 {result['sha256']}")
        for w in result["warnings"]:
            print(f"  warning: {w}")
        for ask in result["asks_for"]:
            state = (
                "granted"
                if ask["capability"] in result["granted"]
                else f"not granted: midimon plugins grant {result['installed']} {ask['capability']}"
            )
            print(f"  asks for {ask['capability']} ({ask['why']}) {ask['scopes'] or ''}: {state}")
        return 0
    return result


def _uninstall(args):
    return _ops().uninstall(args.name, keep_data=not args.purge)


def _verify(args):
    return _ops().verify(args.name)
