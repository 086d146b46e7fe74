"""The front end's build stamp: a hash of everything the build reads.

``python3 frontend/stamp.py write`` (run by ``npm run build``) records it in
engine/ui/static/build-stamp.json; ``python3 frontend/stamp.py check`` exits 1 when the built
files are missing or older than the sources, which is how scripts/run and scripts/test decide
to rebuild. Python, not Node, so a machine without Node can still tell.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "engine" / "ui" / "static"
STAMP = STATIC / "build-stamp.json"
INPUTS = ("index.html", "vite.config.js", "package.json", "package-lock.json", "src")


def digest() -> str:
    h = hashlib.sha256()
    for name in INPUTS:
        p = HERE / name
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            h.update(str(f.relative_to(HERE)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def main(argv: list[str]) -> int:
    if argv[1:] == ["write"]:
        STAMP.write_text(json.dumps({"sources_sha256": digest()}, indent=2) + "\n")
        return 0
    if argv[1:] == ["check"]:
        try:
            recorded = json.loads(STAMP.read_text())["sources_sha256"]
        except (OSError, ValueError, KeyError):
            print("frontend: engine/ui/static is not built", file=sys.stderr)
            return 1
        if recorded != digest() or not (STATIC / "index.html").is_file():
            print("frontend: engine/ui/static is stale (the sources changed since the build)", file=sys.stderr)
            return 1
        return 0
    print("usage: stamp.py write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
