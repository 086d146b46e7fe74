"""Plugin-supplied text made safe to show: on a terminal, in a log, in a notification, in HTML.

A plugin's name, description, author, error messages and output are the plugin's words. Control
characters (C0, DEL, C1 including the 8-bit CSI 0x9B) could move the cursor, hide text or forge a
log line; bidirectional overrides could make a line read differently from what it holds. They are
shown escaped (``\\x1b``, ``\\u202e``), never interpreted.
"""

from __future__ import annotations

import re

# C0 except tab and newline (handled by the caller's choice), DEL, C1, and the bidi controls
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_NL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(s: object, *, keep_newlines: bool = False) -> str:
    """``s`` as text with every control and bidi character escaped (tabs kept; newlines escaped
    unless ``keep_newlines``: a caller that keeps them must mark continuation lines itself)."""
    text = s if isinstance(s, str) else str(s)
    return (_UNSAFE if keep_newlines else _UNSAFE_NL).sub(_escape, text).replace("\t", " ") if text else text
