"""The escape corpus: each entry is a plugin that, if the sandbox failed, would read a secret
file of the host and write a marker file. Tests assert those effects never happen.

Every attack shares the ``steal`` payload below: given anything that leads to real globals, a
real module or real builtins, it opens the secret and writes the marker. It uses only names that
compile under RestrictedPython (dunder names are built at run time with ``U``), so an attack that
compiles really does run its payload if a guard lets it through. ``control=True`` marks attacks
that are also run as plain Python in ``test_escapes.py`` to prove the payload works there: the
sandbox, not a broken attack, is what stops them.
"""

from __future__ import annotations

import dataclasses

PRELUDE = """
SECRET_PATH = {secret!r}
MARKER_PATH = {marker!r}

def U(name):
    return "_" + "_" + name + "_" + "_"

def steal(g):
    if not isinstance(g, dict):
        g = getattr(g, U("dict"))
    b = g.get(U("builtins"), g)
    if not isinstance(b, dict):
        b = getattr(b, U("dict"))
    opener = b["open"]
    data = opener(SECRET_PATH).read()
    opener(MARKER_PATH, "w").write("pwned")
    return data
"""


@dataclasses.dataclass(frozen=True)
class Attack:
    id: str
    body: str
    stage: str  # "compile": refused by the policy; "runtime": compiles, a guard stops it
    control: bool = False


def A(id: str, body: str, stage: str, control: bool = False) -> Attack:
    return Attack(id, body, stage, control)


