"""What a plugin says about itself, read without running it.

A single-file plugin declares itself with module-level names (``version = "1.0.0"``,
``capabilities = ["network"]``, ``hosts = [...]``, ``params_schema = {...}``); a folder plugin
has a ``plugin.toml`` (read by plugin_toml.py, merged here). Both are read statically (``ast.literal_eval`` of top-level
assignments, never ``exec``), so ``midimon plugins list``, ``install`` and the config checks can
show what a plugin asks for before any of its code runs.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import re
from typing import Any

from midimon.sandbox import CAPABILITIES

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MANIFEST = "plugin.toml"
KINDS = ("action", "trigger")
DEFAULT_POLL_MS = 50
MIN_POLL_MS = 5

#: Scope names a plugin may declare -> the sandbox scope fields they fill.
SCOPE_ALIASES: dict[str, tuple[str, ...]] = {
    "hosts": ("hosts",),
    "brokers": ("brokers",),
    "publish": ("publish",),
    "subscribe": ("subscribe",),
    "topics": ("publish", "subscribe"),
    "read_paths": ("read_paths",),
    "write_paths": ("write_paths",),
    "paths": ("read_paths", "write_paths"),
    "commands": ("commands",),
    "ports": ("ports",),
    "sysex": ("sysex",),
    "data_home": ("data_home",),
    "system": ("system",),
    "apps": ("apps",),
    "sounds": ("sounds",),
}
#: Which capability a scope belongs to: granting the capability grants its declared scopes.
SCOPE_CAPABILITY: dict[str, str] = {
    "hosts": "network",
    "brokers": "network",
    "publish": "network",
    "subscribe": "network",
    "read_paths": "filesystem",
    "write_paths": "filesystem",
    "commands": "subprocess",
    "ports": "midi",
    "sysex": "midi",
    "data_home": "subprocess",
    "system": "system_control",
    "apps": "system_control",
    "sounds": "audio",
}
_DECLARED = {
    "version",
    "capabilities",
    "scopes",
    "params_schema",
    "config_schema",
    "poll_interval_ms",
    "kind",
    "author",
    "license",
    "homepage",
    *SCOPE_ALIASES,
}


class ManifestError(ValueError):
    """A declaration or manifest that cannot be used; ``lineno``/``col`` point at it."""

    def __init__(self, filename: str, message: str, lineno: int = 0, col: int = 0) -> None:
        self.filename, self.message, self.lineno, self.col = filename, message, lineno, col
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}:{self.col}: {self.message}"


@dataclasses.dataclass(frozen=True)
class Declarations:
    """Everything a plugin declares. Plain data; the same for all three packagings."""

    name: str
    kind: str = "action"
    description: str = ""
    version: str = ""
    author: str = ""
    license: str = ""
    homepage: str = ""
    capabilities: tuple[str, ...] = ()
    scopes: dict[str, Any] = dataclasses.field(default_factory=dict)
    params_schema: dict[str, Any] | None = None
    config_schema: dict[str, Any] | None = None
    poll_interval_ms: int = DEFAULT_POLL_MS
    functions: tuple[str, ...] = ()
    checksum: str | None = None  # folder manifests only: "sha256:<hex>" of the entry file
    entry: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["capabilities"] = list(self.capabilities)
        d["functions"] = list(self.functions)
        return d


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError(
            f"invalid plugin name {name!r}: use lowercase letters, digits and "
            "underscores, starting with a letter (at most 64 characters)"
        )
    return name


def _normalise_scopes(raw: dict[str, Any], filename: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        fields = SCOPE_ALIASES.get(key)
        if fields is None:
            raise ManifestError(filename, f"unknown scope {key!r}; known: {', '.join(sorted(SCOPE_ALIASES))}")
        if key == "sysex":
            out["sysex"] = bool(value)
            continue
        if key == "data_home":
            # only the user grants it (--scope data_home=true): a default grant would let
            # programs read config files the plugin wrote (sandbox/capabilities/shell.py)
            raise ManifestError(filename, "scope 'data_home' cannot be declared; the user grants it with --scope")
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ManifestError(filename, f"scope {key!r} must be a list of strings")
        for f in fields:
            out[f] = sorted(set(out.get(f, [])) | set(value))
    return out


def _check_caps(caps: Any, filename: str) -> tuple[str, ...]:
    if isinstance(caps, str):
        caps = [caps]
    if not isinstance(caps, (list, tuple)) or not all(isinstance(c, str) for c in caps):
        raise ManifestError(filename, "capabilities must be a list of strings")
    unknown = sorted(set(caps) - CAPABILITIES)
    if unknown:
        raise ManifestError(
            filename, f"unknown capabilities: {', '.join(unknown)}; known: {', '.join(sorted(CAPABILITIES))}"
        )
    return tuple(sorted(set(caps)))


def parse_source(name: str, source: bytes, filename: str) -> Declarations:
    """Read the module-level declarations of plugin source. Raises ManifestError with a line."""
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(filename, f"the plugin is not valid UTF-8 text (byte {exc.start})", 1, 1) from None
    try:
        tree = ast.parse(text, filename)
    except SyntaxError as exc:
        raise ManifestError(filename, exc.msg or "invalid syntax", exc.lineno or 0, exc.offset or 0) from None
    values: dict[str, Any] = {}
    functions: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            functions.append(node.name)
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id.lower() in _DECLARED:
                try:
                    values[target.id.lower()] = ast.literal_eval(value)
                except ValueError:
                    raise ManifestError(
                        filename,
                        f"{target.id} must be a plain literal (strings, numbers, lists, dicts)",
                        node.lineno,
                        node.col_offset + 1,
                    ) from None
    doc = ast.get_docstring(tree) or ""
    scopes_raw = dict(values.get("scopes") or {})
    for key in SCOPE_ALIASES:
        if key in values:
            scopes_raw[key] = values[key]
    kind = values.get("kind") or ("trigger" if "poll_events" in functions else "action")
    if kind not in KINDS:
        raise ManifestError(filename, f"kind must be 'action' or 'trigger', not {kind!r}")
    if kind == "action" and "execute" not in functions:
        raise ManifestError(
            filename,
            "the plugin defines neither execute(params, context) "
            "(an action plugin) nor poll_events() (a trigger plugin)",
            1,
            1,
        )
    if kind == "trigger" and "poll_events" not in functions:
        raise ManifestError(filename, "a trigger plugin must define poll_events()", 1, 1)
    return Declarations(
        name=name,
        kind=kind,
        description=doc.strip().splitlines()[0] if doc.strip() else "",
        version=str(values.get("version", "")),
        author=str(values.get("author", "")),
        license=str(values.get("license", "")),
        homepage=str(values.get("homepage", "")),
        capabilities=_check_caps(values.get("capabilities", []), filename),
        scopes=_normalise_scopes(scopes_raw, filename),
        params_schema=_schema(values.get("params_schema"), "params_schema", filename),
        config_schema=_schema(values.get("config_schema"), "config_schema", filename),
        poll_interval_ms=_poll(values.get("poll_interval_ms", DEFAULT_POLL_MS), filename),
        functions=tuple(sorted(functions)),
    )


def _poll(value: Any, filename: str) -> int:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < MIN_POLL_MS:
        raise ManifestError(filename, f"poll_interval_ms must be a number of at least {MIN_POLL_MS}")
    return int(value)


def _schema(value: Any, what: str, filename: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ManifestError(filename, f"{what} must be a JSON Schema (a dict)")
    problem = _schema_problem(json.dumps(value, sort_keys=True, default=str))
    if problem:
        raise ManifestError(filename, f"{what} is not a valid JSON Schema: {problem}")
    return value


@functools.lru_cache(maxsize=512)
def _schema_problem(text: str) -> str | None:
    """Checking a schema costs ~1.7 ms; a plugin's schema rarely changes between loads."""
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(json.loads(text))
    except jsonschema.SchemaError as exc:
        return exc.message
    return None


