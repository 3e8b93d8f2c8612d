"""Building a disc image and reading it back with three independent readers."""

from __future__ import annotations

import errno
import hashlib
import json
import re
import shutil
import stat
from pathlib import Path

import pytest

from archive_media import iso, keys
from pps_archive.errors import DiskFull, InvalidValue
from pps_archive.exec import run
from tests.archive_media.conftest import CASE_A, SECRET_WORDS, Disc, build_disc

METADATA = {"README.TXT", "MANIFEST.TXT", "INDEX.JSN", "INDEX.SIG", "PUBKEY.TXT", "AUDIT.TXT"}


def _expected_files(disc: Disc) -> set[str]:
    return METADATA | {f"ITEMS/{n:08d}.AGE" for n in range(1, len(disc.docs) + 1)}


def _tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _check_extraction(folder: Path, disc: Disc) -> None:
    assert _tree(folder) == _expected_files(disc)
    proc = run(["sha256sum", "-c", "--strict", "MANIFEST.TXT"], cwd=folder)
    assert proc.stdout.decode().count(": OK") == len(_expected_files(disc)) - 1
    if shutil.which("openssl"):  # an independent check of the index signature, as the README shows
        run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "PUBKEY.TXT", "-rawin", "-in", "INDEX.JSN",
             "-sigfile", "INDEX.SIG"], cwd=folder)  # fmt: skip


@pytest.fixture(params=[False, True], ids=["iso9660+joliet+rr", "with-udf"])
def any_disc(request: pytest.FixtureRequest, tmp_path: Path, master_key: bytes, signing: tuple[bytes, bytes]) -> Disc:
    return build_disc(tmp_path, master_key, signing, udf=request.param)


def test_osirrox_extracts_every_file_and_the_manifest_checks(any_disc: Disc, tmp_path: Path) -> None:
    out = tmp_path / "osirrox"
    run(["osirrox", "-indev", any_disc.image, "-extract", "/", out])
    _check_extraction(out, any_disc)


def test_isoinfo_reads_the_same_names_in_every_tree(any_disc: Disc, tmp_path: Path) -> None:
    listings = {}
    for flag in ("", "-J", "-R"):
        text = run(["isoinfo", *([flag] if flag else []), "-f", "-i", any_disc.image]).stdout.decode()
        listings[flag] = {line.strip("/").split(";")[0] for line in text.splitlines() if line.strip()} - {"ITEMS"}
    assert listings[""] == listings["-J"] == listings["-R"] == _expected_files(any_disc)
    out = tmp_path / "isoinfo"
    for name in sorted(_expected_files(any_disc)):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(run(["isoinfo", "-J", "-x", f"/{name}", "-i", any_disc.image]).stdout)
    _check_extraction(out, any_disc)


def test_7z_extracts_every_file(any_disc: Disc, tmp_path: Path) -> None:
    out = tmp_path / "7z"
    run(["7z", "x", f"-o{out}", any_disc.image])
    _check_extraction(out, any_disc)


def test_pycdlib_reads_every_file_with_the_manifest_hash(any_disc: Disc) -> None:
    import io

    import pycdlib

    image = pycdlib.PyCdlib()
    image.open(str(any_disc.image))
    try:
        contents = {}
        for name in _expected_files(any_disc):
            buf = io.BytesIO()
            image.get_file_from_iso_fp(buf, joliet_path=f"/{name}")
            contents[name] = buf.getvalue()
            buf = io.BytesIO()
            image.get_file_from_iso_fp(buf, rr_path=f"/{name}")
            assert buf.getvalue() == contents[name]
    finally:
        image.close()
    manifest = dict(reversed(line.split("  ")) for line in contents["MANIFEST.TXT"].decode().splitlines())
    assert set(manifest) == _expected_files(any_disc) - {"MANIFEST.TXT"}
    for name, digest in manifest.items():
        assert hashlib.sha256(contents[name]).hexdigest() == digest, name


