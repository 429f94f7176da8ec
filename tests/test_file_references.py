"""Every test file the README, the docs and the CI script name exists (no `tests/test_readme.py`)."""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
TEST_PATH = re.compile(r"tests/[A-Za-z0-9_/]+\.py")


def _documents():
    return [ROOT / "README.md", ROOT / ".ci" / "run", *sorted((ROOT / "docs").rglob("*.md"))]


def test_the_documents_are_there_to_be_read():
    assert all(p.is_file() for p in _documents())
    assert any(TEST_PATH.search(p.read_text(encoding="utf-8")) for p in _documents())


def test_every_named_test_file_exists():
    named = {(p.relative_to(ROOT), m) for p in _documents() for m in TEST_PATH.findall(p.read_text(encoding="utf-8"))}
    missing = sorted(f"{doc}: {ref}" for doc, ref in named if not (ROOT / ref).is_file())
    assert not missing, missing