def merge_manifest(decl: Declarations, plugin: dict[str, Any], filename: str) -> Declarations:
    """The manifest is authoritative for identity, kind, capabilities and scopes."""
    caps_table = plugin.get("capabilities") or {}
    if not isinstance(caps_table, dict):
        raise ManifestError(filename, "[plugin.capabilities] must be a table")
    caps = [k for k, v in caps_table.items() if v is True]
    scope_raw = {k: v for k, v in caps_table.items() if not isinstance(v, bool) or k == "sysex"}
    scope_raw.update(plugin.get("scopes") or {})
    kind = plugin.get("type", decl.kind)
    if kind not in KINDS:
        raise ManifestError(filename, f"type must be 'action' or 'trigger', not {kind!r}")
    return dataclasses.replace(
        decl,
        kind=kind,
        version=str(plugin.get("version", decl.version)),
        description=str(plugin.get("description", decl.description)),
        author=str(plugin.get("author", decl.author)),
        license=str(plugin.get("license", decl.license)),
        homepage=str(plugin.get("homepage", decl.homepage)),
        capabilities=_check_caps(caps, filename) if caps_table else decl.capabilities,
        scopes=_normalise_scopes(scope_raw, filename) if scope_raw else decl.scopes,
        poll_interval_ms=_poll(plugin.get("poll_interval_ms", decl.poll_interval_ms), filename),
        checksum=plugin.get("checksum"),
        entry=plugin.get("entry"),
    )
