"""Bilevel scans stay bilevel and small on their way to the vault (issue 8: 1-bit scans grew up to
9 times, since OCRmyPDF's PDF/A output stores them Flate-compressed). Real OCR, real files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Degrade, Doc, ScanFactory

REF = "PPS-2024-0401"


def _kept_pdf(doc_id: int) -> bytes:
    from sqlalchemy import select

    from archive_media.vault import Vault
    from pipeline import keystore
    from pipeline.models import Document
    from pipeline.workspace import Workspace

    ws = Workspace.load()
    try:
        with ws.reader() as s:
            d = s.scalars(select(Document).where(Document.id == doc_id)).one()
            identity = keystore.case_identity(s, keystore.unlock(s, PASSPHRASE.encode()), REF)
            return Vault(ws.path("vault")).read_bytes(d.vault_item, identity, d.plaintext_sha256)
    finally:
        ws.close()


@pytest.mark.slow
def test_a_g4_tiff_stays_ccitt_g4_and_small(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pikepdf

    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", REF, "--consent-to-store")
    pages = 2
    batch = ScanFactory(seed=23).batch(tmp_path / "in", "scan_0001.tif", [
        Cover(REF, "retain", "PPS-LETTER"), Doc("pps-letter", REF, pages=pages, degrade=Degrade(skew=1.0, speckle=30)),
    ], container="tiff-g4", dpi=300)
    tif = batch.files[0]
    from PIL import Image

    with Image.open(tif) as im:  # the document's own pages, as the scanner coded them
        strips = []
        for n in range(1, pages + 1):
            im.seek(n)
            strips.append(im.tag_v2.get(279)[0])
    in_per_page = sum(strips) / pages
    out = run("ingest", str(tif), "--json").json()["inputs"][0]
    assert out["outcome"] == "done", out
    (doc,) = [d for d in run("documents", "--json").json() if d["decision"] == "retain"]
    pdf = _kept_pdf(doc["id"])
    with pikepdf.open(io.BytesIO(pdf)) as p:
        assert len(p.pages) == pages
        for page in p.pages:
            (image,) = page.get_images().values()
            assert (image.BitsPerComponent, str(image.Filter)) == (1, "/CCITTFaxDecode"), "a bilevel page must stay bilevel, CCITT G4"
    per_page = len(pdf) / pages
    assert per_page < 2.0 * in_per_page, f"{per_page:.0f} bytes a page kept for {in_per_page:.0f} scanned"


def test_keep_bilevel_small_is_lossless(tmp_path: Path) -> None:
    """The re-encoding changes bytes, never pixels, and leaves grey and colour images alone."""
    import zlib

    import pikepdf
    from PIL import Image, ImageDraw

    from pipeline.ocr import keep_bilevel_small

    from tests.factory._containers import bilevel

    mono = bilevel(ScanFactory(seed=3).page("pps-letter", REF, dpi=150).image).resize((1200, 1600))
    ImageDraw.Draw(mono).rectangle((100, 100, 700, 300), fill=0)
    grey = Image.new("L", (300, 200), 128)
    pdf = pikepdf.new()
    for img, bits in ((mono, 1), (grey, 8)):
        stream = pikepdf.Stream(pdf, zlib.compress(img.tobytes()))
        stream.Type, stream.Subtype, stream.Width, stream.Height = pikepdf.Name.XObject, pikepdf.Name.Image, *img.size
        stream.ColorSpace, stream.BitsPerComponent, stream.Filter = pikepdf.Name.DeviceGray, bits, pikepdf.Name.FlateDecode
        page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, 288, 384],
                                  Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=pdf.make_indirect(stream))),
                                  Contents=pdf.make_stream(b"q 288 0 0 384 0 0 cm /Im0 Do Q"))
        pdf.pages.append(pikepdf.Page(page))
    path = tmp_path / "two.pdf"
    pdf.save(path)
    before = path.stat().st_size
    assert keep_bilevel_small(path)[0] == 1
    assert path.stat().st_size < before
    with pikepdf.open(path) as p:
        (im1,) = p.pages[0].get_images().values()
        (im2,) = p.pages[1].get_images().values()
        assert str(im1.Filter) == "/CCITTFaxDecode" and str(im2.Filter) == "/FlateDecode"
        assert pikepdf.PdfImage(im1).as_pil_image().convert("L").tobytes() == mono.convert("L").tobytes()
    # and an independent renderer (poppler) sees the same page
    import subprocess

    subprocess.run(["pdftoppm", "-r", "72", "-gray", "-f", "1", "-l", "1", str(path), str(tmp_path / "r")], check=True)
    rendered = Image.open(next(tmp_path.glob("r*.pgm")))
    assert rendered.getpixel((int(400 * 288 / 1200), int(200 * 384 / 1600))) < 64  # inside the black box
    assert rendered.getpixel((int(1000 * 288 / 1200), int(1400 * 384 / 1600))) > 192  # white paper
    assert keep_bilevel_small(path) == (0, 0)  # once is enough
