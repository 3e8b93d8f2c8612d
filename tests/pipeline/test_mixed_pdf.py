"""A PDF where only some pages carry text is OCR'd whole (not filed with unreadable pages)."""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pytest

from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

REF = "PPS-2024-0201"


@pytest.mark.slow
def test_mixed_text_and_image_pages_are_all_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", REF, "--consent-to-store")
    f = ScanFactory(seed=9)
    text = f.batch(tmp_path / "t", "t.pdf", [Cover(REF, "retain", "PPS-LETTER"), Doc("pps-letter", REF)], container="pdf-text", dpi=200)
    image = f.batch(tmp_path / "i", "i.pdf", [Doc("pps-letter", REF, ref_in_text=True)], container="pdf", dpi=200)
    mixed = pikepdf.new()
    for part in (text.files[0], image.files[0]):
        with pikepdf.open(part) as src:
            mixed.pages.extend(src.pages)
    mixed.save(tmp_path / "mixed.pdf")
    out = run("ingest", str(tmp_path / "mixed.pdf"), "--json").json()["inputs"][0]
    assert out["outcome"] == "done"
    [doc] = run("documents", "--json").json()
    assert doc["pages"] == 2 and doc["decision"] == "retain" and doc["case_ref"] == REF
    # the kept PDF has text on its image-only page too: it was OCR'd
    import subprocess

    from archive_media.vault import Vault
    from pipeline import keystore
    from pipeline.models import Document
    from pipeline.workspace import Workspace

    ws = Workspace.load()
    with ws.transaction() as s:
        d = s.get(Document, doc["id"])
        ident = keystore.case_identity(s, keystore.unlock(s, PASSPHRASE.encode()), REF)
        Vault(ws.path("vault")).decrypt_to(d.vault_item, ident, tmp_path / "kept.pdf", d.plaintext_sha256)
    ws.close()
    page2 = subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(tmp_path / "kept.pdf"), "-"], capture_output=True, text=True).stdout
    assert "Parent Partnership Service" in page2
