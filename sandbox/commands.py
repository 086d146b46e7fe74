"""Argv patterns: what a ``subprocess`` grant allows, word by word.

A ``commands`` scope entry is a program followed, optionally, by patterns for its arguments,
split like a POSIX shell line (``shlex``):

- ``"git"``: the program with any arguments (what a bare name always meant);
- ``"git status"``: exactly ``git status``, nothing more;
- ``"git log -n *"``: ``*`` is one argument that does not start with ``-``;
- ``"convert *.png out/*.jpg"``: a word with ``*``, ``?`` or ``[...]`` is a glob for one
  argument; it matches an argument starting with ``-`` only if the pattern starts with ``-``
  itself (``--format=*``), so a wildcard never lets an option in;
- ``"rsync -a * **"``: ``**``, last word only, is any further arguments, options included.

The program word is a name looked up on the daemon's PATH or an absolute path; the plugin's
argv[0] must have the same base name and resolve to the same file (a busybox symlink called
``ls`` does not let ``sh`` through). Deny entries use the same syntax; deny beats allow.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import shlex
from collections.abc import Callable

from .runs_anything import runner

ONE = "*"
REST = "**"
_GLOB = frozenset("*?[")


class PatternError(ValueError):
    """A ``commands`` entry that cannot be read."""


@dataclasses.dataclass(frozen=True)
class CommandPattern:
    text: str
    program: str
    #: Argument patterns; None for a bare program name (any arguments).
    args: tuple[str, ...] | None

    @property
    def literal(self) -> bool:
        """True when the pattern names every argument exactly."""
        return self.args is not None and not any(_is_wild(w) for w in self.args)


def _is_wild(word: str) -> bool:
    return word in (ONE, REST) or any(c in _GLOB for c in word)


def parse(text: str) -> CommandPattern:
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise PatternError(f"command pattern {text!r}: {exc}") from None
    if not words:
        raise PatternError("empty command pattern")
    program, rest = words[0], words[1:]
    if _is_wild(program):
        raise PatternError(f"command pattern {text!r}: the program must be named, not a wildcard")
    if REST in rest[:-1]:
        raise PatternError(f"command pattern {text!r}: ** is only allowed as the last word")
    return CommandPattern(text, program, tuple(rest) if rest else None)


def _word_matches(pattern: str, arg: str) -> bool:
    if pattern == ONE:
        return not arg.startswith("-")
    if any(c in _GLOB for c in pattern):
        if arg.startswith("-") and not pattern.startswith("-"):
            return False
        return fnmatch.fnmatchcase(arg, pattern)
    return arg == pattern


def args_match(pattern: CommandPattern, args: list[str]) -> bool:
    """Do ``args`` (argv without argv[0]) fit the pattern's argument words?"""
    if pattern.args is None:
        return True
    words = pattern.args
    if words and words[-1] == REST:
        fixed = words[:-1]
        if len(args) < len(fixed):
            return False
        return all(_word_matches(w, a) for w, a in zip(fixed, args, strict=False))
    return len(args) == len(words) and all(_word_matches(w, a) for w, a in zip(words, args, strict=True))


def same_program(pattern: CommandPattern, argv0: str, resolve: Callable[[str], str | None]) -> bool:
    """argv[0] names the pattern's program: same base name and the same file once resolved."""
    if os.path.basename(argv0) != os.path.basename(pattern.program):
        return False
    wanted = resolve(argv0)
    return wanted is not None and wanted == resolve(pattern.program)


def runs_anything(pattern: CommandPattern, real_path: str | None = None) -> str | None:
    """The sentence "runs anything" is about, or None when the pattern rules it out.

    A runner (``runs_anything.py``) is ruled out only when nothing that could carry another
    program is left open: every argument literal; or, for one that needs an option to run
    something (``find -exec``, ``tar --to-command``), no wildcard that may be an option and no
    wildcard after an option (it could be that option's program).
    """
    found = runner(pattern.program, real_path)
    if found is None or pattern.literal:
        return None
    if pattern.args is None or REST in pattern.args or found.positional:
        return found.how
    after_option = False
    for word in pattern.args:
        if _is_wild(word) and (word.startswith("-") or after_option):
            return found.how
        if word.startswith("-"):
            after_option = True
    return None
