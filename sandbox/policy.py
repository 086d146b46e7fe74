"""Compile plugin source under midimon's RestrictedPython policy.

RestrictedPython's transformer rewrites attribute, item, iteration and print operations into
calls to guards (see ``guards.py``) and rejects names that start with ``_``. Our subclass adds
what its defaults leave open, and turns every rejection into a sentence with a line and column
that a plugin author can act on. Compilation is pure: it runs nothing from the plugin.
"""

from __future__ import annotations

import _thread
import ast
import collections
import dataclasses
import re
import types
from typing import Any

from RestrictedPython.transformer import RestrictingNodeTransformer

from .errors import PluginCompileError

#: Attribute names refused at compile time on top of RestrictedPython's ``_`` rule, because they
#: reach frames, code or the string formatting machinery (CVE-2023-37271, CVE-2023-41039).
FORBIDDEN_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "format_map",
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "cr_origin",
        "ag_frame",
        "ag_code",
        "ag_await",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "f_trace",
        "f_generator",
        "tb_frame",
        "tb_next",
        "co_code",
        "mro",
    }
)
#: Names a plugin must not bind: they would shadow what the sandbox provides.
RESERVED_NAMES: frozenset[str] = frozenset({"print", "printed", "builtins", "breakpoint"})

_WHY = {
    "underscore": "names starting with '_' are not allowed because they reach Python internals "
    "that could break out of the sandbox",
    "attribute": "this attribute reaches interpreter internals (frames, code or the formatting "
    "machinery) that could break out of the sandbox",
    "reserved": "this name is reserved by the sandbox",
    "exec": "exec and eval are not available: plugins cannot create new code at run time",
    "metaclass": "metaclasses are not allowed: class creation is controlled by the sandbox",
    "async": "async code is not supported in plugins; the engine already runs plugins off the event loop",
    "star_import": "'import *' is not allowed because it could bind internal names",
    "nonlocal": "'nonlocal' is not allowed; use a class or return a value instead",
    "try_star": "'except*' is not allowed (it was a RestrictedPython sandbox escape, CVE-2025-22153)",
    "augmented": "augmented assignment to attributes or items is not allowed; write 'x.a = x.a + 1' instead",
}


@dataclasses.dataclass(frozen=True)
class CompiledPlugin:
    """A plugin's restricted code object, ready to run in a worker's restricted globals."""

    code: types.CodeType
    filename: str
    warnings: tuple[str, ...] = ()


class MidimonPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus midimon's rules; records structured problems."""

    def __init__(self) -> None:
        super().__init__([], [], {})
        self.problems: list[tuple[int, int, str]] = []

    # -- reporting -------------------------------------------------------------------------
    def error(self, node: ast.AST, info: str) -> None:
        lineno = int(getattr(node, "lineno", 0) or 0)
        col = int(getattr(node, "col_offset", 0) or 0) + 1
        self.problems.append((lineno, col, humanise(info)))
        self.errors.append(info)

    # -- rules RestrictedPython leaves open --------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if node.attr in FORBIDDEN_ATTRIBUTES:
            self.error(node, f"'{node.attr}': {_WHY['attribute']}")
            return node
        return super().visit_Attribute(node)

    def visit_Global(self, node: ast.Global) -> Any:
        # RestrictedPython accepts any name in 'global'; a later binding is caught, but say it
        # here where the author wrote it.
        for name in node.names:
            self.check_name(node, name)
        return self.node_contents_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        for keyword in node.keywords:
            if keyword.arg != "metaclass":
                self.error(node, f'class keyword "{keyword.arg}": {_WHY["metaclass"]}')
        return super().visit_ClassDef(node)

    def visit_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id in {"exec", "eval", "compile"}:
            self.error(node, f"{node.func.id}(): {_WHY['exec']}")
        return super().visit_Call(node)


