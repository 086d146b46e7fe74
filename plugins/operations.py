"""The manager's operations: plain data in and out, one implementation of each.

They work on the files (plugins folder, state file, trusted keys). Inside the daemon the
``plugins.*`` socket commands call them and then sync the plugin manager before answering; the
CLI asks the daemon over the socket when one runs and calls them itself only when none does
(then ``list_plugins`` and ``info`` read the files and describe each plugin in the same record
shape the daemon returns, with ``state: "stopped"``). Each raises ``OperationError`` with a
sentence that says what to do.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from midimon.config.home import Home

from . import discovery, integrity, templates
from .grants import declared_scopes_for, effective
from .manifest import MANIFEST, ManifestError, check_name
from .plugin_toml import read_folder_manifest
from .state import PluginState

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
MAX_ARCHIVE_BYTES = 16 * 1024 * 1024
CAPABILITY_WHY = {
    "network": "HTTP requests, MQTT and the Spotify Web API, to the hosts, brokers and topics listed",
    "filesystem": "read and write files outside its own data folder, in the paths listed",
    "midi": "send MIDI to the output ports listed",
    "subprocess": "run the programs listed",
    "system_control": "press keys, type text, change the volume, launch applications",
    "audio": "play sound files",
}


class OperationError(Exception):
    """A problem the user can act on; ``code`` and ``data`` go into a socket error as they are."""

    def __init__(self, message: str, code: str = "failed", **data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


def _folder(home: Home) -> Path:
    return home.plugins


def _state(home: Home) -> PluginState:
    return PluginState(home.plugin_state)


def _candidates(home: Home) -> dict[str, discovery.Candidate]:
    found, _ = discovery.scan(_folder(home))
    for name, cand in discovery.entry_points().items():
        found.setdefault(name, cand)
    return found


def _candidate(home: Home, name: str) -> discovery.Candidate:
    cand = _candidates(home).get(name)
    if cand is None:
        from .aliases import canonical

        if canonical(name) != name:  # an old first-party name: one record, under the new name
            raise OperationError(
                f"{name!r} is now called {canonical(name)!r}: name it so (e.g. midimon plugins info {canonical(name)})"
            )
        raise OperationError(f"no plugin named {name!r} in {_folder(home)} (see: midimon plugins list)")
    return cand


def check_installed(home: Home, name: str) -> None:
    _candidate(home, name)


def static_record(home: Home, cand: discovery.Candidate, state: PluginState) -> dict[str, Any]:
    """One plugin as the daemon would describe it, read from the files (no daemon runs)."""
    from .manager import with_defaults
    from .record import PluginRecord, to_json
    from .runtime import describe_error

    entry = state.entry(cand.name)
    rec = PluginRecord(cand.name, cand, enabled=bool(entry["enabled"]), settings=dict(entry["settings"]))
    view = None
    if not cand.trusted:
        try:
            v = discovery.read(cand, state.signature_policy, home.trusted_keys)
        except Exception as exc:
            from .record import FailedVersion

            rec.failed = FailedVersion(None, describe_error(exc), False)
        else:
            grants, pending = effective(v.decl, entry["grants"])
            rec.warnings = tuple(v.warnings)
            view = _FileVersion(v, grants, with_defaults(entry["settings"], v.decl.config_schema))
    data = to_json(rec, view, None, [])  # type: ignore[arg-type]  # a file view has a Version's fields
    if data["state"] in ("running", "needs_grant"):
        data["state"] = "stopped"  # nothing runs without a daemon
    return data


class _FileVersion:
    """What ``record.to_json`` reads of a running version, for a plugin read from its file."""

    def __init__(self, verified: discovery.Verified, grants: Any, settings: dict[str, Any]) -> None:
        self.verified = verified
        self.decl = verified.decl
        self.grants = grants
        self.settings = settings
        self.init_error: str | None = None


def list_result(
    home: Home,
    records: list[dict[str, Any]],
    problems: list[tuple[str, str]],
    *,
    daemon_running: bool,
    safe_mode: bool = False,
) -> dict[str, Any]:
    """What ``plugins list --json`` and ``plugins.list`` return."""
    state = _state(home)
    names = {r["name"] for r in records}
    builtins = sorted(p.stem for p in BUILTIN_DIR.glob("*.py") if not p.name.startswith("_"))
    return {
        "folder": str(_folder(home)),
        "daemon_running": daemon_running,
        "safe_mode": safe_mode,
        "signature_policy": state.signature_policy,
        "plugins": records,
        "problems": [{"path": p, "message": m} for p, m in problems],
        "available_builtin": [b for b in builtins if b not in names],
        "state_warnings": state.warnings,
    }


def list_plugins(home: Home) -> dict[str, Any]:
    state = _state(home)
    found, problems = discovery.scan(_folder(home))
    for name, cand in discovery.entry_points().items():
        found.setdefault(name, cand)
    return list_result(home, [static_record(home, c, state) for c in found.values()], problems, daemon_running=False)


def info_result(home: Home, record: dict[str, Any]) -> dict[str, Any]:
    """The record plus the plugin's recent audit lines (``plugins info --json``, ``plugins.info``)."""
    name = record["name"]
    audit = home.audit
    recent = []
    if audit.exists():
        for line in audit.read_text("utf-8", "replace").splitlines()[-2000:]:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("plugin") == name:
                recent.append(rec)
    from .granting import runs_anything_of
    from .secrets import auth_status

    # "runs anything" in those words for every granted command pattern that does (granting.py)
    result = {**record, "recent_audit": recent[-10:], "runs_anything": runs_anything_of(record.get("grants") or {})}
    auth = auth_status(home, name)  # a plugin that signs in: whether it is, never a token
    return {**result, "auth": auth} if auth is not None else result


