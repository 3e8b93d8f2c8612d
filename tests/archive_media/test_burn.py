"""archive_media.burn on xorriso's pseudo-drives: probe, write, read back, repair with dvdisaster."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from archive_media import burn
from pps_archive.errors import BurnFailed, DiscNotBlank, DiscTooSmall, IntegrityError, NoDrive
from tests.archive_media.conftest import build_disc, file_offset
from tests.disc_drives import blank_drive, flip_byte_on  # noqa: F401 - fixture

pytestmark = pytest.mark.skipif(shutil.which("xorriso") is None, reason="xorriso is not installed")


def test_an_image_burnt_to_a_block_device_reads_back_identical(tmp_path: Path, master_key, signing, blank_drive) -> None:  # noqa: F811
    disc = build_disc(tmp_path, master_key, signing)
    dev = blank_drive(4096)
    state = burn.probe(dev)
    assert (state.kind, state.blank, state.is_drive, state.address) == ("block", True, True, f"stdio:{dev}")
    assert state.writable_sectors == 4096
    burn.check_writable(state, disc.built.size, "PPS-2031-001")
    burn.write(disc.image, state, "PPS-2031-001")
    assert burn.read_back_sha256(dev, disc.built.size) == (disc.built.sha256, disc.built.size)
    again = burn.probe(dev)
    assert not again.blank
    with pytest.raises(DiscNotBlank, match=str(dev)):
        burn.check_writable(again, disc.built.size, "PPS-2031-001")


def test_a_regular_file_is_a_pseudo_drive_not_a_drive(tmp_path: Path) -> None:
    target = tmp_path / "pseudo.img"
    target.write_bytes(b"")
    state = burn.probe(target)
    assert (state.kind, state.is_drive, state.blank) == ("file", False, True)


def test_no_drive_small_disc_and_failed_write_are_named_errors(tmp_path: Path, master_key, signing, blank_drive) -> None:  # noqa: F811
    disc = build_disc(tmp_path, master_key, signing)
    with pytest.raises(NoDrive, match="/dev/sr9.*no such device"):
        burn.probe(Path("/dev/sr9"))
    with pytest.raises(NoDrive, match="neither an optical drive"):
        burn.probe(tmp_path)
    small = burn.probe(blank_drive(24))
    with pytest.raises(DiscTooSmall, match=f"needs {burn.sectors(disc.built.size) + burn.PAD_SECTORS} sectors.*has only \\d+ free"):
        burn.check_writable(small, disc.built.size, "PPS-2031-001")
    locked = burn.probe(blank_drive(4096, read_only=True))
    with pytest.raises(BurnFailed, match="writing disc PPS-2031-001 to /dev/loop.*failed: xorriso exited"):
        burn.write(disc.image, locked, "PPS-2031-001")


@pytest.mark.skipif(shutil.which("dvdisaster") is None, reason="dvdisaster is not installed")
def test_a_degraded_disc_is_repaired_from_its_error_correction_data(tmp_path: Path, master_key, signing, blank_drive) -> None:  # noqa: F811
    disc = build_disc(tmp_path, master_key, signing, pad_to=200_000, ecc="yes", ecc_medium=700)
    assert disc.built.ecc
    dev = blank_drive(1024)
    burn.write(disc.image, burn.probe(dev), "PPS-2031-001")
    flip_byte_on(dev, file_offset(disc.image, "ITEMS/00000002.AGE") + 100)
    assert burn.read_back_sha256(dev, disc.built.size)[0] != disc.built.sha256  # the disc is degraded
    got = burn.recover_image(dev, disc.built.size, tmp_path / "recovered.iso", disc.built.sha256, ecc=True)
    assert (got.repaired, got.sha256) == (True, disc.built.sha256)
    assert (tmp_path / "recovered.iso").read_bytes() == disc.image.read_bytes()


def test_a_degraded_disc_without_error_correction_cannot_be_repaired(tmp_path: Path, master_key, signing, blank_drive) -> None:  # noqa: F811
    disc = build_disc(tmp_path, master_key, signing)
    assert not disc.built.ecc
    dev = blank_drive(4096)
    burn.write(disc.image, burn.probe(dev), "PPS-2031-001")
    flip_byte_on(dev, file_offset(disc.image, "ITEMS/00000001.AGE") + 10)
    out = tmp_path / "recovered.iso"
    with pytest.raises(IntegrityError, match="no error-correction data.*replacement disc from the vault"):
        burn.recover_image(dev, disc.built.size, out, disc.built.sha256, ecc=False)
    assert not out.exists()


def test_a_disc_xorriso_finds_too_small_is_too_small_not_a_failed_write(tmp_path, master_key, signing, blank_drive) -> None:  # noqa: F811
    """-toc counts every sector free; the cdrecord run wants a few more than the image and its
    padding: xorriso refuses before writing, and that is a disc too small, not a spoilt one."""
    disc = build_disc(tmp_path, master_key, signing)
    exact = burn.sectors(disc.built.size) + burn.PAD_SECTORS
    state = burn.probe(blank_drive(exact))
    burn.check_writable(state, disc.built.size, "PPS-2031-001")  # by -toc's count it fits
    with pytest.raises(DiscTooSmall, match="needs .* sectors"):
        burn.write(disc.image, state, "PPS-2031-001")
