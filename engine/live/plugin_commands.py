"""The ``plugins.*`` socket commands: one per `midimon plugins SUBCOMMAND`, same arguments (as
JSON keys) and the same result as its ``--json`` output (docs/control-protocol.md).

Each changes files through :mod:`midimon.plugins.operations` (the one implementation of each
operation, shared with the CLI when no daemon runs), then runs the manager's ``sync`` before it
answers, so the answer (and the change feed) already shows the effect. Reads take no lock the
plugins hold: they answer while any plugin is busy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from midimon.engine.live.control import CommandError, ControlServer

if TYPE_CHECKING:
    from midimon.engine.daemon import Daemon
    from midimon.plugins.manager import PluginManager

#: capabilities that let a plugin act on the machine itself: installing with them granted over
#: the socket needs ``yes: true`` (a grant of them goes through plugins/granting.py, which asks too)
DANGEROUS = ("subprocess", "system_control")


def _manager(daemon: Daemon) -> PluginManager:
    from midimon.engine.plugin_ext import PluginExtension

    for ext in daemon.extensions:
        if isinstance(ext, PluginExtension):
            return ext.manager
    raise CommandError("no_plugins", "this daemon runs without plugins")


def _name(args: dict[str, Any], key: str = "name") -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value:
        raise CommandError("bad_args", f"{key} must be a plugin name (a string)")
    return value


def _names(args: dict[str, Any]) -> list[str]:
    if "names" in args:
        names = args["names"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise CommandError("bad_args", "names must be a non-empty list of plugin names")
        return names
    return [_name(args)]


def install(server: ControlServer, daemon: Daemon) -> None:
    from midimon.plugins import operations as ops

    def run(fn: Any, *a: Any, **kw: Any) -> Any:
        try:
            return fn(daemon.home, *a, **kw)  # every operation works on the daemon's one Home
        except ops.OperationError as exc:
            raise CommandError(exc.code, str(exc), **exc.data) from None

    def synced(reason: str) -> PluginManager:
        m = _manager(daemon)
        m.sync(reason)
        return m

    def record(m: PluginManager, name: str) -> dict[str, Any] | None:
        return m.record_json(name)

    def list_(c: Any, rid: Any, args: dict[str, Any]) -> Any:
        m = _manager(daemon)
        return ops.list_result(daemon.home, m.list_json(), m.problems, daemon_running=True, safe_mode=m.safe_mode)

    def info(c: Any, rid: Any, args: dict[str, Any]) -> Any:
        name = _name(args)
        data = record(_manager(daemon), name)
        if data is None:
            run(ops.check_installed, name)  # raises the "no plugin named" sentence
            raise CommandError("not_loaded", f"plugin {name!r} is not known to the daemon yet")
        return ops.info_result(daemon.home, data)

    def set_enabled(enabled: bool) -> Any:
        def handler(c: Any, rid: Any, args: dict[str, Any]) -> Any:
            names = _names(args)
            for n in names:
                run(ops.check_installed, n)
            for n in names:
                run(ops.set_enabled, n, enabled)
            m = synced("enable" if enabled else "disable")
            results = [{"name": n, "enabled": enabled, "plugin": record(m, n)} for n in names]
            return results[0] if "names" not in args else {"results": results}

        return handler

    def grant(c: Any, rid: Any, args: dict[str, Any]) -> Any:
        # the one grant operation (plugins/granting.py via operations): a dangerous grant without
        # ``yes: true`` is refused there with code needs_confirmation and the exact CLI command
        name, capability = _name(args), _name(args, "capability")
        scopes = args.get("scopes") or {}
        if not isinstance(scopes, dict):
            raise CommandError("bad_args", 'scopes must be an object, e.g. {"hosts": ["http://127.0.0.1:8080"]}')
        result = run(ops.grant_capability, name, capability, scopes, yes=args.get("yes") is True)
        return {**result, "plugin": record(synced("grant"), name)}

    def revoke(c: Any, rid: Any, args: dict[str, Any]) -> Any:
        name = _name(args)
        capability = args.get("capability")
        if capability is not None and not isinstance(capability, str):
            raise CommandError("bad_args", "capability must be a string")
        result = run(ops.revoke_capability, name, capability)
        return {**result, "plugin": record(synced("revoke"), name)}

    def deny(c: Any, rid: Any, args: dict[str, Any]) -> Any:
        # the UI's "Deny": the pending request leaves the record (the sync publishes it) and the
        # same denial stays silent until the daemon restarts or the plugin is edited
        name, capability = _name(args), _name(args, "capability")
        scope = args.get("scope")
        if scope is not None and not isinstance(scope, str):
            raise CommandError("bad_args", "scope must be a string, as the request shows it")
        run(ops.check_installed, name)
        m = _manager(daemon)
        denied = m.deny(name, capability, scope)
        return {"name": name, "denied": [{"capability": c, "scope": s} for c, s in denied], "plugin": record(m, name)}

    def resume(c: Any, rid: Any, args: dict[str, Any]) -> Any:
        from midimon.plugins.errors import PluginActionError

        name = _name(args)
        run(ops.check_installed, name)
        m = _manager(daemon)
        try:
            result = m.resume(name)
        except PluginActionError as exc:
            raise CommandError("no_such_plugin", str(exc)) from None
        return {**result, "plugin": record(m, name)}

    def config(c: Any, rid: Any, args: dict[str, Any]) -> Any:
        name = _name(args)
        settings = args.get("settings")
        if settings is not None and not isinstance(settings, dict):
            raise CommandError("bad_args", "settings must be an object")
        if settings is None:
            return run(ops.get_settings, name)
        result = run(ops.save_settings, name, settings)
        synced("settings")
        return result

    def install_(c: Any, rid: Any, args: dict[str, Any]) -> Any:
        path = _name(args, "path")
        grants = args.get("grants") or []
        if not isinstance(grants, list) or not all(isinstance(g, str) for g in grants):
            raise CommandError("bad_args", "grants must be a list of capability names")
        if args.get("yes") is not True:
            risky = [g for g in grants if g in DANGEROUS or g == "filesystem"]
            if risky:
                flags = " ".join(f"--grant-capability {g}" for g in grants)
                raise CommandError(
                    "needs_confirmation",
                    f"installing with {', '.join(risky)} granted lets the plugin act on this machine; confirm "
                    f"with: midimon plugins install {path} {flags} --yes",
                    command=f"midimon plugins install {path} {flags} --yes",
                )
        result = run(
            ops.install,
            path,
            grants=grants,
            force=bool(args.get("force")),
            allow_unsigned=bool(args.get("allow_unsigned")),
        )
        return {**result, "plugin": record(synced("install"), result["installed"])}

    def uninstall(c: Any, rid: Any, args: dict[str, Any]) -> Any:
        name = _name(args)
        result = run(ops.uninstall, name, keep_data=args.get("keep_data", True) is not False)
        synced("uninstall")
        return result

    def limits(c: Any, rid: Any, args: dict[str, Any]) -> Any:
        name = _name(args)
        result = run(ops.set_limits, name, timeout_ms=args.get("timeout_ms"), memory_mb=args.get("memory_mb"))
        if args.get("timeout_ms") is not None or args.get("memory_mb") is not None:
            synced("limits")
        return result

    server.commands.update(
        {
            "plugins.list": list_,
            "plugins.info": info,
            "plugins.enable": set_enabled(True),
            "plugins.disable": set_enabled(False),
            "plugins.grant": grant,
            "plugins.revoke": revoke,
            "plugins.deny": deny,
            "plugins.resume": resume,
            "plugins.config": config,
            "plugins.install": install_,
            "plugins.uninstall": uninstall,
            "plugins.limits": limits,
        }
    )
