"""Read a config file: TOML -> legacy rewrites -> validation -> cross checks.

Every problem becomes a :class:`Diagnostic` with the file, line, column and key path. Nothing
here raises anything but :class:`ConfigError`; a bad file never produces a traceback.
"""

from __future__ import annotations

import copy
import difflib
import gc
import hashlib
import re
import typing
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

try:
    # tomli's compiled wheels parse ~3x faster than the stdlib's pure-Python copy of the same
    # code; it is the parser that says where a mistake is
    import tomli as tomllib
except ImportError:  # pragma: no cover
    import tomllib  # type: ignore[no-redef]  # the standard library's copy of the same parser
try:
    # rtoml (Rust) parses a good file 4-6x faster again than tomli: parsing was two thirds of
    # a load. Its errors carry no usable position, so a file it refuses is parsed again by
    # tomli, which names the line and column (or, if tomli accepts it, gives the value).
    import rtoml
except ImportError:  # pragma: no cover - an install without the wheel is slower, not wrong
    rtoml = None  # type: ignore[assignment]  # tested before each use

from midimon.config import legacy
from midimon.config.diagnostics import ConfigError, Diagnostic
from midimon.config.locate import locate, nearest
from midimon.config.models import (
    UNION_TAGS,
    Action,
    AndCondition,
    Condition,
    ConditionalAction,
    Config,
    Mapping,
    ModeChangeAction,
    ModeIsCondition,
    NotCondition,
    OrCondition,
    RepeatAction,
    SendMidiAction,
    SequenceAction,
)

# A check receives the validated config and yields (severity, path, message).
Check = Callable[[Config], Iterable[tuple[str, tuple, str]]]


@dataclass(frozen=True)
class LoadResult:
    config: Config
    warnings: list[Diagnostic] = field(default_factory=list)
    path: str | None = None
    sha256: str = ""


class _Placer:
    """Turns key paths into positions, scanning the text only once and only if needed."""

    def __init__(self, text: str, filename: str | None) -> None:
        self.text, self.filename = text, filename
        self._found: dict | None = None

    def __call__(self, severity: str, path: tuple, message: str) -> Diagnostic:
        if self._found is None:
            self._found = locate(self.text)
        pos = nearest(self._found, path)
        line, col = pos if pos else (None, None)
        return Diagnostic(severity, message, tuple(path), self.filename, line, col)  # type: ignore[arg-type]  # checks yield "error" or "warning" as plain str


def load_config(
    path: str | Path | None = None,
    *,
    text: str | bytes | None = None,
    strict: bool = False,
    checks: Iterable[Check] = (),
) -> LoadResult:
    """Load and validate a config from ``path`` (or from ``text``, named ``path`` in messages)."""
    filename = str(path) if path is not None else None
    if text is None:
        if path is None:
            raise ValueError("load_config needs a path or text")
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise ConfigError([Diagnostic("error", "the file does not exist", (), filename)]) from None
        except OSError as exc:
            raise ConfigError([Diagnostic("error", f"cannot read the file: {exc.strerror}", (), filename)]) from None
    else:
        data = text.encode() if isinstance(text, str) else text
    digest = hashlib.sha256(data).hexdigest()
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError([Diagnostic("error", "the file is not UTF-8 text", (), filename, line)]) from None
    if not source or source.isspace():
        raise ConfigError([Diagnostic("error", "the file is empty", (), filename, 1)])
    with _collector_paused():
        raw = _parse_toml(source, filename)
        config, warnings = validate_raw(raw, source, filename, strict=strict, checks=checks, copy_raw=False)
    return LoadResult(config, warnings, filename, digest)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off for one load.

    A load allocates tens of thousands of dicts, lists and models that stay alive until it
    ends, so the collector, triggered by allocation counts, ran dozens of times mid-load and
    each old-generation pass walked the daemon's whole heap: a quarter of a 1,000-mapping load.
    Nothing it builds is cyclic garbage; whatever a failed load leaves is collected afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse_toml(source: str, filename: str | None) -> dict:
    if rtoml is not None:
        try:
            return rtoml.loads(source)
        except Exception:  # rtoml.TomlParsingError, or anything odd: tomli decides and explains
            pass
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line, col = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        text = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg) or "invalid TOML"
        if m is None and "end of document" in msg:
            line = source.count("\n") + 1
        raise ConfigError(
            [Diagnostic("error", f"invalid TOML: {text[0].lower() + text[1:]}", (), filename, line, col)]
        ) from None