def test_debian_age_decrypts_an_item_from_the_disc_with_the_exported_key(disc: Disc, tmp_path: Path) -> None:
    out = tmp_path / "mounted"
    run(["osirrox", "-indev", disc.image, "-extract", "/", out])
    index = json.loads((out / "INDEX.JSN").read_text())
    key_file = tmp_path / "case.key"
    key_file.write_text(keys.export_case_identity(disc.case_keys[CASE_A].identity, CASE_A))
    for doc, entry in zip(disc.docs, index["items"], strict=True):
        assert entry["item"] == doc.item_id and entry["case"] == doc.case_ref
        if doc.case_ref != CASE_A:
            continue
        run(["age", "-d", "-i", key_file, "-o", tmp_path / "doc.pdf", out / entry["file"]])
        assert (tmp_path / "doc.pdf").read_bytes() == doc.data
        (tmp_path / "doc.pdf").unlink()


def test_the_image_holds_no_document_text_no_name_and_no_key(any_disc: Disc) -> None:
    raw = any_disc.image.read_bytes()
    for doc in any_disc.docs:
        assert b"Featherstonehaugh" in doc.data or b"Thistlewood" in doc.data or b"Marchbanks" in doc.data
    for word in (*SECRET_WORDS, "Rosalind", "Imelda", "Tobias", "Ambrose"):
        for encoding in ("ascii", "utf-16-be", "utf-16-le"):
            assert word.encode(encoding) not in raw, (word, encoding)
            assert word.lower().encode(encoding) not in raw and word.upper().encode(encoding) not in raw
    for case_key in any_disc.case_keys.values():
        assert case_key.identity.encode() not in raw and case_key.recipient.encode() not in raw
    assert any_disc.private_key not in raw


def test_readme_says_how_to_decrypt_with_age(disc: Disc) -> None:
    with iso.read_disc(disc.image) as reader:
        readme = reader.read_small("README.TXT").decode("ascii")
        index = reader.index
    assert "age -d -i case.key -o document.pdf ITEMS/00000001.AGE" in readme
    assert "pps-archive keys export-case" in readme and "sha256sum -c MANIFEST.TXT" in readme
    assert keys.key_fingerprint(disc.public_key) in readme
    assert max(len(line) for line in readme.splitlines()) <= 80
    assert index.label == "PPS-2031-001" and index.service_name == "Test Parent Partnership Service"
    assert [e.item_id for e in index.entries] == [d.item_id for d in disc.docs]
    assert str(index.entries[0].dispose_after) == "2031-05-01"


def test_built_image_record(disc: Disc) -> None:
    built = disc.built
    assert built.path == disc.image and built.items == len(disc.docs) and built.files == len(disc.docs) + 6
    assert built.size == disc.image.stat().st_size and built.size % 2048 == 0
    assert built.sha256 == hashlib.sha256(disc.image.read_bytes()).hexdigest()
    assert stat.S_IMODE(disc.image.stat().st_mode) == 0o600
    assert [p.name for p in disc.image.parent.iterdir()] == [disc.image.name]


