"""Rewrite a config file to the current vocabulary, keeping every comment and blank line.

The edits are made on the text itself, at the positions the locator finds, so nothing but
the deprecated spellings changes: old key names, old values (mode numbers, modifiers, the old
names of first-party plugins) and the plugins' old params (``json``, ``timeout``, ``command``).
"""

from __future__ import annotations

import copy
import json
import re

from midimon.config import legacy
from midimon.config.loader import _parse_toml
from midimon.config.locate import locate

# one TOML scalar after ``=``: a basic or literal string, a number, a boolean
_SCALAR = re.compile(r"\s*(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[-+]?[0-9][0-9_.eE+-]*|true|false)")
_LIST_STRING = re.compile(r"\"[^\"]*\"|'[^']*'")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _replace_value(text: str, at: int, value: object) -> str:
    """Replace the scalar that follows the ``=`` of the key standing at ``at``."""
    eq = text.find("=", at)
    if eq < 0:
        return text
    m = _SCALAR.match(text, eq + 1)
    if not m:
        return text
    return text[: m.start(1)] + _toml_value(value) + text[m.end(1) :]


def _rename_key(text: str, at: int, old: str, new: str) -> str:
    for spelling in (old, f'"{old}"', f"'{old}'"):
        if text.startswith(spelling, at):
            return text[:at] + new + text[at + len(spelling) :]
    return text


def migrate_text(source: str, filename: str | None = None) -> tuple[str, list[legacy.Rewrite]]:
    raw = _parse_toml(source, filename)
    work = copy.deepcopy(raw)
    rewrites = legacy.rewrite_plugin_params(work) + legacy.rewrite(work)
    if not rewrites:
        return source, []
    found = locate(source)
    lines = source.splitlines(keepends=True)
    edits = [(found[r.path], r) for r in rewrites if r.path in found]
    for (line, col), r in sorted(edits, key=lambda e: e[0], reverse=True):
        text = lines[line - 1]
        at = col - 1
        old = r.path[-1]
        if r.kind == "rename-key":
            assert r.new_key is not None
            text = _rename_key(text, at, str(old), r.new_key)
        elif r.kind == "rename-param":
            assert r.new_key is not None
            if not isinstance(r.new_value, (dict, list)):
                text = _replace_value(text, at, r.new_value)  # after the key: the key's column holds
            text = _rename_key(text, at, str(old), r.new_key)
        elif r.kind == "drop":
            continue  # both spellings present: leave it for the user to choose
        elif r.kind == "value":
            if isinstance(old, int):  # a list element: the value starts here
                m = _LIST_STRING.match(text, at)
                if m:
                    text = text[: m.start()] + _toml_value(r.new_value) + text[m.end() :]
            else:
                text = _replace_value(text, at, r.new_value)
        lines[line - 1] = text
    return "".join(lines), rewrites