ATTACKS: list[Attack] = [
    # -- classic jail escapes --------------------------------------------------------------
    A(
        "subclass_walk_syntax",
        """
def attack():
    for c in ().__class__.__bases__[0].__subclasses__():
        if c.__name__ == "_wrap_close":
            return steal(c.__init__.__globals__)
""",
        "compile",
        control=True,
    ),
    A(
        "subclass_walk_getattr_built_names",
        """
def attack():
    base = getattr(getattr((), U("class")), U("base"))
    for c in getattr(base, U("subclasses"))():
        if getattr(c, U("name")) == "_wrap_close":
            return steal(getattr(getattr(c, U("init")), U("globals")))
""",
        "runtime",
        control=True,
    ),
    A(
        "getattr_concatenated_name",
        """
def attack():
    return steal(getattr(attack, "__glo" + "bals__"))
""",
        "runtime",
        control=True,
    ),
    A(
        "getattr_default_swallows_denial",
        """
def attack():
    g = getattr(attack, U("globals"), None)
    return steal(g) if g is not None else "nothing"
""",
        "runtime",
        control=True,
    ),
    A(
        "hasattr_probe_then_getattr",
        """
def attack():
    if hasattr(attack, U("globals")):
        return steal(getattr(attack, U("globals")))
    return steal(getattr(attack, U("globals")))
""",
        "runtime",
        control=True,
    ),
    A(
        "function_globals_syntax",
        """
def attack():
    return steal(attack.__globals__)
""",
        "compile",
        control=True,
    ),
    A(
        "builtins_name",
        """
def attack():
    return steal(__builtins__)
""",
        "compile",
        control=True,
    ),
    A(
        "import_dunder_import",
        """
def attack():
    os = __import__("os")
    return steal(os)
""",
        "compile",
        control=True,
    ),
    A(
        "import_os",
        """
import os
def attack():
    return steal(os)
""",
        "runtime",
        control=True,
    ),
    A(
        "import_os_inside_function",
        """
def attack():
    import os
    return steal(os)
""",
        "runtime",
        control=True,
    ),
    A(
        "import_submodule_of_allowed",
        """
def attack():
    import json.decoder
    return steal(json.decoder)
""",
        "runtime",
        control=True,
    ),
    A(
        "from_allowed_import_submodule_fallback",
        """
def attack():
    from json import decoder
    return steal(decoder)
""",
        "runtime",
        control=True,
    ),
    A(
        "from_re_import_private_module",
        """
def attack():
    from re import _compiler
    return steal(_compiler)
""",
        "compile",
        control=True,
    ),
    A(
        "import_star",
        """
from os import *
def attack():
    return steal(globals())
""",
        "compile",
        control=True,
    ),
    A(
        "open_builtin",
        """
def attack():
    data = open(SECRET_PATH).read()
    open(MARKER_PATH, "w").write("x")
    return data
""",
        "runtime",
        control=True,
    ),
    A(
        "globals_builtin",
        """
def attack():
    return steal(globals())
""",
        "runtime",
        control=True,
    ),
    A(
        "vars_and_dir",
        """
def attack():
    return steal(vars(attack))
""",
        "runtime",
    ),
    A(
        "eval_and_exec",
        """
def attack():
    return eval("steal(globals())")
""",
        "compile",
        control=True,
    ),
    A(
        "compile_builtin",
        """
def attack():
    code = compile("steal(globals())", "x", "eval")
    return code
""",
        "compile",
    ),
    A(
        "type_three_args",
        """
def attack():
    T = type("T", (), {"x": 1})
    return steal(getattr(T, U("init")))
""",
        "runtime",
    ),
    A(
        "type_via_class_attribute",
        """
def attack():
    T = ().__class__.__class__
    return steal(T)
""",
        "compile",
    ),
    A(
        "metaclass_keyword",
        """
class Meta(type):
    pass
class X(metaclass=Meta):
    pass
def attack():
    return steal(globals())
""",
        "compile",
        control=True,
    ),
    A(
        "class_keyword_init_subclass",
        """
class X(object, flag=1):
    pass
def attack():
    return steal(globals())
""",
        "compile",
    ),
    A(
        "class_derives_from_host_type",
        """
import json
class X(json.JSONDecodeError):
    pass
def attack():
    return steal(getattr(X, U("init")))
""",
        "runtime",
    ),
    A(
        "object_subclasses_via_getattr",
        """
def attack():
    for c in getattr(object, U("subclasses"))():
        if getattr(c, U("name")) == "_wrap_close":
            return steal(getattr(getattr(c, U("init")), U("globals")))
""",
        "runtime",
        control=True,
    ),
    # -- frames: generators, tracebacks, coroutines (CVE-2023-37271) -------------------------------
    A(
        "cve_2023_37271_generator_gi_frame",
        """
def attack():
    g = (x for x in [1])
    return steal(g.gi_frame.f_globals)
""",
        "compile",
        control=True,
    ),
    A(
        "generator_frame_getattr",
        """
def gen():
    yield 1
def attack():
    g = gen()
    frame = getattr(g, "gi_" + "frame")
    return steal(getattr(frame, "f_" + "globals"))
""",
        "runtime",
        control=True,
    ),
    A(
        "generator_running_frame_f_back",
        """
def gen():
    yield getattr(getattr(getattr(holder[0], "gi_frame"), "f_back"), "f_globals")
holder = []
def attack():
    g = gen()
    holder.append(g)
    return steal(next(g))
""",
        "runtime",
        control=True,
    ),
    A(
        "traceback_tb_frame",
        """
def attack():
    try:
        1 / 0
    except ZeroDivisionError as e:
        tb = getattr(e, U("traceback"))
        return steal(getattr(getattr(tb, "tb_frame"), "f_globals"))
""",
        "runtime",
        control=True,
    ),
    A(
        "traceback_syntax",
        """
def attack():
    try:
        1 / 0
    except ZeroDivisionError as e:
        return steal(e.__traceback__.tb_frame.f_globals)
""",
        "compile",
        control=True,
    ),
    A(
        "with_traceback_then_tb",
        """
def attack():
    e = ValueError("x").with_traceback(None)
    try:
        raise e
    except ValueError as err:
        return steal(getattr(getattr(getattr(err, U("traceback")), "tb_frame"), "f_globals"))
""",
        "runtime",
        control=True,
    ),
    A(
        "coroutine_cr_frame",
        """
async def co():
    return 1
def attack():
    c = co()
    return steal(c.cr_frame.f_globals)
""",
        "compile",
    ),
    A(
        "cr_frame_name_on_generator",
        """
def gen():
    yield 1
def attack():
    return steal(getattr(getattr(gen(), "cr_" + "frame"), "f_globals"))
""",
        "runtime",
    ),
    A(
        "gi_code_co_code",
        """
def gen():
    yield 1
def attack():
    code = getattr(gen(), "gi_" + "code")
    return steal(getattr(code, "co_" + "code"))
""",
        "runtime",
    ),
    # -- formatting (CVE-2023-41039, CVE-2024-47532 and later) -------------------------------
    A(
        "cve_2023_41039_str_format",
        """
def attack():
    return "{0.__globals__[SECRET_PATH]}".format(attack)
""",
        "runtime",
    ),
    A(
        "str_format_via_class",
        """
def attack():
    leaked = str.format("{0.__globals__}", attack)
    return leaked
""",
        "runtime",
    ),
    A(
        "format_map",
        """
def attack():
    return "{f.__globals__}".format_map({"f": attack})
""",
        "compile",
    ),
    A(
        "format_map_via_getattr",
        """
def attack():
    fm = getattr("{f.__globals__}", "format" + "_map")
    return fm({"f": attack})
""",
        "runtime",
    ),
    A(
        "string_formatter_class",
        """
import string
def attack():
    return string.Formatter().vformat("{0.__globals__}", [attack], {})
""",
        "runtime",
    ),
    A(
        "cve_2024_47532_from_string_import_formatter",
        """
from string import Formatter
def attack():
    obj, key = Formatter().get_field("0.__globals__", [attack], {})
    return steal(obj)
""",
        "runtime",
    ),
    A(
        "string_formatter_get_field_later_cve",
        """
import string
def attack():
    f = getattr(string, "Form" + "atter")()
    obj, key = f.get_field("0.__globals__", [attack], {})
    return steal(obj)
""",
        "runtime",
    ),
    A(
        "cve_2024_47532_attributeerror_obj",
        """
import string
def attack():
    try:
        string.nothing_here
    except AttributeError as e:
        inner = e.obj
        return steal(getattr(inner, U("dict")))
""",
        "runtime",
    ),
    A(
        "attributeerror_obj_via_getattr",
        """
import json
def attack():
    try:
        getattr(json, "nope")
    except AttributeError as e:
        return steal(getattr(e, "o" + "bj"))
""",
        "runtime",
    ),
    A(
        "fstring_attribute_walk",
        """
def attack():
    return f"{attack.__globals__}"
""",
        "compile",
    ),
    A(
        "fstring_format_spec_nested",
        """
def attack():
    spec = "{0.__globals__}"
    return f"{attack!r:{spec}}"
""",
        "runtime",
    ),
    A(
        "format_builtin_with_spec",
        """
def attack():
    return format(attack, "{0.__globals__}")
""",
        "runtime",
    ),
    A(
        "str_subclass_format",
        """
class S(str):
    pass
def attack():
    return S("{0.__globals__}").format(attack)
""",
        "runtime",
    ),
    A(
        "template_substitution",
        """
import string
def attack():
    t = string.Template("$f")
    return t.substitute(f=attack) + (steal(getattr(t, U("init"))) or "")
""",
        "runtime",
    ),
    # -- look-alike names ------------------------------------------------------------------------
    A(
        "nfkc_fullwidth_eval",
        """
def attack():
    return ｅｖａｌ("steal(globals())")
""",
        "compile",
    ),
    A(
        "nfkc_fullwidth_underscore_attribute",
        """
def attack():
    return steal(attack.＿＿globals＿＿)
""",
        "compile",
    ),
    A(
        "nfkc_lookalike_getattr_string",
        """
def attack():
    return steal(getattr(attack, "\\uff3f\\uff3fglobals\\uff3f\\uff3f"))
""",
        "runtime",
    ),
    A(
        "str_subclass_attribute_name",
        """
class Name(str):
    def startswith(self, prefix):
        return False
def attack():
    return steal(getattr(attack, Name(U("globals"))))
""",
        "runtime",
    ),
    # -- rebinding the guard names, every way (CVE-2026-55830 is the positional-only one) --------
    A(
        "rebind_guard_module_level",
        """
_getattr_ = getattr
def attack():
    return steal(attack.__globals__)
""",
        "compile",
    ),
    A(
        "cve_2026_55830_positional_only_guard",
        """
def inner(_getattr_, /):
    return steal(getattr(attack, U("globals")))
def attack():
    return inner(lambda o, n: o)
""",
        "compile",
    ),
    A(
        "rebind_guard_default_arg",
        """
def attack(_getattr_=None):
    return steal(getattr(attack, U("globals")))
""",
        "compile",
    ),
    A(
        "rebind_guard_kwonly",
        """
def attack(*, _write_=None):
    return steal(globals())
""",
        "compile",
    ),
    A(
        "rebind_guard_varargs",
        """
def attack(*_getiter_, **_getitem_):
    return steal(globals())
""",
        "compile",
    ),
    A(
        "rebind_guard_lambda",
        """
f = lambda _getattr_: steal(getattr(attack, U("globals")))
def attack():
    return f(None)
""",
        "compile",
    ),
    A(
        "rebind_guard_for_target",
        """
def attack():
    for _getattr_ in [None]:
        pass
    return steal(globals())
""",
        "compile",
    ),
    A(
        "rebind_guard_with_target",
        """
def attack():
    with open(SECRET_PATH) as _getattr_:
        return _getattr_.read()
""",
        "compile",
    ),
    A(
        "rebind_guard_except_target",
        """
def attack():
    try:
        1 / 0
    except Exception as _getattr_:
        return steal(globals())
""",
        "compile",
    ),
    A(
        "rebind_guard_walrus",
        """
def attack():
    if (_write_ := None) is None:
        return steal(globals())
""",
        "compile",
    ),
    A(
        "rebind_guard_import_as",
        """
import json as _getattr_
def attack():
    return steal(globals())
""",
        "compile",
    ),
    A(
        "rebind_guard_from_import_as",
        """
from json import dumps as _getitem_
def attack():
    return steal(globals())
""",
        "compile",
    ),
    A(
        "rebind_guard_global_statement",
        """
def attack():
    global _getattr_
    return steal(globals())
""",
        "compile",
    ),
    A(
        "rebind_guard_del",
        """
def attack():
    del _getattr_
    return steal(getattr(attack, U("globals")))
""",
        "compile",
    ),
    A(
        "rebind_guard_comprehension",
        """
def attack():
    return [steal(globals()) for _getiter_ in [1]]
""",
        "compile",
    ),
    A(
        "rebind_guard_class_name",
        """
class _print_:
    pass
def attack():
    return steal(globals())
""",
        "compile",
    ),
    A(
        "rebind_guard_function_name",
        """
def _write_(ob):
    return ob
def attack():
    return steal(globals())
""",
        "compile",
    ),
    A(
        "rebind_guard_match_capture",
        """
def attack(x=1):
    match x:
        case _getattr_:
            return steal(globals())
""",
        "compile",
    ),
    A(
        "rebind_guard_nonlocal",
        """
def attack():
    _x = 1
    def inner():
        nonlocal _x
    return steal(globals())
""",
        "compile",
    ),
    A(
        "rebind_print_reserved",
        """
printed = "x"
def attack():
    return steal(globals())
""",
        "compile",
    ),
    A(
        "cve_2025_22153_try_star",
        """
def attack():
    try:
        raise ExceptionGroup("g", [ValueError(1)])
    except* ValueError as eg:
        return steal(globals())
""",
        "compile",
    ),
    # -- decorators and functional helpers -------------------------------------------------------
    A(
        "decorator_reads_globals",
        """
def grab(f):
    return steal(getattr(f, U("globals")))
@grab
def attack():
    return "decorated"
""",
        "runtime",
        control=True,
    ),
    A(
        "functools_wraps_import",
        """
from functools import wraps
def attack():
    return steal(wraps)
""",
        "runtime",
    ),
    A(
        "operator_attrgetter",
        """
import operator
def attack():
    return steal(operator.attrgetter("__globals__")(attack))
""",
        "runtime",
        control=True,
    ),
    A(
        "reduce_getattr_chain",
        """
import functools
def attack():
    g = functools.reduce(getattr, [U("globals")], attack)
    return steal(g)
""",
        "runtime",
        control=True,
    ),
    A(
        "map_getattr",
        """
def attack():
    return steal(list(map(getattr, [attack], [U("globals")]))[0])
""",
        "runtime",
        control=True,
    ),
    A(
        "partial_getattr",
        """
import functools
def attack():
    return steal(functools.partial(getattr, attack)(U("globals")))
""",
        "runtime",
        control=True,
    ),
    A(
        "namedtuple_field_injection",
        """
import collections
def attack():
    T = collections.namedtuple("T", ["a=steal(globals())"])
    return T(1)
""",
        "runtime",
    ),
    A(
        "print_file_argument",
        """
class Sink:
    def write(self, text):
        steal(globals())
def attack():
    print("x", file=Sink())
""",
        "runtime",
    ),
    A(
        "print_object_self",
        """
def attack():
    p = print
    return steal(getattr(getattr(p, U("self")), U("dict")))
""",
        "runtime",
    ),
    # -- writes to shared objects ----------------------------------------------------------------
    A(
        "module_facade_write",
        """
import json
def attack():
    json.dumps = steal
    return json.dumps(globals())
""",
        "runtime",
    ),
    A(
        "module_facade_setattr",
        """
import json
def attack():
    setattr(json, "dumps", steal)
    return json.dumps(globals())
""",
        "runtime",
    ),
    A(
        "stub_method_write",
        """
def attack():
    fs.read_text = steal
    return fs.read_text(globals())
""",
        "runtime",
    ),
    A(
        "builtin_type_attribute_write",
        """
def attack():
    dict.get = steal
    return {}.get(globals())
""",
        "runtime",
    ),
    # -- capability proxies ----------------------------------------------------------------------
    A(
        "stub_private_state",
        """
def attack():
    return steal(getattr(fs, U("dict")))
""",
        "runtime",
    ),
    A(
        "stub_public_client_attribute",
        """
def attack():
    return steal(getattr(http, "client", None) or getattr(http, "ctx"))
""",
        "runtime",
    ),
    A(
        "stub_bound_method_self",
        """
def attack():
    return steal(getattr(getattr(fs.read_text, U("func")), U("globals")))
""",
        "runtime",
    ),
    A(
        "stub_method_closure",
        """
def attack():
    m = getattr(fs.read_text, U("func"))
    return steal(getattr(m, U("closure")))
""",
        "runtime",
    ),
    A(
        "stub_read_secret_without_grant",
        """
def attack():
    data = fs.read_text(SECRET_PATH)
    fs.write_text(MARKER_PATH, "pwned")
    return data
""",
        "runtime",
    ),
    A(
        "capability_error_carries_objects",
        """
def attack():
    try:
        fs.read_text(SECRET_PATH)
    except CapabilityError as e:
        return [steal(a) for a in e.args if not isinstance(a, str)] or list(e.args)
""",
        "runtime",
    ),
    A(
        "str_subclass_lies_to_fs_scope",
        """
class Liar(str):
    def startswith(self, prefix):
        return True
    def __eq__(self, other):
        return True
def attack():
    return fs.read_text(Liar(SECRET_PATH))
""",
        "runtime",
    ),
    A(
        "fs_dotdot_escape",
        """
def attack():
    return fs.read_text("../../../../../../../../" + SECRET_PATH)
""",
        "runtime",
    ),
    A(
        "store_key_path_traversal",
        """
def attack():
    store.set("../../../../" + MARKER_PATH, "pwned")
    return store.get("../../../../" + MARKER_PATH)
""",
        "runtime",
    ),
    A(
        "shell_without_grant",
        """
def attack():
    r = shell.run(["/bin/sh", "-c", "cat " + SECRET_PATH + "; touch " + MARKER_PATH])
    return r["stdout"]
""",
        "runtime",
    ),
    A(
        "random_private_instance",
        """
import random
def attack():
    return steal(getattr(getattr(random, "_" + "inst"), U("dict")))
""",
        "runtime",
    ),
    A(
        "regex_pattern_internals",
        """
import re
def attack():
    p = re.compile("x")
    return steal(getattr(p, U("class")))
""",
        "runtime",
    ),
]
