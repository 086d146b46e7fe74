"""The UI's access token: one random value in the runtime folder (mode 0600).

It lives as long as the runtime folder (the login session), so running ``midimon ui`` again
prints the same URL and an open tab keeps working; removing the file revokes every browser's
access at the next start.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from midimon.config.atomic import write_atomic
from midimon.config.home import Home


def load_or_create(home: Home) -> str:
    """The token in ``home.ui_token``, made (0600, in a 0700 folder) when missing or unusable."""
    path = home.ui_token
    existing = _read(path)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    write_atomic(path, token + "\n", mode=0o600)
    return token


def _read(path: Path) -> str | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    # a token anyone else could read (or a link planted in its place) is no secret: make a new one
    if not os.path.isfile(path) or os.path.islink(path) or st.st_mode & 0o077 or st.st_uid != os.getuid():
        return None
    text = path.read_text("ascii", "replace").strip()
    return text if len(text) >= 32 else None