def info(home: Home, name: str) -> dict[str, Any]:
    return info_result(home, static_record(home, _candidate(home, name), _state(home)))


# -- install / uninstall ------------------------------------------------------------------------


def _safe_extract(archive: Path, into: Path) -> None:
    """Extract a .zip, rejecting any member that would land outside ``into`` (zip slip),
    links, and archives that unpack to more than MAX_ARCHIVE_BYTES."""
    with zipfile.ZipFile(archive) as zf:
        total = 0
        for info in zf.infolist():
            name = info.filename
            p = PurePosixPath(name)
            if name.startswith("/") or "\\" in name or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                raise OperationError(
                    f"{archive}: refusing the archive: member {name!r} would be written outside the plugin folder"
                )
            mode = (info.external_attr >> 16) & 0o170000
            if mode == 0o120000:
                raise OperationError(f"{archive}: refusing the archive: member {name!r} is a symbolic link")
            total += info.file_size
            if total > MAX_ARCHIVE_BYTES:
                raise OperationError(
                    f"{archive}: refusing the archive: it unpacks to more than {MAX_ARCHIVE_BYTES} bytes"
                )
        for info in zf.infolist():
            target = (into / info.filename).resolve()
            if not str(target).startswith(str(into.resolve()) + os.sep) and target != into.resolve():
                raise OperationError(f"{archive}: refusing member {info.filename!r}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)


def _resolve_source(source: str, work: Path) -> tuple[Path, str]:
    """A .py file, a folder, a .zip, or ``builtin:NAME`` -> (path to copy, packaging)."""
    if source.startswith("builtin:"):
        from .aliases import canonical

        name = canonical(source.split(":", 1)[1])  # builtin:spotify_control is builtin:spotify
        p = BUILTIN_DIR / f"{name}.py"
        if not p.is_file():
            raise OperationError(
                f"there is no built-in plugin {name!r}; available: "
                + ", ".join(sorted(x.stem for x in BUILTIN_DIR.glob("[a-z]*.py")))
            )
        return p, "file"
    p = Path(source).expanduser()
    if p.is_symlink():
        raise OperationError(f"{p} is a symbolic link; give the real file or folder")
    if p.is_file() and p.suffix == ".py":
        return p, "file"
    if p.is_dir():
        if not (p / MANIFEST).is_file():
            raise OperationError(f"{p} has no {MANIFEST}; a folder plugin needs one")
        return p, "folder"
    if p.is_file() and p.suffix == ".zip":
        out = work / "unpacked"
        out.mkdir()
        _safe_extract(p, out)
        entries = [e for e in out.iterdir() if not e.name.startswith((".", "__MACOSX"))]
        if (out / MANIFEST).is_file():
            folder = work / p.stem
            out.rename(folder)
            return folder, "folder"
        if len(entries) == 1 and entries[0].is_dir() and (entries[0] / MANIFEST).is_file():
            return entries[0], "folder"
        pys = [e for e in entries if e.suffix == ".py"]
        if len(entries) == 1 and pys:
            return pys[0], "file"
        raise OperationError(f"{p}: the archive holds neither a plugin folder with {MANIFEST} nor a single .py file")
    raise OperationError(f"{source}: not a .py file, a plugin folder or a .zip archive")


def install(
    home: Home,
    source: str,
    *,
    grant: bool = False,
    force: bool = False,
    grants: list[str] | None = None,
    allow_unsigned: bool = False,
) -> dict[str, Any]:
    """Install ``source``; ``grant`` grants all it asks for, ``grants`` those named. A
    ``require`` signature policy refuses an unsigned plugin unless ``allow_unsigned``."""
    state = _state(home)
    with tempfile.TemporaryDirectory(prefix="midimon-install-") as tmp:
        work = Path(tmp)
        path, packaging = _resolve_source(source, work)
        name = path.stem if packaging == "file" else path.name
        try:
            check_name(name)
        except ValueError as exc:
            raise OperationError(str(exc)) from None
        folder = _folder(home)
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / (f"{name}.py" if packaging == "file" else name)
        if (dest.exists() or (folder / name).exists() or (folder / f"{name}.py").exists()) and not force:
            raise OperationError(f"a plugin named {name!r} is already installed; use --force to replace it")
        # validate and verify a staged copy before anything lands in the plugins folder
        staged = work / "staged"
        staged.mkdir()
        target = staged / dest.name
        if packaging == "file":
            shutil.copyfile(path, target)
            sig = path.with_name(path.name + ".sig")
            if sig.is_file():
                shutil.copyfile(sig, staged / sig.name)
        else:
            shutil.copytree(path, target, symlinks=True)
        cand = discovery.Candidate(name, packaging, target)
        policy = state.signature_policy
        if allow_unsigned and policy == "require":
            policy = "warn"  # this one install: the daemon still reads it under the user's policy
        try:
            verified = discovery.read(cand, policy, home.trusted_keys)
        except Exception as exc:
            raise OperationError(f"not installed: {exc}") from None
        decl = verified.decl
        # move into place: a temporary name in the same folder, then rename
        tmp_dest = folder / f".installing-{name}-{os.getpid()}"
        if packaging == "file":
            shutil.copyfile(target, tmp_dest)
        else:
            shutil.copytree(target, tmp_dest, symlinks=True)
        for old in (folder / name, folder / f"{name}.py", folder / f"{name}.py.sig"):
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            elif old.exists() or old.is_symlink():
                old.unlink()
        if packaging == "file" and (staged / f"{name}.py.sig").exists():
            shutil.copyfile(staged / f"{name}.py.sig", folder / f"{name}.py.sig")
        os.replace(tmp_dest, dest)
    granted = []
    for cap in decl.capabilities:
        if grant or cap in (grants or ()):
            grant_capability(home, name, cap, yes=True)  # confirmed by the caller: socket or CLI prompt
            granted.append(cap)
    return {
        "installed": name,
        "path": str(dest),
        "kind": decl.kind,
        "version": decl.version,
        "description": decl.description,
        "sha256": verified.sha256,
        "signature": verified.signature.message,
        "warnings": list(verified.warnings),
        "asks_for": [
            {"capability": c, "why": CAPABILITY_WHY.get(c, ""), "scopes": declared_scopes_for(decl, c)}
            for c in decl.capabilities
        ],
        "granted": granted,
    }


def uninstall(home: Home, name: str, *, keep_data: bool = True) -> dict[str, Any]:
    cand = _candidate(home, name)
    if cand.trusted:
        raise OperationError(f"{name!r} is installed with pip; remove it with pip uninstall")
    if getattr(cand, "first_party", False):  # its file is inside the installed package
        raise OperationError(
            f"{name!r} ships with midimon and cannot be uninstalled; turn it off with: midimon plugins disable {name}"
        )
    assert cand.path is not None
    if cand.packaging == "folder":
        shutil.rmtree(cand.path)
    else:
        cand.path.unlink()
        sig = cand.signature_path()
        if sig is not None and sig.exists():
            sig.unlink()
    _state(home).forget(name)
    data = home.data_dir(name)
    if not keep_data and data.exists():
        shutil.rmtree(data)
    return {"uninstalled": name, "data_kept": keep_data and data.exists(), "data": str(data)}


# -- decisions ----------------------------------------------------------------------------------


def set_enabled(home: Home, name: str, enabled: bool) -> dict[str, Any]:
    _candidate(home, name)
    _state(home).update_plugin(name, lambda e: e.__setitem__("enabled", enabled))
    return {"name": name, "enabled": enabled}


def grant_capability(
    home: Home, name: str, capability: str, scopes: list[str] | dict[str, Any] | None = None, *, yes: bool = False
) -> dict[str, Any]:
    """Grant ``capability`` (declared scopes plus ``scopes``); a dangerous grant needs ``yes``
    (plugins/granting.py, the one implementation: CLI, ``--from-config``, install, socket)."""
    from . import granting

    cand = _candidate(home, name)
    if cand.trusted:
        raise OperationError(f"{name!r} is a trusted pip-installed plugin; it is not sandboxed")
    try:
        decl = discovery.read(cand, "allow", home.trusted_keys).decl
    except Exception as exc:
        raise OperationError(f"cannot read plugin {name!r}: {exc}") from None
    try:
        return granting.grant(name, decl, capability, scopes, _state(home), yes=yes)
    except granting.GrantError as exc:
        raise OperationError(str(exc), exc.code, **exc.data) from None


def revoke_capability(home: Home, name: str, capability: str | None) -> dict[str, Any]:
    """Revoke one capability, or (``None``) every grant of the plugin."""
    _candidate(home, name)
    removed: list[str] = []

    def apply(entry: dict[str, Any]) -> None:
        for cap in [capability] if capability is not None else list(entry["grants"]):
            if entry["grants"].pop(cap, None) is not None:
                removed.append(cap)

    _state(home).update_plugin(name, apply)
    return {"name": name, "revoked": capability if capability is not None else removed, "was_granted": bool(removed)}


def declared_scopes(home: Home, name: str, capability: str) -> dict[str, Any]:
    """The scopes plugin ``name`` declares for ``capability`` (what a grant would give)."""
    cand = _candidate(home, name)
    if cand.trusted:
        return {}
    try:
        decl = discovery.read(cand, "allow", home.trusted_keys).decl
    except Exception as exc:
        raise OperationError(f"cannot read plugin {name!r}: {exc}") from None
    return declared_scopes_for(decl, capability)


def _schema(home: Home, name: str) -> dict[str, Any] | None:
    cand = _candidate(home, name)
    if cand.trusted:
        return None
    try:
        return discovery.read(cand, "allow", home.trusted_keys).decl.config_schema
    except Exception as exc:
        raise OperationError(f"cannot read plugin {name!r}: {exc}") from None


def _secrets(schema: dict[str, Any] | None) -> set[str]:
    props = (schema or {}).get("properties") or {}
    return {
        k for k, p in props.items() if isinstance(p, dict) and (p.get("secret") is True or p.get("writeOnly") is True)
    }


def get_settings(home: Home, name: str) -> dict[str, Any]:
    """``plugins.config`` without settings: the settings (secrets as ``{"set": true}``) and schema."""
    from .record import redact

    schema = _schema(home, name)
    return {"name": name, "settings": redact(_state(home).entry(name)["settings"], schema), "schema": schema}


def save_settings(home: Home, name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Validate ``settings`` against the plugin's config_schema and save them. A secret sent back
    as ``{"set": true}`` (what the reader was shown) keeps its stored value."""
    schema = _schema(home, name)
    old = _state(home).entry(name)["settings"]
    merged = dict(settings)
    for key in _secrets(schema):
        if merged.get(key) == {"set": True} and key in old:
            merged[key] = old[key]
    if schema:
        import jsonschema

        errors = sorted(
            jsonschema.Draft202012Validator(schema).iter_errors(merged), key=lambda e: list(e.absolute_path)
        )
        if errors:
            raise OperationError(
                "; ".join(f"{'.'.join(map(str, e.absolute_path)) or 'settings'}: {e.message}" for e in errors),
                "invalid_settings",
                errors=[{"path": list(e.absolute_path), "message": e.message} for e in errors],
            )
    _state(home).update_plugin(name, lambda e: e.__setitem__("settings", merged))
    return get_settings(home, name)


def edited_settings(current: dict[str, Any], set_: list[str], unset: list[str]) -> dict[str, Any]:
    """``get_settings``' answer changed by the CLI's ``--set KEY=VALUE`` and ``--unset KEY``."""
    settings = dict(current.get("settings") or {})
    props = (current.get("schema") or {}).get("properties") or {}
    for item in set_:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise OperationError(f"--set {item!r}: use KEY=VALUE")
        settings[key] = _coerce(value, props.get(key))
    for key in unset:
        settings.pop(key, None)
    return settings


def asked_capabilities(home: Home, source: str) -> list[str]:
    """The capabilities the plugin at ``source`` asks for (``install --grant``)."""
    return list(asked_declarations(home, source).capabilities)


def asked_declarations(home: Home, source: str) -> Any:
    """The declarations of the plugin at ``source``, not installed (the install review)."""
    with tempfile.TemporaryDirectory(prefix="midimon-inspect-") as tmp:
        path, packaging = _resolve_source(source, Path(tmp))
        name = path.stem if packaging == "file" else path.name
        try:
            return discovery.read(discovery.Candidate(name, packaging, path), "allow", home.trusted_keys).decl
        except Exception as exc:
            raise OperationError(f"not installed: {exc}") from None


def set_limits(home: Home, name: str, *, timeout_ms: Any = None, memory_mb: Any = None) -> dict[str, Any]:
    """Show or set one plugin's call deadline and memory limit (kept in the state file)."""
    _candidate(home, name)
    for key, value, low, high in (("timeout_ms", timeout_ms, 10, 600_000), ("memory_mb", memory_mb, 16, 8192)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            raise OperationError(f"{key} must be a whole number from {low} to {high}", "bad_args")

    def apply(entry: dict[str, Any]) -> None:
        limits = dict(entry.get("limits") or {})
        if timeout_ms is not None:
            limits["timeout_ms"] = timeout_ms
        if memory_mb is not None:
            limits["memory_mb"] = memory_mb
        entry["limits"] = limits

    if timeout_ms is not None or memory_mb is not None:
        _state(home).update_plugin(name, apply)
    own = _state(home).entry(name).get("limits", {})
    return {"name": name, "limits": own, "effective": {**_default_limits(), **own}, "defaults": _default_limits()}


def _default_limits() -> dict[str, int]:
    """The call deadline and memory limit a plugin gets when ``plugins limits`` set none."""
    from midimon.sandbox import Limits

    base = Limits()
    return {"timeout_ms": round(base.call_timeout * 1000), "memory_mb": base.memory_bytes // (1024 * 1024)}


def _coerce(value: str, schema: dict[str, Any] | None) -> Any:
    kind = (schema or {}).get("type")
    if kind == "string":
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def configure(home: Home, name: str, set_: list[str] | None = None, unset: list[str] | None = None) -> dict[str, Any]:
    cand = _candidate(home, name)
    schema = None
    if not cand.trusted:
        try:
            schema = discovery.read(cand, "allow", home.trusted_keys).decl.config_schema
        except Exception as exc:
            raise OperationError(f"cannot read plugin {name!r}: {exc}") from None
    settings = dict(_state(home).entry(name)["settings"])
    props = (schema or {}).get("properties") or {}
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise OperationError(f"--set {item!r}: use KEY=VALUE")
        settings[key] = _coerce(value, props.get(key))
    for key in unset or []:
        settings.pop(key, None)
    if schema and (set_ or unset):
        import jsonschema

        errors = sorted(
            jsonschema.Draft202012Validator(schema).iter_errors(settings), key=lambda e: list(e.absolute_path)
        )
        if errors:
            raise OperationError(
                "; ".join(f"{'.'.join(map(str, e.absolute_path)) or 'settings'}: {e.message}" for e in errors)
            )
    if set_ or unset:
        _state(home).update_plugin(name, lambda e: e.__setitem__("settings", settings))
    secret = {k for k, p in props.items() if isinstance(p, dict) and p.get("secret")}
    shown = {k: ("***" if k in secret and v else v) for k, v in settings.items()}
    return {"name": name, "settings": shown, "schema": schema}


def set_policy(home: Home, policy: str | None) -> dict[str, Any]:
    state = _state(home)
    if policy is not None:
        if policy not in integrity.POLICIES:
            raise OperationError(f"policy must be one of {', '.join(integrity.POLICIES)}")
        state.update(lambda d: d.__setitem__("signature_policy", policy))
    return {"signature_policy": state.signature_policy}


# -- integrity ----------------------------------------------------------------------------------


def verify(home: Home, name: str) -> dict[str, Any]:
    cand = _candidate(home, name)
    if cand.trusted:
        return {"name": name, "ok": True, "trusted": True, "message": "pip-installed, trusted"}
    state = _state(home)
    try:
        v = discovery.read(cand, state.signature_policy, home.trusted_keys)
    except Exception as exc:
        return {"name": name, "ok": False, "message": str(exc)}
    return {
        "name": name,
        "ok": True,
        "sha256": v.sha256,
        "signed": v.signature.signed,
        "signature_valid": v.signature.valid,
        "key": v.signature.key,
        "message": v.signature.message,
        "warnings": list(v.warnings),
        "checksum": v.decl.checksum,
        "policy": state.signature_policy,
    }


def sign(home: Home, name: str, key_file: str) -> dict[str, Any]:
    cand = _candidate(home, name)
    if cand.trusted or cand.path is None:
        raise OperationError("only file and folder plugins are signed")
    try:
        key = integrity.load_private(Path(key_file).expanduser())
    except Exception as exc:
        raise OperationError(f"cannot read the private key {key_file}: {exc}") from None
    if cand.packaging == "file":
        entry, manifest = integrity.read_no_follow(cand.path), None
    else:
        manifest = integrity.read_no_follow(cand.path / MANIFEST)
        try:  # the entry file the daemon reads: `entry`, or the plan's `binary`
            entry_name = read_folder_manifest(manifest, str(cand.path / MANIFEST), name, cand.path).entry
        except ManifestError as exc:
            raise OperationError(str(exc)) from None
        entry = integrity.read_no_follow(cand.path / entry_name)
    sig_path = cand.signature_path()
    assert sig_path is not None
    sig_path.write_text(integrity.sign(entry, manifest, key) + "\n")
    return {"name": name, "signature": str(sig_path), "key": integrity.fingerprint(key.public_key())}


def keys_list(home: Home) -> dict[str, Any]:
    return {
        "folder": str(home.trusted_keys),
        "keys": [
            {"name": tk.name, "fingerprint": tk.fingerprint, "path": str(tk.path)}
            for tk, _ in integrity.trusted_keys(home.trusted_keys)
        ],
    }


def keys_add(home: Home, path: str, name: str | None = None) -> dict[str, Any]:
    try:
        tk = integrity.add_key(home.trusted_keys, Path(path).expanduser(), name)
    except (integrity.IntegrityError, OSError) as exc:
        raise OperationError(str(exc)) from None
    return {"added": tk.name, "fingerprint": tk.fingerprint, "path": str(tk.path)}


def keys_remove(home: Home, name: str) -> dict[str, Any]:
    if not integrity.remove_key(home.trusted_keys, name):
        raise OperationError(f"no trusted key named {name!r} (see: midimon plugins keys list)")
    return {"removed": name}


# -- new ----------------------------------------------------------------------------------------


def new(home: Home, name: str, trigger: bool = False, directory: str | None = None) -> dict[str, Any]:
    try:
        check_name(name)
    except ValueError as exc:
        raise OperationError(str(exc)) from None
    folder = Path(directory).expanduser() if directory else _folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    plugin = folder / f"{name}.py"
    if plugin.exists():
        raise OperationError(f"{plugin} already exists")
    tests_dir = home.root / "plugin-tests" if not directory else folder
    tests_dir.mkdir(parents=True, exist_ok=True)
    test = tests_dir / f"test_{name}.py"
    source, test_source = templates.render(name, trigger, str(plugin))
    plugin.write_text(source)
    if not test.exists():
        test.write_text(test_source)
    return {"plugin": str(plugin), "test": str(test), "kind": "trigger" if trigger else "action"}


__all__ = [
    "OperationError",
    "configure",
    "grant_capability",
    "info",
    "install",
    "keys_add",
    "keys_list",
    "keys_remove",
    "list_plugins",
    "new",
    "revoke_capability",
    "save_settings",
    "set_enabled",
    "set_limits",
    "set_policy",
    "sign",
    "uninstall",
    "verify",
]
