"""Fixtures for the vault and archive-media tests: fast keys, small real PDFs, a built disc.

The PDFs are written uncompressed, so their words are plainly in their bytes: a test can then show
that those words are *not* in the vault or on the disc. Invented names only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from archive_media import keys

ARCHIVE_ID = "test-archive-7f3a"
OTHER_ARCHIVE_ID = "other-archive-0c11"
PASSPHRASE = b"correct horse battery staple"
CASE_A = "PPS-2024-0137"
CASE_B = "PPS-2023-0042"

#: words that appear in the documents and must never appear in a vault blob or a disc image
SECRET_WORDS = ("Featherstonehaugh", "Quillibrand", "Marchbanks", "dyspraxia", "Thistlewood")


def fast_kdf() -> keys.KdfParams:
    return keys.KdfParams.generate(log2_n=keys.TEST_LOG2_N)


def make_pdf(path: Path, lines: list[str], pad_to: int | None = None) -> bytes:
    """A one-page PDF with ``lines`` as real text (uncompressed); optionally padded to a size."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4, pageCompression=0, invariant=1)
    y = 800
    for line in lines:
        c.drawString(72, y, line)
        y -= 18
    c.showPage()
    c.save()
    data = path.read_bytes()
    if pad_to is not None:
        assert len(data) <= pad_to
        data += b"%" + b" " * (pad_to - len(data) - 2) + b"\n"  # a PDF comment after %%EOF
        path.write_bytes(data)
    return data


@pytest.fixture
def master_key() -> bytes:
    mk, _wrapped = keys.create_master_key(PASSPHRASE, ARCHIVE_ID, fast_kdf())
    return mk


@pytest.fixture
def signing(master_key: bytes) -> tuple[bytes, bytes]:
    """(private key, public key) of the archive's disc-index signing key."""
    sk = keys.new_signing_key(master_key, ARCHIVE_ID)
    return keys.unwrap_signing_key(master_key, ARCHIVE_ID, sk.wrapped), sk.public_key


@dataclass
class Doc:
    case_ref: str
    path: Path
    data: bytes
    item_id: str = ""
    plaintext_sha256: str = ""
    ciphertext_sha256: str = ""


@dataclass
class Disc:
    """A built test disc and everything the database would know about it."""

    image: Path
    built: object
    docs: list[Doc]
    case_keys: dict[str, keys.CaseKey]
    public_key: bytes
    private_key: bytes
    vault: object
    expected: dict[str, str] = field(default_factory=dict)  # item id -> plaintext sha256

    @property
    def identities(self) -> dict[str, str]:
        return {ref: k.identity for ref, k in self.case_keys.items()}


def make_docs(folder: Path, pad_to: int = 4096) -> list[Doc]:
    folder.mkdir(mode=0o700, exist_ok=True)
    texts = [
        (CASE_A, ["Letter to Mrs Rosalind Featherstonehaugh", "about Quillibrand Primary", "re: dyspraxia assessment"]),
        (CASE_A, ["Note of meeting with Mr Ambrose Marchbanks", "school: Quillibrand Primary"]),
        (CASE_B, ["EHCP draft for Tobias Thistlewood", "Parent: Ms Imelda Thistlewood"]),
        (CASE_B, ["Consent form signed by Ms Imelda Thistlewood"]),
    ]
    docs = []
    for n, (ref, lines) in enumerate(texts, start=1):
        path = folder / f"doc{n}.pdf"
        docs.append(Doc(ref, path, make_pdf(path, lines, pad_to=pad_to)))
    return docs


def build_disc(
    tmp_path: Path, master_key: bytes, signing: tuple[bytes, bytes], pad_to: int = 4096, **options: object
) -> Disc:
    from archive_media.iso import DiscContent, DiscItem, build_image
    from archive_media.vault import Vault

    vault = Vault(tmp_path / "vault")
    case_keys = {CASE_A: keys.new_case_key(), CASE_B: keys.new_case_key()}
    docs = make_docs(tmp_path / "work", pad_to)
    for doc in docs:
        item = vault.put(doc.path, case_keys[doc.case_ref].recipient)
        doc.item_id, doc.plaintext_sha256, doc.ciphertext_sha256 = (
            item.item_id, item.plaintext_sha256, item.ciphertext_sha256,
        )
    content = DiscContent(
        label="PPS-2031-001",
        archive_id=ARCHIVE_ID,
        service_name="Test Parent Partnership Service",
        audit_head=hashlib.sha256(b"audit").hexdigest(),
        items=tuple(
            DiscItem(d.item_id, vault.path_of(d.item_id), d.case_ref, "2031-05-01", d.ciphertext_sha256) for d in docs
        ),
        created="2025-06-30",
    )
    image = tmp_path / "out" / "PPS-2031-001.iso"
    image.parent.mkdir()
    built = build_image(content, image, signing[0], **options)
    return Disc(
        image=image, built=built, docs=docs, case_keys=case_keys, public_key=signing[1], private_key=signing[0],
        vault=vault, expected={d.item_id: d.plaintext_sha256 for d in docs},
    )


@pytest.fixture
def disc(tmp_path: Path, master_key: bytes, signing: tuple[bytes, bytes]) -> Disc:
    return build_disc(tmp_path, master_key, signing)


def file_offset(image: Path, name: str) -> int:
    """Byte offset of a file's data in an image (via pycdlib), for damaging it on purpose."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(str(image))
    try:
        return iso.get_record(iso_path=f"/{name};1").extent_location() * 2048
    finally:
        iso.close()


def patch_bytes(image: Path, offset: int, data: bytes) -> None:
    with open(image, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def flip_byte(image: Path, offset: int) -> None:
    with open(image, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0x5A]))
