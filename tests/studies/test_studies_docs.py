"""docs/studies.md lists every study and its gallery images exist and stay small."""

from __future__ import annotations

import re
from pathlib import Path

from glassnet.studies import all_studies

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_cover_every_study_and_gallery_images_exist():
    text = (DOCS / "studies.md").read_text(encoding="utf-8")
    for st in all_studies():
        assert f"| `{st.name}` |" in text
    images = re.findall(r"!\[[^\]]*\]\((gallery/[^)]+\.png)\)", text)
    assert len(images) >= 9
    for rel in images:
        path = DOCS / rel
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size < 150_000
