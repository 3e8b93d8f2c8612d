"""Drawing a page in memory: PDFium, else pdftoppm through pipes; never a file (issue 11)."""

from __future__ import annotations

import io
import sys

import pytest

from scanners.coversheet import CoverSheet, coversheets_pdf_bytes


def _pdf() -> bytes:
    return coversheets_pdf_bytes([CoverSheet("PPS-2026-0001", "retain", "NOTE"),
                                  CoverSheet("PPS-2026-0001", "shred", "EHCP")], "Test service")


@pytest.mark.parametrize("engine", ["pdfium", "pdftoppm"])
def test_a_page_is_drawn_without_a_file(engine: str, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from PIL import Image

    from pipeline.previews import render_page

    if engine == "pdftoppm":
        monkeypatch.setitem(sys.modules, "pypdfium2", None)  # as if not installed: the fallback
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    png = render_page(_pdf(), 1, 200)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size[0] == 200
    assert list(tmp_path.iterdir()) == []  # nothing written: not in the working folder, not in TMPDIR
