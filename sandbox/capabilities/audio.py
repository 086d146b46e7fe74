"""``audio``: play a sound file from the plugin's data folder or a granted sounds folder."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from .base import Capability, require_str
from .fs import FILES_DIR

SOUND_SUFFIXES = frozenset({".wav", ".ogg", ".mp3", ".flac", ".oga", ".aiff", ".aif"})


class AudioCapability(Capability):
    obj_name = "audio"
    capability = "audio"
    methods: ClassVar[frozenset[str]] = frozenset({"play"})

    def play(self, path: Any) -> None:
        text = require_str(path, "path", 4096)
        pure = PurePosixPath(text)
        if ".." in pure.parts:
            raise self.deny("play", text, "'..' is not allowed in paths")
        if pure.suffix.lower() not in SOUND_SUFFIXES:
            raise self.deny("play", text, "not a sound file")
        home = self.ctx.data_dir / FILES_DIR
        roots = [home] + [
            Path(os.path.abspath(p)) for p in self.ctx.grants.allow.sounds + self.ctx.grants.allow.read_paths
        ]
        full = Path(os.path.abspath(pure if pure.is_absolute() else home / pure))
        # Symlinks are resolved here and the result must still be under a root: the player is an
        # outside program and will follow links, so we check where it will really read.
        real = Path(os.path.realpath(full))
        real_roots = [Path(os.path.realpath(r)) for r in roots]
        denied = [
            Path(os.path.realpath(os.path.abspath(p)))
            for p in self.ctx.grants.deny.sounds + self.ctx.grants.deny.read_paths
        ]
        if any(real.is_relative_to(d) for d in denied):
            raise self.deny("play", text, "path is explicitly denied")
        if not any(real.is_relative_to(r) for r in real_roots):
            raise self.deny("play", text, f"path is {self.scope_hint('sounds')}")
        if not real.is_file():
            raise FileNotFoundError(f"no such sound file: {text!r}")
        self.ctx.services.play_audio(str(real))
        self.audit("play", "allowed", str(real))