def test_disk_full_while_writing_leaves_no_image(
    tmp_path: Path, master_key: bytes, signing: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC half-way through pycdlib's write: DiskFull, and no file that looks like an image."""
    import pycdlib

    real_write_fp = pycdlib.PyCdlib.write_fp

    def write_then_fail(self: pycdlib.PyCdlib, outfp, *args: object, **kwargs: object) -> None:  # noqa: ANN001
        real_write_fp(self, outfp, *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pycdlib.PyCdlib, "write_fp", write_then_fail)
    with pytest.raises(DiskFull):
        build_disc(tmp_path, master_key, signing)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("label", ["pps 2031", "a" * 33, "PPS/2031", ""])
def test_bad_labels_are_refused(disc: Disc, tmp_path: Path, label: str) -> None:
    from archive_media.iso import DiscContent, DiscItem

    item = DiscItem(disc.docs[0].item_id, disc.vault.path_of(disc.docs[0].item_id), CASE_A, "2031-05-01",
                    disc.docs[0].ciphertext_sha256)  # fmt: skip
    with pytest.raises(InvalidValue):
        iso.build_image(DiscContent(label, "a", "s", "00", (item,)), tmp_path / "x.iso", disc.private_key)


def test_bagit_layout_is_not_compatible_with_one_8_3_spelling() -> None:
    """Documented decision: BagIt needs lower-case 'bagit.txt', 'data/', 'manifest-sha256.txt'."""
    from archive_media._disc_layout import NAME_83

    assert not any(NAME_83.fullmatch(name) for name in ("bagit.txt", "manifest-sha256.txt", "data"))


@pytest.mark.slow
def test_dvdisaster_error_correction_repairs_a_damaged_image(tmp_path: Path, master_key: bytes, signing: tuple[bytes, bytes]) -> None:
    if shutil.which("dvdisaster") is None:
        pytest.skip("dvdisaster is not installed")
    from tests.archive_media.conftest import file_offset, flip_byte

    tiny = build_disc(tmp_path / "tiny", master_key, signing, ecc="yes")
    assert not tiny.built.ecc  # dvdisaster cannot augment an image this small; it says so
    disc = build_disc(tmp_path, master_key, signing, pad_to=200_000, ecc="yes")
    assert disc.built.ecc and disc.built.size > 2 * 4 * 200_000
    iso.verify_quick(disc.image, public_key=disc.public_key, image_sha256=disc.built.sha256)
    flip_byte(disc.image, file_offset(disc.image, "ITEMS/00000002.AGE") + 100)
    with pytest.raises(Exception, match="MANIFEST"):
        iso.verify_quick(disc.image, public_key=disc.public_key)
    proc = run(["dvdisaster", "-f", "-i", disc.image])
    assert re.search(rb"repaired", proc.stdout + proc.stderr)
    iso.verify_quick(disc.image, public_key=disc.public_key, image_sha256=disc.built.sha256)


@pytest.mark.parametrize("udf", [False, True], ids=["no-udf", "udf"])
def test_size_estimate_is_a_tight_upper_bound(tmp_path: Path, signing: tuple[bytes, bytes], udf: bool) -> None:
    """For the planner: 600 small blobs of random sizes, and the fixture's four."""
    import random

    from archive_media.iso import DiscContent, DiscItem, estimate_size

    rng = random.Random(7)
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    items = []
    for n in range(600):
        path = blobs / f"{n}.age"
        path.write_bytes(b"\0" * rng.randrange(1, 20_000))
        items.append(DiscItem(f"{n:032x}", path, "PPS-2024-0001", "2031-01-01", "0" * 64))
    content = DiscContent("PPS-2031-009", "archive", "Service", "00" * 32, tuple(items))
    built = iso.build_image(content, tmp_path / "big.iso", signing[0], udf=udf)
    estimate = estimate_size([p.blob_path.stat().st_size for p in items], udf=udf)
    assert built.size <= estimate <= built.size * 1.05 + (2 << 20), (built.size, estimate)


@pytest.mark.parametrize("udf", [False, True], ids=["no-udf", "udf"])
@pytest.mark.parametrize("count", [1, 7, 300])
def test_image_size_is_the_built_image_size_exactly(tmp_path: Path, signing: tuple[bytes, bytes], udf: bool, count: int) -> None:
    """Issue 13: the planner's size is the image's, to the byte (blobs never read: only their sizes)."""
    import random

    from archive_media.iso import DiscContent, DiscItem, image_size

    rng = random.Random(count)
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    items, sizes = [], []
    for n in range(count):
        size = rng.choice([1, 2047, 2048, 2049, rng.randrange(1, 300_000)])
        path = blobs / f"{n}.age"
        path.write_bytes(b"\1" * size)
        sizes.append(size)
        items.append(DiscItem(f"{n:032x}", path, f"PPS-2024-{n % 97:04d}", "2031-01-01", f"{n:064x}"))
    content = DiscContent("PPS-2031-010", "test-archive-7f3a", "A Service", "ab" * 32, tuple(items), created="2026-12-01")
    expected = image_size(content, sizes, signing[1], udf=udf)
    built = iso.build_image(content, tmp_path / "exact.iso", signing[0], udf=udf)
    assert built.size == expected == (tmp_path / "exact.iso").stat().st_size
