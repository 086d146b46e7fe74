"""Find the line and column of every key in a TOML document.

``tomllib`` gives values but no positions, and every diagnostic midimon prints must name the
line. This scanner walks the document's *structure* only (tables, arrays of tables, keys,
inline tables, arrays) and maps each key path, with array indices, to where it stands:
``("modes", 1, "mappings", 3, "trigger", "note") -> (42, 1)``. It runs only when there is a
diagnostic to place, and only on text that ``tomllib`` already accepted, so it may be
forgiving about anything malformed.
"""

from __future__ import annotations

Path = tuple
Position = tuple[int, int]

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.n = len(text)
        self.found: dict[Path, Position] = {}
        self._line_starts = [0]
        for k, ch in enumerate(text):
            if ch == "\n":
                self._line_starts.append(k + 1)

    def pos(self, at: int) -> Position:
        import bisect

        line = bisect.bisect_right(self._line_starts, at)
        return line, at - self._line_starts[line - 1] + 1

    # -- lexical helpers -------------------------------------------------------------------
    def skip_space(self, newlines: bool) -> None:
        t, n = self.text, self.n
        while self.i < n:
            ch = t[self.i]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.i += 1
            elif ch == "#":
                while self.i < n and t[self.i] != "\n":
                    self.i += 1
            else:
                return

    def skip_string(self) -> str:
        t = self.text
        quote = t[self.i]
        if t.startswith(quote * 3, self.i):
            end = t.find(quote * 3, self.i + 3)
            while quote == '"' and end > 0 and _escaped(t, end):
                end = t.find(quote * 3, end + 1)
            end = self.n if end < 0 else end
            # a closing run may be up to five quotes long
            stop = end + 3
            while stop < self.n and t[stop] == quote and stop - end < 5:
                stop += 1
            value = t[self.i + 3 : stop - 3]
            self.i = stop
            return value
        j = self.i + 1
        while j < self.n and t[j] != quote and t[j] != "\n":
            j += 2 if (quote == '"' and t[j] == "\\") else 1
        value = t[self.i + 1 : j]
        self.i = j + 1
        return value

    def key(self) -> list[tuple[str, int]]:
        """A dotted key: its parts, each with the offset where it starts."""
        parts: list[tuple[str, int]] = []
        while self.i < self.n:
            self.skip_space(False)
            start = self.i
            if self.i < self.n and self.text[self.i] in "\"'":
                parts.append((self.skip_string(), start))
            else:
                j = self.i
                while j < self.n and self.text[j] in _BARE:
                    j += 1
                if j == self.i:
                    break
                parts.append((self.text[self.i : j], start))
                self.i = j
            self.skip_space(False)
            if self.i < self.n and self.text[self.i] == ".":
                self.i += 1
                continue
            break
        return parts

    # -- structure ---------------------------------------------------------------------------
    def value(self, path: Path) -> None:
        self.skip_space(False)
        if self.i >= self.n:
            return
        ch = self.text[self.i]
        if ch == "{":
            self.i += 1
            while self.i < self.n:
                self.skip_space(True)
                if self.i < self.n and self.text[self.i] == "}":
                    self.i += 1
                    return
                parts = self.key()
                if not parts:
                    self.i += 1
                    continue
                sub = path + tuple(p for p, _ in parts)
                self.found.setdefault(sub, self.pos(parts[-1][1]))
                self.skip_space(False)
                if self.i < self.n and self.text[self.i] == "=":
                    self.i += 1
                self.value(sub)
                self.skip_space(True)
                if self.i < self.n and self.text[self.i] == ",":
                    self.i += 1
        elif ch == "[":
            self.i += 1
            index = 0
            while self.i < self.n:
                self.skip_space(True)
                if self.i >= self.n:
                    return
                if self.text[self.i] == "]":
                    self.i += 1
                    return
                self.found.setdefault(path + (index,), self.pos(self.i))
                self.value(path + (index,))
                self.skip_space(True)
                if self.i < self.n and self.text[self.i] == ",":
                    self.i += 1
                    index += 1
        elif ch in "\"'":
            self.skip_string()
        else:
            while self.i < self.n and self.text[self.i] not in ",]}\n#":
                self.i += 1

    def document(self) -> dict[Path, Position]:
        table: Path = ()
        aot_index: dict[Path, int] = {}

        def resolve(keys: list[str]) -> Path:
            out: Path = ()
            for k in keys:
                out = out + (k,)
                if out in aot_index:
                    out = out + (aot_index[out],)
            return out

        while True:
            self.skip_space(True)
            if self.i >= self.n:
                return self.found
            start = self.i
            if self.text[self.i] == "[":
                double = self.text.startswith("[[", self.i)
                self.i += 2 if double else 1
                keys = [k for k, _ in self.key()]
                self.skip_space(False)
                self.i += 2 if double else 1
                if double:
                    base = resolve(keys[:-1]) + (keys[-1],)
                    aot_index[base] = aot_index.get(base, -1) + 1
                    # entering a new element: forget the counters of the previous one's children
                    table = base + (aot_index[base],)
                    self.found.setdefault(base, self.pos(start))
                else:
                    table = resolve(keys)
                self.found[table] = self.pos(start)
            else:
                parts = self.key()
                if not parts:
                    self.i += 1
                    continue
                path = table + tuple(p for p, _ in parts)
                self.found.setdefault(path, self.pos(parts[0][1]))
                self.skip_space(False)
                if self.i < self.n and self.text[self.i] == "=":
                    self.i += 1
                self.value(path)


def _escaped(text: str, at: int) -> bool:
    backslashes = 0
    k = at - 1
    while k >= 0 and text[k] == "\\":
        backslashes += 1
        k -= 1
    return backslashes % 2 == 1


def locate(text: str) -> dict[Path, Position]:
    """Map every key path in ``text`` to its (line, column), both 1-based."""
    scanner = _Scanner(text)
    try:
        return scanner.document()
    except (IndexError, ValueError):  # malformed input: keep what was found
        return scanner.found


def nearest(found: dict[Path, Position], path: Path) -> Position | None:
    """The position of ``path``, or of its closest ancestor that has one."""
    path = tuple(path)
    while path:
        if path in found:
            return found[path]
        path = path[:-1]
    return None
