"""`midimon validate`, `midimon config schema|migrate|path`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from midimon.config.atomic import write_atomic
from midimon.engine.cli import add_json, fail, print_json


def register(sub) -> None:
    p = sub.add_parser("validate", help="check a config file (exit 0 when valid, 1 when not)")
    p.add_argument("path", nargs="?", help="config file (default: the home's config.toml)")
    p.add_argument("--strict", action="store_true", help="treat warnings (unknown keys, deprecations) as errors")
    add_json(p)
    p.set_defaults(handler=cmd_validate)

    c = sub.add_parser("config", help="config helpers: schema, migrate, path")
    csub = c.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    s = csub.add_parser("schema", help="print the JSON Schema of the config (for editors' TOML language servers)")
    s.set_defaults(handler=cmd_schema)
    m = csub.add_parser("migrate", help="rewrite a config to the current vocabulary, keeping comments")
    m.add_argument("path")
    m.add_argument("--dry-run", action="store_true", help="print the new file instead of writing it")
    add_json(m)
    m.set_defaults(handler=cmd_migrate)
    pa = csub.add_parser("path", help="print where midimon looks for things")
    add_json(pa)
    pa.set_defaults(handler=cmd_path)


def _target(args: argparse.Namespace) -> Path:
    return Path(args.path) if args.path else args.home.config


def cmd_validate(args) -> int:
    from midimon.config import ConfigError, load_config  # pydantic and the models: only when used
    from midimon.engine.checks import config_checks

    path = _target(args)
    try:
        result = load_config(path, strict=args.strict, checks=config_checks(args.home))
    except ConfigError as exc:
        if args.json:
            print_json(
                {
                    "ok": False,
                    "path": str(path),
                    "errors": [d.to_json() for d in exc.diagnostics],
                    "warnings": [d.to_json() for d in exc.warnings],
                }
            )
        else:
            for d in exc.warnings:
                print(d, file=sys.stderr)
            for d in exc.diagnostics:
                print(d, file=sys.stderr)
            n = len(exc.diagnostics)
            print(f"{path}: invalid ({n} error{'s' if n != 1 else ''})", file=sys.stderr)
        return 1
    cfg = result.config
    summary = {
        "modes": len(cfg.modes),
        "mappings": sum(len(m.mappings) for m in cfg.modes),
        "global_mappings": len(cfg.global_mappings),
    }
    if args.json:
        print_json(
            {
                "ok": True,
                "path": str(path),
                "sha256": result.sha256,
                **summary,
                "warnings": [d.to_json() for d in result.warnings],
            }
        )
    else:
        for d in result.warnings:
            print(d, file=sys.stderr)
        print(
            f"{path}: valid ({summary['modes']} modes, {summary['mappings']} mappings, "
            f"{summary['global_mappings']} global mappings, {len(result.warnings)} warnings)"
        )
    return 0


def schema() -> dict:
    from midimon.config.models import Config

    doc = Config.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "midimon config"
    return doc


def cmd_schema(args) -> int:
    print_json(schema())
    return 0


def cmd_migrate(args) -> int:
    from midimon.config import ConfigError, load_config
    from midimon.config.migrate import migrate_text

    path = Path(args.path)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        return fail(f"cannot read {path}: {exc.strerror}", as_json=args.json)
    new, rewrites = migrate_text(source, str(path))
    try:
        load_config(path, text=new)
    except ConfigError as exc:
        return fail(f"the migrated file would not load; nothing was written:\n{exc}", as_json=args.json)
    changes = [{"path": r.path and ".".join(map(str, r.path)), "message": r.message} for r in rewrites]
    if args.dry_run:
        if args.json:
            print_json({"ok": True, "changes": changes, "text": new})
        else:
            sys.stdout.write(new)
        return 0
    if new != source:
        write_atomic(path, new, mode=path.stat().st_mode & 0o777)
    if args.json:
        print_json({"ok": True, "path": str(path), "changes": changes, "written": new != source})
    else:
        print(f"{path}: {len(rewrites)} change(s)" + ("" if rewrites else " — already current"))
        for r in rewrites:
            print(f"  {r.message}")
    return 0


def cmd_path(args) -> int:
    data = args.home.to_json()
    if args.json:
        print_json(data)
    else:
        for k, v in data.items():
            print(f"{k:12} {v}")
    return 0