_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r'^"(?P<n>[^"]*)" is an invalid (variable|attribute) name because it starts with "_"'),
        "'{n}': " + _WHY["underscore"],
    ),
    (re.compile(r'ends with "__roles__"'), _WHY["underscore"]),
    (re.compile(r'^"(?P<n>[^"]*)" is a reserved name'), "'{n}': " + _WHY["reserved"]),
    (re.compile(r'^"(?P<n>[^"]*)" is a restricted name'), "'{n}': " + _WHY["attribute"]),
    (re.compile(r"(Exec|Eval) calls are not allowed"), _WHY["exec"]),
    (re.compile(r'keyword argument "metaclass"'), _WHY["metaclass"]),
    (re.compile(r"^Async|^Await"), _WHY["async"]),
    (re.compile(r'"\*" imports'), _WHY["star_import"]),
    (re.compile(r"^Nonlocal"), _WHY["nonlocal"]),
    (re.compile(r"^TryStar"), _WHY["try_star"]),
    (re.compile(r"Augmented assignment"), _WHY["augmented"]),
)


def humanise(info: str) -> str:
    """Turn RestrictedPython's terse message into a sentence that says what and why."""
    for pattern, template in _PATTERNS:
        m = pattern.search(info)
        if m:
            return template.format(**m.groupdict())
    m = re.match(r"^(?P<kind>\w+) statements are not allowed", info)
    if m:
        return f"'{m.group('kind')}' syntax is not allowed in plugins (it is not reviewed for the sandbox)"
    return info


def compile_plugin(source: bytes | str, filename: str, *, max_source_bytes: int = 512 * 1024) -> CompiledPlugin:
    """Compile plugin source under the policy. Raises ``PluginCompileError`` with every problem."""
    if len(source) > max_source_bytes:
        raise PluginCompileError(
            filename,
            1,
            1,
            f"the plugin is larger than {max_source_bytes} bytes; split data out into the plugin's data folder",
        )
    if isinstance(source, (bytes, bytearray)):
        try:
            source = bytes(source).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PluginCompileError(filename, 1, 1, f"the plugin is not valid UTF-8 text (byte {exc.start})") from None
    if "\x00" in source:
        raise PluginCompileError(filename, 1, 1, "the plugin contains a NUL character")
    try:
        tree = ast.parse(source, filename, "exec")
    except SyntaxError as exc:
        raise PluginCompileError(filename, exc.lineno or 1, exc.offset or 1, f"syntax error: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise PluginCompileError(filename, 1, 1, "the plugin is nested too deeply to compile") from None
    policy = MidimonPolicy()
    try:
        policy.visit(tree)
    except RecursionError:
        raise PluginCompileError(filename, 1, 1, "the plugin is nested too deeply to compile") from None
    if policy.problems:
        problems = tuple(sorted(policy.problems))
        lineno, col, message = problems[0]
        raise PluginCompileError(filename, lineno, col, message, problems)
    try:
        code = compile(tree, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError) as exc:
        lineno = getattr(exc, "lineno", 1) or 1
        raise PluginCompileError(filename, lineno, 1, f"cannot compile: {exc}") from None
    return CompiledPlugin(code=code, filename=filename, warnings=tuple(policy.warnings))


_CACHE_SIZE = 256
_cache: collections.OrderedDict[tuple[bytes, str, int], CompiledPlugin] = collections.OrderedDict()
_cache_lock = _thread.allocate_lock()  # not threading: the zygote and workers never import it


def compile_plugin_cached(source: bytes | str, filename: str, *, max_source_bytes: int = 512 * 1024) -> CompiledPlugin:
    """``compile_plugin`` behind a small cache keyed by the source's sha256 (and the name and
    size limit that shape the result), for the host: a rescan, a restart or the same file
    loaded again is not transformed twice. Only successes are kept; a bad file is compiled
    again each time, so its error is always fresh. Code objects are immutable, so sharing one
    between versions is safe."""
    import hashlib  # here: workers compile once each and never need it

    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else bytes(source)
    key = (hashlib.sha256(data).digest(), filename, max_source_bytes)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    compiled = compile_plugin(source, filename, max_source_bytes=max_source_bytes)
    with _cache_lock:
        _cache[key] = compiled
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled
