"""The manager's operations, shared by the CLI (and later the web UI): plain data in and out.

They work on the files (plugins folder, state file, trusted keys); a running daemon notices
the change through its watcher (and re-reads the state file before every Plugin action, so a
revoke takes effect on the next call). Each raises ``OperationError`` with a sentence that says
what to do.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from midimon.config import paths
from midimon.sandbox import CAPABILITIES

from . import discovery, integrity, templates
from .grants import declared_scopes_for, effective, merge_scopes, parse_scope_args
from .manifest import MANIFEST, check_name
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
    pass


def _folder() -> Path:
    return paths.plugins_dir()


def _state() -> PluginState:
    return PluginState()


def runtime_status() -> dict[str, Any] | None:
    """What the running daemon last published, or None when no daemon runs."""
    from .manager import status_path

    try:
        data = json.loads(status_path().read_text("utf-8"))
    except (OSError, ValueError):
        return None
    pid = data.get("pid")
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return None
    return data


def _candidates() -> dict[str, discovery.Candidate]:
    found, _ = discovery.scan(_folder())
    for name, cand in discovery.entry_points().items():
        found.setdefault(name, cand)
    return found


def _candidate(name: str) -> discovery.Candidate:
    cand = _candidates().get(name)
    if cand is None:
        raise OperationError(f"no plugin named {name!r} in {_folder()} (see: midimon plugins list)")
    return cand


def describe(cand: discovery.Candidate, state: PluginState, live: dict[str, Any] | None) -> dict[str, Any]:
    entry = state.entry(cand.name)
    item: dict[str, Any] = {
        "name": cand.name,
        "packaging": cand.packaging,
        "path": str(cand.path) if cand.path else None,
        "trusted": cand.trusted,
        "enabled": entry["enabled"],
        "granted": sorted(entry["grants"]),
        "settings": entry["settings"],
    }
    if not cand.trusted:
        try:
            v = discovery.read(cand, state.signature_policy)
            grants, pending = effective(v.decl, entry["grants"])
            item.update(v.decl.to_json())
            item.update(
                sha256=v.sha256,
                signature=v.signature.message,
                signature_valid=v.signature.valid,
                warnings=list(v.warnings),
                effective_grants=grants.to_dict(),
                pending=pending,
                valid=True,
            )
        except Exception as exc:
            item.update(valid=False, problem=str(exc))
    else:
        item.update(kind=None, description="trusted plugin installed with pip (not sandboxed)", valid=True)
    if live is not None:
        match = next((p for p in live.get("plugins", []) if p["name"] == cand.name), None)
        item["daemon"] = match or {"loaded": False}
    return item


def list_plugins() -> dict[str, Any]:
    state = _state()
    live = runtime_status()
    found, problems = discovery.scan(_folder())
    for name, cand in discovery.entry_points().items():
        found.setdefault(name, cand)
    builtins = sorted(p.stem for p in BUILTIN_DIR.glob("*.py") if not p.name.startswith("_"))
    return {
        "folder": str(_folder()),
        "daemon_running": live is not None,
        "signature_policy": state.signature_policy,
        "plugins": [describe(c, state, live) for c in found.values()],
        "problems": [{"path": p, "message": m} for p, m in problems],
        "available_builtin": [b for b in builtins if b not in found],
        "state_warnings": state.warnings,
    }


def info(name: str) -> dict[str, Any]:
    state = _state()
    item = describe(_candidate(name), state, runtime_status())
    audit = paths.home() / "logs" / "audit.jsonl"
    recent = []
    if audit.exists():
        for line in audit.read_text("utf-8", "replace").splitlines()[-2000:]:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("plugin") == name:
                recent.append(rec)
    item["recent_audit"] = recent[-10:]
    return item


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
        name = source.split(":", 1)[1]
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


def install(source: str, *, grant: bool = False, force: bool = False) -> dict[str, Any]:
    state = _state()
    with tempfile.TemporaryDirectory(prefix="midimon-install-") as tmp:
        work = Path(tmp)
        path, packaging = _resolve_source(source, work)
        name = path.stem if packaging == "file" else path.name
        try:
            check_name(name)
        except ValueError as exc:
            raise OperationError(str(exc)) from None
        folder = _folder()
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
        try:
            verified = discovery.read(cand, state.signature_policy)
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
    if grant:
        for cap in decl.capabilities:
            grant_capability(name, cap)
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


def uninstall(name: str, *, keep_data: bool = True) -> dict[str, Any]:
    cand = _candidate(name)
    if cand.trusted:
        raise OperationError(f"{name!r} is installed with pip; remove it with pip uninstall")
    assert cand.path is not None
    if cand.packaging == "folder":
        shutil.rmtree(cand.path)
    else:
        cand.path.unlink()
        sig = cand.signature_path()
        if sig is not None and sig.exists():
            sig.unlink()
    _state().forget(name)
    data = paths.home() / "plugins-data" / name
    if not keep_data and data.exists():
        shutil.rmtree(data)
    return {"uninstalled": name, "data_kept": keep_data and data.exists(), "data": str(data)}


# -- decisions ----------------------------------------------------------------------------------


def set_enabled(name: str, enabled: bool) -> dict[str, Any]:
    _candidate(name)
    _state().update_plugin(name, lambda e: e.__setitem__("enabled", enabled))
    return {"name": name, "enabled": enabled}


def grant_capability(name: str, capability: str, scopes: list[str] | None = None) -> dict[str, Any]:
    if capability not in CAPABILITIES:
        raise OperationError(f"unknown capability {capability!r}; known: {', '.join(sorted(CAPABILITIES))}")
    cand = _candidate(name)
    if cand.trusted:
        raise OperationError(f"{name!r} is a trusted pip-installed plugin; it is not sandboxed")
    try:
        decl = discovery.read(cand, "allow").decl
    except Exception as exc:
        raise OperationError(f"cannot read plugin {name!r}: {exc}") from None
    if capability not in decl.capabilities:
        raise OperationError(
            f"plugin {name!r} does not ask for {capability!r} (it asks for: "
            f"{', '.join(decl.capabilities) or 'nothing'})"
        )
    try:
        extra = parse_scope_args(scopes or [], capability)
    except ValueError as exc:
        raise OperationError(str(exc)) from None
    granted_scopes = merge_scopes(declared_scopes_for(decl, capability), extra)

    def apply(entry):
        old = (entry["grants"].get(capability) or {}).get("scopes") or {}
        entry["grants"][capability] = {"scopes": merge_scopes(old, granted_scopes), "time": time.time()}

    entry = _state().update_plugin(name, apply)
    return {"name": name, "granted": capability, "scopes": entry["grants"][capability]["scopes"]}


def revoke_capability(name: str, capability: str) -> dict[str, Any]:
    _candidate(name)
    removed = []
    _state().update_plugin(name, lambda e: removed.append(e["grants"].pop(capability, None)))
    return {"name": name, "revoked": capability, "was_granted": removed[0] is not None}


def _coerce(value: str, schema: dict[str, Any] | None) -> Any:
    kind = (schema or {}).get("type")
    if kind == "string":
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def configure(name: str, set_: list[str] | None = None, unset: list[str] | None = None) -> dict[str, Any]:
    cand = _candidate(name)
    schema = None
    if not cand.trusted:
        try:
            schema = discovery.read(cand, "allow").decl.config_schema
        except Exception as exc:
            raise OperationError(f"cannot read plugin {name!r}: {exc}") from None
    settings = dict(_state().entry(name)["settings"])
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
        _state().update_plugin(name, lambda e: e.__setitem__("settings", settings))
    secret = {k for k, p in props.items() if isinstance(p, dict) and p.get("secret")}
    shown = {k: ("***" if k in secret and v else v) for k, v in settings.items()}
    return {"name": name, "settings": shown, "schema": schema}


def set_policy(policy: str | None) -> dict[str, Any]:
    state = _state()
    if policy is not None:
        if policy not in integrity.POLICIES:
            raise OperationError(f"policy must be one of {', '.join(integrity.POLICIES)}")
        state.update(lambda d: d.__setitem__("signature_policy", policy))
    return {"signature_policy": state.signature_policy}


# -- integrity ----------------------------------------------------------------------------------


def verify(name: str) -> dict[str, Any]:
    cand = _candidate(name)
    if cand.trusted:
        return {"name": name, "ok": True, "trusted": True, "message": "pip-installed, trusted"}
    state = _state()
    try:
        v = discovery.read(cand, state.signature_policy)
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


def sign(name: str, key_file: str) -> dict[str, Any]:
    cand = _candidate(name)
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
        import tomllib

        entry_name = tomllib.loads(manifest.decode())["plugin"].get("entry", "plugin.py")
        entry = integrity.read_no_follow(cand.path / entry_name)
    sig_path = cand.signature_path()
    assert sig_path is not None
    sig_path.write_text(integrity.sign(entry, manifest, key) + "\n")
    return {"name": name, "signature": str(sig_path), "key": integrity.fingerprint(key.public_key())}


def keys_list() -> dict[str, Any]:
    return {
        "folder": str(integrity.keys_dir()),
        "keys": [
            {"name": tk.name, "fingerprint": tk.fingerprint, "path": str(tk.path)} for tk, _ in integrity.trusted_keys()
        ],
    }


def keys_add(path: str, name: str | None = None) -> dict[str, Any]:
    try:
        tk = integrity.add_key(Path(path).expanduser(), name)
    except (integrity.IntegrityError, OSError) as exc:
        raise OperationError(str(exc)) from None
    return {"added": tk.name, "fingerprint": tk.fingerprint, "path": str(tk.path)}


def keys_remove(name: str) -> dict[str, Any]:
    if not integrity.remove_key(name):
        raise OperationError(f"no trusted key named {name!r} (see: midimon plugins keys list)")
    return {"removed": name}


# -- new ----------------------------------------------------------------------------------------


def new(name: str, trigger: bool = False, directory: str | None = None) -> dict[str, Any]:
    try:
        check_name(name)
    except ValueError as exc:
        raise OperationError(str(exc)) from None
    folder = Path(directory).expanduser() if directory else _folder()
    folder.mkdir(parents=True, exist_ok=True)
    plugin = folder / f"{name}.py"
    if plugin.exists():
        raise OperationError(f"{plugin} already exists")
    tests_dir = paths.home() / "plugin-tests" if not directory else folder
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
    "set_enabled",
    "set_policy",
    "sign",
    "uninstall",
    "verify",
    "runtime_status",
]
