"""The guard functions RestrictedPython's rewritten code calls, built per plugin.

RestrictedPython turns ``a.b`` into ``_getattr_(a, "b")``, ``a[b]`` into ``_getitem_(a, b)``,
``a.b = c`` into ``_write_(a).b = c`` and so on; what those functions allow *is* the policy at
run time. Every guard here refuses by default and says why in the message.
"""

from __future__ import annotations

import collections
import operator
from collections.abc import Callable
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence, raise_, safer_getattr
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from .policy import FORBIDDEN_ATTRIBUTES

_DENIED_ATTRIBUTES = FORBIDDEN_ATTRIBUTES | INSPECT_ATTRIBUTES
#: Containers a plugin may change in place. They hold data, never behaviour of the host.
_MUTABLE_PLAIN: frozenset[type] = frozenset(
    {
        dict,
        list,
        bytearray,
        collections.deque,
        collections.OrderedDict,
        collections.defaultdict,
        collections.Counter,
    }
)
_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}
#: Extra names a class body may define beyond RestrictedPython's allowed dunder methods.
_CLASS_NAMESPACE_INTERNALS = frozenset({"__module__", "__qualname__", "__doc__"})


class SandboxViolation(Exception):
    """Raised inside the worker when plugin code asks for something the policy refuses."""


def check_attribute_name(obj: Any, name: Any) -> str:
    """Return ``name`` if plugin code may read it on ``obj``; raise otherwise."""
    if type(name) is not str:
        # A str subclass could lie in startswith()/__eq__; only a real str is checked.
        raise TypeError("attribute name must be a plain str")
    if not name.isascii() or not name.isidentifier():
        # getattr() does not NFKC-normalise, but refusing look-alikes keeps the rule simple.
        raise AttributeError(f"attribute name {name!r} is not allowed: only ASCII identifiers")
    if name.startswith("_"):
        raise AttributeError(f"'{name}': names starting with '_' are not allowed in plugins")
    if name in _DENIED_ATTRIBUTES:
        raise AttributeError(f"'{name}' is not allowed in plugins: it reaches interpreter internals")
    if name in ("format", "format_map") and (isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))):
        raise AttributeError(
            "str.format() and format_map() can walk attributes and are not available; use f-strings or the % operator"
        )
    if name == "obj" and isinstance(obj, BaseException):
        # AttributeError.obj hands back the object whose lookup failed (CVE-2024-47532).
        raise AttributeError("'obj' of an exception is not available in plugins")
    return name


#: Names whose check never depends on the object: once a name passed, later lookups of it skip
#: straight to getattr. Object-dependent names (format, obj, Formatter methods) never enter.
_OBJECT_DEPENDENT = frozenset({"format", "format_map", "obj", "vformat", "get_field", "get_value"})
_KNOWN_SAFE: set[str] = set()
_KNOWN_SAFE_MAX = 10_000


def guarded_getattr(obj: Any, name: Any, *default: Any) -> Any:
    """``_getattr_`` and the plugin's ``getattr``: midimon's checks, then safer_getattr's.

    Fast path: for a name already checked, safer_getattr would do nothing but call getattr
    (its remaining rules only concern the object-dependent names), so it is skipped; this is
    most of the guard overhead in a typical plugin body (see docs/performance.md).
    """
    if type(name) is str and name in _KNOWN_SAFE:
        try:
            return getattr(obj, name)
        except AttributeError:
            if default:
                return default[0]
            raise AttributeError(f"{type(obj).__name__!s} object has no attribute {name!r}") from None
    check_attribute_name(obj, name)
    if name not in _OBJECT_DEPENDENT and len(_KNOWN_SAFE) < _KNOWN_SAFE_MAX:
        _KNOWN_SAFE.add(name)
    try:
        return safer_getattr(obj, name, raise_)
    except AttributeError:
        if default:
            return default[0]
        # A fresh error: the original's .obj and context could carry a live object.
        raise AttributeError(f"{type(obj).__name__!s} object has no attribute {name!r}") from None
    except NotImplementedError as exc:
        raise AttributeError(str(exc)) from None