def validate_raw(
    raw: dict,
    source: str,
    filename: str | None,
    *,
    strict: bool = False,
    checks: Iterable[Check] = (),
    copy_raw: bool = True,
) -> tuple[Config, list[Diagnostic]]:
    place = _Placer(source, filename)
    if copy_raw:  # the legacy rewrite edits in place; a freshly parsed document needs no copy
        raw = copy.deepcopy(raw)
    rewrites = legacy.rewrite(raw) if legacy.may_need_rewrite(source) else []
    warnings = [place("warning", r.path, r.message) for r in rewrites]
    errors: list[Diagnostic] = []
    config = None
    for _attempt in range(50):  # each round removes at least one unknown key
        try:
            config = Config.model_validate(raw)
            break
        except ValidationError as exc:
            unknown, real = _split_unknown(exc)
            if real:
                errors = [place("error", p, m) for p, m in real]
                for p, m in unknown:
                    if strict:
                        errors.append(place("error", p, m))
                    else:
                        warnings.append(place("warning", p, m + " (ignored)"))
                break
            for path, message in unknown:
                if strict:
                    errors.append(place("error", path, message))
                else:
                    warnings.append(place("warning", path, message + " (ignored)"))
                    _delete(raw, path)
            if errors:
                break
    if config is None or errors:
        raise ConfigError(_dedupe(errors), warnings)
    for severity, path, message in [*_cross_checks(config), *(d for c in checks for d in c(config))]:
        diag = place(severity, path, message)
        (errors if severity == "error" or strict else warnings).append(diag)
    if errors:
        raise ConfigError(_dedupe(errors), warnings)
    return config, warnings


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen, out = set(), []
    for d in diags:
        if (d.path, d.message) not in seen:
            seen.add((d.path, d.message))
            out.append(d)
    return out


def _delete(raw: Any, path: tuple) -> None:
    for part in path[:-1]:
        raw = raw[part]
    raw.pop(path[-1], None)


# ------------------------------------------------------------------ pydantic -> words


def _clean_loc(loc: tuple) -> tuple:
    """Drop the union tags pydantic inserts: what is left is both the key path shown to the
    user and the path into the raw data."""
    return tuple(p for p in loc if not (isinstance(p, str) and p in UNION_TAGS))


def _split_unknown(exc: ValidationError):
    unknown, real = [], []
    for err in exc.errors(include_url=False):
        path = _clean_loc(err["loc"])
        if err["type"] == "extra_forbidden":
            key = path[-1]
            known = _fields_at(err["loc"][:-1])
            hint = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            msg = f"unknown key '{key}'" + (f"; did you mean '{hint[0]}'?" if hint else "")
            if known and not hint:
                msg += f" (expected one of: {', '.join(sorted(known))})"
            unknown.append((path, msg))
        else:
            real.append((path, _describe(err)))
    return unknown, real


def _describe(err: ErrorDetails) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    shown = _show(value)
    if kind == "missing":
        return "required key is missing"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {shown}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {shown}"
    if kind in ("string_type",):
        return f"expected text (a string), got {shown}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {shown}"
    if kind in ("list_type",):
        return f"expected a list, got {shown}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a table, got {shown}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        lo, hi = _bounds(err)
        if lo is not None and hi is not None:
            return f"expected a number from {lo} to {hi}, got {shown}"
        return f"expected {'at least ' + str(ctx.get('ge')) if 'ge' in ctx else 'at most ' + str(ctx.get('le', ctx.get('lt')))}, got {shown}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {shown}"
    if kind == "union_tag_invalid":
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        hint = difflib.get_close_matches(str(ctx.get("tag")), tags, n=1, cutoff=0.5)
        msg = f"unknown type {_show(ctx.get('tag'))}"
        return msg + (f"; did you mean '{hint[0]}'?" if hint else f" (expected one of: {', '.join(tags)})")
    if kind == "union_tag_not_found":
        return "needs a 'type' key"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"]


