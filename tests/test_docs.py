"""Docs move with code: every ```toml block in docs/ and the README is a config that loads."""

import re
from pathlib import Path

import pytest

from midimon.config import load_config

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BLOCK = re.compile(r"^```toml\n(.*?)^```", re.S | re.M)


def blocks():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in BLOCK.finditer(text):
            line = text[: m.start()].count("\n") + 1
            yield pytest.param(doc, line, m.group(1), id=f"{doc.name}:{line}")


def test_docs_have_config_snippets():
    assert len(list(blocks())) >= 10


@pytest.mark.parametrize("doc,line,text", list(blocks()))
def test_snippet_is_a_valid_config(doc, line, text):
    result = load_config(f"{doc.name}:{line}", text=text, strict=True)
    assert result.config is not None
