"""Errors and warnings that name the file, the line and the key path."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from midimon.config.errors import MidimonError


def format_path(path: tuple) -> str:
    """``("modes", 1, "mappings", 3, "trigger")`` -> ``modes[1].mappings[3].trigger``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass(frozen=True)
class Diagnostic:
    severity: Literal["error", "warning"]
    message: str
    path: tuple = ()
    file: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def key(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f" {self.key}:" if self.path else ""
        return f"{where}: {self.severity}:{key} {self.message}"

    def to_json(self) -> dict:
        d = asdict(self)
        d["path"] = self.key
        return d


class ConfigError(MidimonError):
    """The config cannot be used. ``diagnostics`` holds every error found, each with its line."""

    def __init__(self, diagnostics: list[Diagnostic], warnings: list[Diagnostic] | None = None):
        self.diagnostics = diagnostics
        self.warnings = warnings or []
        n = len(diagnostics)
        head = "the config has 1 error" if n == 1 else f"the config has {n} errors"
        super().__init__(head + ":\n" + "\n".join("  " + str(d) for d in diagnostics))

    def first(self) -> Diagnostic:
        return self.diagnostics[0]