def _bounds(err: ErrorDetails) -> tuple[Any, Any]:
    # pydantic reports only the bound that was crossed; for the MIDI-shaped ranges the other
    # end follows from it (127 -> 0, 15 -> 0, 8191 -> -8192...), so the message can name both
    ctx = err.get("ctx") or {}
    lo = ctx.get("ge", ctx.get("gt"))
    hi = ctx.get("le", ctx.get("lt"))
    if lo is None and hi is not None:
        lo = {127: 0, 15: 0, 16383: 0, 100: 0, 8191: -8192}.get(hi)
    if hi is None and lo is not None:
        hi = {-8192: 8191}.get(lo)
    return lo, hi


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fields_at(loc: tuple) -> list[str]:
    """The valid keys of the table at ``loc`` (a pydantic loc, union tags included)."""
    tp: Any = Config
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
            else:
                return tp
        else:
            return tp


def _step(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        f = tp.model_fields.get(part)
        return f.annotation if f else None
    origin = typing.get_origin(tp)
    if origin in (list, tuple) and isinstance(part, int):
        return typing.get_args(tp)[0]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        for arg in typing.get_args(tp):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and "type" in arg.model_fields:
                if typing.get_args(arg.model_fields["type"].annotation)[0] == part:
                    return arg
    return None


# ------------------------------------------------------------------ checks across keys


def _walk_actions(action: Action, path: tuple) -> Iterator[tuple[Action, tuple]]:
    yield action, path
    match action:
        case SequenceAction():
            for i, sub in enumerate(action.actions):
                yield from _walk_actions(sub, path + ("actions", i))
        case RepeatAction():
            yield from _walk_actions(action.action, path + ("action",))
        case ConditionalAction():
            for key, branch in (("then_action", action.then_action), ("else_action", action.else_action)):
                if branch is not None:
                    yield from _walk_actions(branch, path + (key,))


def _walk_conditions(cond: Condition, path: tuple) -> Iterator[tuple[Condition, tuple]]:
    yield cond, path
    match cond:
        case AndCondition() | OrCondition():
            for i, sub in enumerate(cond.conditions):
                yield from _walk_conditions(sub, path + ("conditions", i))
        case NotCondition():
            yield from _walk_conditions(cond.condition, path + ("condition",))


def iter_mappings(config: Config) -> Iterator[tuple[Mapping, tuple]]:
    """Every mapping with its key path: mode mappings first, then global ones."""
    for i, mode in enumerate(config.modes):
        for j, m in enumerate(mode.mappings):
            yield m, ("modes", i, "mappings", j)
    for j, m in enumerate(config.global_mappings):
        yield m, ("global_mappings", j)


def iter_actions(config: Config) -> Iterator[tuple[Action, tuple]]:
    for mapping, path in iter_mappings(config):
        yield from _walk_actions(mapping.action, path + ("action",))


def _cross_checks(config: Config) -> Iterator[tuple[str, tuple, str]]:
    names: dict[str, int] = {}
    for i, mode in enumerate(config.modes):
        if mode.name in names:
            yield "error", ("modes", i, "name"), f"mode name {mode.name!r} is already used by modes[{names[mode.name]}]"
        names.setdefault(mode.name, i)
    known = set(config.mode_names())
    for action, path in iter_actions(config):
        match action:
            case ModeChangeAction() if action.mode not in known and action.mode.lower() not in ("next", "previous"):
                hint = difflib.get_close_matches(action.mode, list(known), n=1)
                yield (
                    "error",
                    path + ("mode",),
                    (
                        f"there is no mode named {action.mode!r}"
                        + (
                            f"; did you mean {hint[0]!r}?"
                            if hint
                            else f" (modes: {', '.join(sorted(known))}; or 'next'/'previous')"
                        )
                    ),
                )
            case ConditionalAction():
                for cond, cpath in _walk_conditions(action.condition, path + ("condition",)):
                    if isinstance(cond, ModeIsCondition) and cond.mode not in known:
                        yield (
                            "warning",
                            cpath + ("mode",),
                            f"there is no mode named {cond.mode!r}; this condition is never true",
                        )
                if action.then_action is None and action.else_action is None:
                    yield "warning", path, "a Conditional with neither then_action nor else_action does nothing"
            case SendMidiAction() if action.message_type == "SysEx" and action.data is None:
                yield "error", path + ("data",), "SysEx needs data"
    for mapping, path in iter_mappings(config):
        if mapping.velocity_curve is not None:
            sends = [a for a, _ in _walk_actions(mapping.action, ()) if isinstance(a, SendMidiAction)]
            if sends and all(a.velocity is not None for a in sends):
                yield (
                    "warning",
                    path + ("velocity_curve",),
                    "has no effect: every SendMidi in this mapping sets its own velocity",
                )
