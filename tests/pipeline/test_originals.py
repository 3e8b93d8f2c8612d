"""A born-digital or signed PDF is kept byte for byte beside its copy, encrypted like everything
else and on the disc too (issue 8: a PDF with a text layer was archived re-saved page by page, and
a signed PDF's signature was broken). Text-layer PDFs: no Tesseract, so the test is quick."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

REF_A, REF_B = "PPS-2024-0501", "PPS-2024-0502"


def _sign(pdf: Path) -> None:
    """Give the PDF a signature field as a signing tool leaves it (a /Sig value and SigFlags 3)."""
    import pikepdf

    with pikepdf.open(pdf, allow_overwriting_input=True) as doc:
        sig = doc.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Sig, Filter=pikepdf.Name("/Adobe.PPKLite"),
                                                   SubFilter=pikepdf.Name("/adbe.pkcs7.detached"),
                                                   ByteRange=[0, 0, 0, 0], Contents=pikepdf.String(b"\0" * 64)))
        field = doc.make_indirect(pikepdf.Dictionary(FT=pikepdf.Name.Sig, T=pikepdf.String("Signature1"), V=sig,
                                                     Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget,
                                                     Rect=[0, 0, 0, 0], P=doc.pages[0].obj))
        doc.Root.AcroForm = pikepdf.Dictionary(Fields=[field], SigFlags=3)
        doc.pages[0].obj.Annots = doc.make_indirect(pikepdf.Array([field]))
        doc.save(pdf)


@pytest.fixture
def home(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", REF_A, "--consent-to-store", "--as-of", "2024-01-10")
    run("case", "open", REF_B, "--consent-to-store", "--as-of", "2024-01-10")
    return tmp_path


def _originals() -> dict[int, str | None]:
    from sqlalchemy import select

    from pipeline.models import Document
    from pipeline.workspace import Workspace

    ws = Workspace.load()
    try:
        with ws.reader() as s:
            return {d.id: d.original_item for d in s.scalars(select(Document))}
    finally:
        ws.close()


def test_a_signed_pdf_is_kept_byte_for_byte_and_goes_on_the_disc(home: Path) -> None:
    pdf = ScanFactory(seed=31).batch(home / "in", "letter.pdf", [
        Cover(REF_A, "retain", "PPS-LETTER"), Doc("pps-letter", REF_A, pages=2)], container="pdf-text", dpi=150).files[0]
    # a born-digital letter has no cover sheet: drop it, then sign what is left
    import pikepdf

    with pikepdf.open(pdf, allow_overwriting_input=True) as doc:
        del doc.pages[0]
        doc.save(pdf)
    _sign(pdf)
    came = pdf.read_bytes()
    run("ingest", str(pdf), "--keep")
    (doc,) = run("documents", "--json").json()
    assert (doc["decision"], doc["case_ref"]) == ("retain", REF_A), doc
    assert _originals()[doc["id"]] is not None
    built = run("media", "build", "--out", str(home / "discs"), "--json").json()
    assert built[0]["items"] == 1
    image = Path(built[0]["path"])
    r = run("media", "verify", "--full", str(image), "--json",  # an image file unlocks no shredding: a warning
          expect=ExitCode.NOT_READ_FROM_DISC).json()[0]
    assert (r["ok"], r["decrypted"], r["checked"]) == (True, 2, 2)  # the copy and the original, both checked
    run("restore", "--media", str(image), "--document", str(doc["id"]), "-o", str(home / "orig.pdf"), "--original")
    assert hashlib.sha256((home / "orig.pdf").read_bytes()).hexdigest() == hashlib.sha256(came).hexdigest()
    run("restore", "--media", str(image), "--document", str(doc["id"]), "-o", str(home / "copy.pdf"))
    with pikepdf.open(home / "copy.pdf") as copy:
        assert len(copy.pages) == 2


def test_a_born_digital_pdf_of_several_documents_keeps_no_shared_original(home: Path) -> None:
    """Its bytes hold both cases' pages: kept under one case's key they would outlive the other's disposal."""
    pdf = ScanFactory(seed=32).batch(home / "in", "two.pdf", [
        Cover(REF_A, "retain", "PPS-LETTER"), Doc("pps-letter", REF_A),
        Cover(REF_B, "retain", "PPS-LETTER"), Doc("pps-letter", REF_B)], container="pdf-text", dpi=150).files[0]
    run("ingest", str(pdf))
    docs = run("documents", "--json").json()
    assert sorted(d["case_ref"] for d in docs) == [REF_A, REF_B]
    assert set(_originals().values()) == {None}


def test_an_image_scan_keeps_no_original(home: Path) -> None:
    """A scan without a text layer or signature is OCR'd to PDF/A: that copy is all that is kept."""
    pdf = ScanFactory(seed=34).batch(home / "in", "scan.pdf", [
        Cover(REF_A, "shred", "SCHOOL-LETTER"), Doc("school-letter", REF_A)], container="pdf", dpi=150).files[0]
    run("ingest", str(pdf))
    assert set(_originals().values()) == {None}


def test_a_signature_field_is_recognised(home: Path) -> None:
    from pipeline.process import is_signed

    pdf = ScanFactory(seed=33).batch(home / "in", "scan.pdf", [
        Cover(REF_A, "retain", "PPS-LETTER"), Doc("pps-letter", REF_A)], container="pdf-text", dpi=150).files[0]
    assert not is_signed(pdf)
    _sign(pdf)
    assert is_signed(pdf)


def test_splitting_a_born_digital_review_item_drops_its_shared_original(home: Path) -> None:
    ref = "PPS-2024-0503"
    run("case", "open", ref)  # no consent yet: its documents wait in review
    pdf = ScanFactory(seed=35).batch(home / "in", "letters.pdf", [Doc("pps-letter", ref, pages=2)], container="pdf-text",
                                     dpi=150).files[0]
    _sign(pdf)
    run("ingest", str(pdf))
    (item,) = run("review", "list", "--json").json()
    assert _originals()[item["id"]] is not None
    run("review", "split", str(item["id"]), "--pages", "1,2")
    assert set(_originals().values()) == {None}
