"""`midimon plugins catalog` and `midimon plugins install catalog:NAME` (the plugin catalog).

The catalog is the index `[plugins] catalog = "..."` names in config.toml (plugins/catalog.py
has the format). An install downloads the entry into memory, checks its sha256 and its
Ed25519 signature against the trusted keys, and only then stages it and installs it the usual
way (through the daemon when one runs). An entry without a valid signature from a trusted key
is refused unless `--allow-unsigned` is given for that one install.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from midimon.engine.cli import add_json, fail, print_json

PREFIX = "catalog:"


def register(ps: argparse._SubParsersAction) -> None:
    c = ps.add_parser("catalog", help="browse the plugin catalog named by [plugins] catalog in config.toml")
    c.add_argument("query", nargs="?", default="", help="only entries whose name or description contains this")
    add_json(c)
    c.set_defaults(handler=_catalog)
    install = ps.choices.get("install")
    if install is None:
        return
    # `install catalog:NAME` goes through here; every other source keeps the usual handler
    original = install.get_default("handler")
    if not any(a.dest == "allow_unsigned" for a in install._actions):
        install.add_argument("--allow-unsigned", action="store_true", help="install unsigned under a 'require' policy")
    install.set_defaults(handler=lambda a: _install(a, original) if str(a.source).startswith(PREFIX) else original(a))


def _home(args: argparse.Namespace) -> Any:
    return args.home  # the CLI's one Home (engine/cli/__init__.py)


def _load(args: argparse.Namespace) -> Any:
    from midimon.plugins import catalog

    home = _home(args)
    source = catalog.configured_source(home)
    if source is None:
        raise catalog.CatalogError(
            f'no catalog is configured: add [plugins] catalog = "URL or path" to {home.config}', "no_catalog"
        )
    return catalog.load(source)


def _catalog(args: argparse.Namespace) -> int:
    from midimon.plugins.catalog import CatalogError

    try:
        cat = _load(args)
    except CatalogError as exc:
        return _refuse(exc, args.json)
    q = args.query.lower()
    entries = [e for e in cat.entries if not q or q in e.name.lower() or q in e.description.lower()]
    if args.json:
        print_json({"ok": True, **cat.to_json(), "plugins": [e.to_json() for e in entries]})
        return 0
    print(f"catalog: {cat.source}")
    if not entries:
        print("  no entries" + (f" matching {args.query!r}" if q else ""))
    for e in entries:
        caps = ", ".join(e.capabilities) or "no capabilities"
        signed = f"signed by {e.key_id}" if e.signature else "NOT SIGNED"
        print(f"  {e.name:<20} {e.version:<8} {e.description}")
        print(f"      by {e.author or '?'}; asks for {caps}; {signed}")
    for p in cat.problems:
        print(f"  ignored {p}")
    print("install one with: midimon plugins install catalog:NAME")
    return 0


def _refuse(exc: Any, as_json: bool) -> int:
    # the error's code ("untrusted", "checksum_mismatch") is a JSON field, not fail()'s exit code
    if as_json:
        print_json({"ok": False, "error": str(exc), "code": exc.code})
        return 1
    return fail(str(exc))


def _install(args: argparse.Namespace, install: Callable[[argparse.Namespace], Any]) -> int:
    from midimon.plugins import catalog

    name = str(args.source)[len(PREFIX) :]
    allow = bool(getattr(args, "allow_unsigned", False))
    try:
        entry = _load(args).find(name)
        got = catalog.fetch(entry, _home(args), allow_unsigned=allow)
    except catalog.CatalogError as exc:
        return _refuse(exc, args.json)
    # verified: only now is anything written, in a private folder, then installed as a file
    with tempfile.TemporaryDirectory(prefix="midimon-catalog-") as tmp:
        path = Path(tmp) / entry.filename
        path.write_bytes(got.data)
        if got.key_name is not None and entry.signature and path.suffix == ".py":
            # the catalog's signature is what `plugins sign` writes: keep it beside the file
            Path(f"{path}.sig").write_text(entry.signature + "\n")
        args.source = str(path)
        return int(install(args) or 0)
