"""The import allow-list: pure modules, each handed to plugins as a fresh facade.

A facade is a new module object holding only the names listed here, so a plugin never holds the
real module (whose globals, loaders and submodules lead everywhere). Its ``__name__`` is not a
key of ``sys.modules``, so ``from json import decoder`` cannot fall back to the real submodule.
Anything that fetches attributes by a string name (``operator.attrgetter``, ``functools.wraps``,
``string.Formatter``) is left out on purpose.
"""

from __future__ import annotations

import collections
import datetime
import functools
import importlib
import itertools
import json
import math
import random
import re
import statistics
import string
import time
import types
from typing import Any

_PUBLIC = object()  # marker: every public name of the module

ALLOWED_MODULES: dict[str, Any] = {
    "json": ("dumps", "loads", "JSONDecodeError"),
    "math": _PUBLIC,
    "re": (
        "compile",
        "search",
        "match",
        "fullmatch",
        "split",
        "findall",
        "finditer",
        "sub",
        "subn",
        "escape",
        "error",
        "A",
        "I",
        "M",
        "S",
        "X",
        "U",
        "ASCII",
        "IGNORECASE",
        "MULTILINE",
        "DOTALL",
        "VERBOSE",
        "UNICODE",
    ),
    "datetime": ("date", "datetime", "time", "timedelta", "timezone", "MINYEAR", "MAXYEAR"),
    # time: reading clocks and sleeping only (sleep is bounded by the call deadline).
    "time": (
        "time",
        "time_ns",
        "monotonic",
        "monotonic_ns",
        "perf_counter",
        "perf_counter_ns",
        "sleep",
        "strftime",
        "gmtime",
        "localtime",
        "mktime",
        "asctime",
        "ctime",
    ),
    "random": (
        "random",
        "randint",
        "randrange",
        "choice",
        "choices",
        "shuffle",
        "sample",
        "uniform",
        "gauss",
        "normalvariate",
        "triangular",
        "betavariate",
        "expovariate",
        "seed",
        "getrandbits",
    ),
    "statistics": (
        "mean",
        "fmean",
        "geometric_mean",
        "harmonic_mean",
        "median",
        "median_low",
        "median_high",
        "median_grouped",
        "mode",
        "multimode",
        "quantiles",
        "stdev",
        "pstdev",
        "variance",
        "pvariance",
        "StatisticsError",
    ),
    "itertools": _PUBLIC,
    # functools without wraps/update_wrapper/singledispatch/cached_property/total_ordering:
    # they read or write attributes by name.
    "functools": ("partial", "reduce", "lru_cache", "cache", "cmp_to_key"),
    "collections": ("deque", "defaultdict", "OrderedDict", "Counter", "namedtuple", "ChainMap"),
    # string without Formatter (CVE-2023-41039, CVE-2024-47532).
    "string": (
        "ascii_letters",
        "ascii_lowercase",
        "ascii_uppercase",
        "digits",
        "hexdigits",
        "octdigits",
        "punctuation",
        "printable",
        "whitespace",
        "capwords",
        "Template",
    ),
}
_NEVER = frozenset({"Formatter", "attrgetter", "methodcaller", "wraps", "update_wrapper"})


def _facade(name: str) -> types.ModuleType:
    real = importlib.import_module(name)
    spec = ALLOWED_MODULES[name]
    names = [n for n in dir(real) if not n.startswith("_")] if spec is _PUBLIC else list(spec)
    facade = types.ModuleType(f"midimon-plugin-facade:{name}", f"The parts of {name} that plugins may use.")
    for attr in names:
        if attr in _NEVER or attr.startswith("_"):
            continue
        value = getattr(real, attr)
        if isinstance(value, types.ModuleType):
            continue
        setattr(facade, attr, value)
    return facade


def make_importer() -> tuple[Any, dict[str, types.ModuleType]]:
    """Return ``(__import__, facades)`` for one plugin. Facades are made fresh per plugin."""
    facades = {name: _facade(name) for name in ALLOWED_MODULES}
    allowed = ", ".join(sorted(facades))

    def guarded_import(
        name: Any, globals: Any = None, locals: Any = None, fromlist: Any = (), level: Any = 0
    ) -> types.ModuleType:
        if type(name) is not str or level != 0 or name not in facades:
            shown = name if type(name) is str else "?"
            raise ImportError(
                f"module {shown!r} is not available to plugins; allowed modules: "
                f"{allowed}. Reach the outside world through capabilities."
            )
        return facades[name]

    return guarded_import, facades


# Keep linters from flagging the imports above as unused: they are imported so that a worker
# forked from the zygote has them loaded already.
_PRELOADED = (collections, datetime, functools, itertools, json, math, random, re, statistics, string, time)
