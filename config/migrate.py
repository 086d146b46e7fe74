"""Rewrite a config file to the current vocabulary, keeping every comment and blank line.

The edits are made on the text itself, at the positions the locator finds, so nothing but
the deprecated spellings changes.
"""

from __future__ import annotations

import copy
import json
import re

from midimon.config import legacy
from midimon.config.loader import _parse_toml
from midimon.config.locate import locate


def migrate_text(source: str, filename: str | None = None) -> tuple[str, list[legacy.Rewrite]]:
    raw = _parse_toml(source, filename)
    rewrites = legacy.rewrite(copy.deepcopy(raw))
    if not rewrites:
        return source, []
    found = locate(source)
    lines = source.splitlines(keepends=True)
    edits = []
    for r in rewrites:
        pos = found.get(r.path)
        if pos is None:
            continue
        edits.append((pos, r))
    for (line, col), r in sorted(edits, key=lambda e: e[0], reverse=True):
        text = lines[line - 1]
        at = col - 1
        if r.kind == "rename-key":
            old = r.path[-1]
            if text.startswith(old, at):
                text = text[:at] + r.new_key + text[at + len(old) :]
        elif r.kind == "drop":
            continue  # both spellings present: leave it for the user to choose
        elif r.kind == "value":
            value = json.dumps(r.new_value, ensure_ascii=False)
            if isinstance(r.path[-1], int):  # a list element: the value starts here
                m = re.compile(r'"[^"]*"|\'[^\']*\'').match(text, at)
            else:  # a key: replace what follows its '='
                eq = text.index("=", at)
                m = re.compile(r"\s*(-?\d+)").match(text, eq + 1)
                if m:
                    at = m.start(1)
                    text = text[:at] + value + text[m.end(1) :]
                    lines[line - 1] = text
                    continue
            if m:
                text = text[: m.start()] + value + text[m.end() :]
        lines[line - 1] = text
    return "".join(lines), rewrites