def guarded_hasattr(obj: Any, name: Any) -> bool:
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


#: ``_getitem_``: plain subscription. Nothing a plugin can reach defines a dangerous
#: ``__getitem__``; the C function avoids a Python frame per item access.
guarded_getitem = operator.getitem


def guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    try:
        fn = _INPLACE_OPS[op]
    except KeyError:
        raise SandboxViolation(f"operator {op} is not supported") from None
    return fn(target, value)


def guarded_apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


class PluginGuards:
    """The guard set of one plugin: remembers which classes the plugin itself created, so
    ``_write_`` can allow changing the plugin's objects and nothing else."""

    def __init__(self, print_sink: Callable[[str], None], *, allowed_bases: frozenset[type]) -> None:
        self._print_sink = print_sink
        self._allowed_bases = allowed_bases
        # A plain set, not a WeakSet: it is consulted on every attribute write, and a class a
        # plugin made lives as long as its worker anyway.
        self.plugin_classes: set[type] = set()

    def is_plugin_class(self, cls: Any) -> bool:
        return isinstance(cls, type) and cls in self.plugin_classes

    def write(self, obj: Any) -> Any:
        """``_write_``: may the plugin set attributes or items on ``obj``?"""
        kind = type(obj)
        if kind in _MUTABLE_PLAIN or kind in self.plugin_classes or self.is_plugin_class(obj):
            return obj
        raise TypeError(
            f"cannot modify a {kind.__name__!s} object: plugins may change only their own objects and plain containers"
        )

    def make_class(self, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> type:
        """``__metaclass__`` for every plugin class statement."""
        if kwargs:
            raise TypeError("class keywords are not allowed in plugins")
        for base in bases:
            if not (base in self._allowed_bases or self.is_plugin_class(base)):
                raise TypeError(f"a plugin class cannot derive from {getattr(base, '__name__', '?')}")
        for key in namespace:
            if (
                key.startswith("_")
                and key not in _CLASS_NAMESPACE_INTERNALS
                and not (key.startswith("__") and key.endswith("__"))
            ):
                raise TypeError(f"class attribute {key!r} is not allowed")
        cls = type(name, bases, namespace)
        self.plugin_classes.add(cls)
        return cls

    def print_factory(self, _getattr_: Any = None) -> BoundedPrinter:
        return BoundedPrinter(self._print_sink)

    def globals(self) -> dict[str, Any]:
        """The guard names RestrictedPython's rewritten code looks up in module globals."""
        return {
            "_getattr_": guarded_getattr,
            "_getitem_": guarded_getitem,
            "_getiter_": iter,
            "_write_": self.write,
            "_inplacevar_": guarded_inplacevar,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_apply_": guarded_apply,
            "_print_": self.print_factory,
            "__metaclass__": self.make_class,
        }


class BoundedPrinter:
    """What ``print`` becomes in a plugin: text goes to the plugin's log, never to a file."""

    __slots__ = ("_sink", "_kept", "_kept_size")
    _KEEP = 64 * 1024

    def __init__(self, sink: Callable[[str], None]) -> None:
        self._sink = sink
        self._kept: list[str] = []
        self._kept_size = 0

    def _call_print(self, *objects: Any, sep: Any = " ", end: Any = "\n", file: Any = None, flush: Any = False) -> None:
        if file is not None:
            raise TypeError("print(file=...) is not available in plugins; print goes to the plugin log")
        text = str(sep).join(str(o) for o in objects) + str(end)
        self._sink(text)
        if self._kept_size < self._KEEP:
            piece = text[: self._KEEP - self._kept_size]
            self._kept.append(piece)
            self._kept_size += len(piece)

    def __call__(self) -> str:
        # The value of the name 'printed' in plugin code.
        return "".join(self._kept)
