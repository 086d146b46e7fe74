"""MkDocs hooks: put the first-party plugins' READMEs into the site, and keep GitHub links.

The plugins' READMEs live beside their code (``plugins/<name>/README.md``, as the plan asks),
outside ``docs/``, and pages link to them (and to other files of the repository) with paths
that work on GitHub (``../plugins/spotify/README.md``). ``mkdocs build --strict`` refuses such
links. Rather than copy the READMEs into ``docs/`` (two copies drift), these hooks add each one
as a page ``plugins/<name>.md``, list it in the nav under "First-party plugins", and rewrite
links that leave ``docs/``: to a README -> its page; to a docs page -> that page; to any other
file of the repository -> its path as code (a site has no copy of the source tree).
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NAV_SECTION = "First-party plugins"
#: Where a first-party plugin's README may sit (the first-party folder layout may change).
README_GLOBS = ("plugins/*/README.md", "plugins/builtin/*/README.md")
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def readmes() -> dict[str, Path]:
    """Site page (``plugins/<name>.md``) -> the README file, one per plugin folder."""
    found: dict[str, Path] = {}
    for pattern in README_GLOBS:
        for path in sorted(ROOT.glob(pattern)):
            found.setdefault(f"plugins/{path.parent.name}.md", path)
    return found


def on_config(config: Any) -> Any:
    pages = readmes()
    nav = config.get("nav") or []
    for i, item in enumerate(nav):
        if isinstance(item, dict) and NAV_SECTION in item:
            if pages:
                nav[i] = {NAV_SECTION: [{Path(p).stem: p} for p in sorted(pages)]}
            else:
                del nav[i]
            break
    return config


def on_files(files: Files, config: Any) -> Files:
    for uri, path in readmes().items():
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def _source_of(page_uri: str) -> Path:
    """The real file a page comes from (a README for the generated pages)."""
    return readmes().get(page_uri, DOCS / page_uri)


def _rewrite(page_uri: str, target: str, text: str) -> str | None:
    """The new link for ``target`` as seen from ``page_uri``, or None to leave it alone."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "/")):
        return None  # a URL, an anchor, an absolute path: not ours to change
    path, _, anchor = target.partition("#")
    real = Path(os.path.normpath(_source_of(page_uri).parent / path))
    suffix = f"#{anchor}" if anchor else ""
    here = posixpath.dirname(page_uri)
    for uri, readme in readmes().items():
        if real == readme:
            return f"[{text}]({posixpath.relpath(uri, here or '.')}{suffix})"
    if real.is_relative_to(DOCS):
        if page_uri not in readmes():
            return None  # a docs page to a docs page: mkdocs resolves and checks it
        rel = real.relative_to(DOCS).as_posix()
        return f"[{text}]({posixpath.relpath(rel, here or '.')}{suffix})"
    if real.is_relative_to(ROOT):
        return f"{text} (`{real.relative_to(ROOT).as_posix()}`)"
    return None


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    uri = page.file.src_uri

    def sub(m: re.Match[str]) -> str:
        new = _rewrite(uri, m.group(2), m.group(1))
        return m.group(0) if new is None else new

    # leave fenced code alone: a link-like text in a code block is not a link
    parts = re.split(r"(^```.*?^```)", markdown, flags=re.S | re.M)
    return "".join(p if p.startswith("```") else _LINK.sub(sub, p) for p in parts)
