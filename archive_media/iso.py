"""Build a CD image of vault items: ISO 9660 + Joliet + Rock Ridge (+ UDF on request), one spelling.

``build_image`` streams every blob from disk into the image (pycdlib opens each file only while it
copies it), writes the image under a temporary name in the target folder, fsyncs and renames it, so
a failure (disk full) leaves nothing that looks like a finished image. Disc layout: see
``_disc_layout`` and docs/formats.md. Reading and verifying: :mod:`archive_media.disc_reader`,
:mod:`archive_media.disc_verify` (re-exported here).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from archive_media import _disc_layout as layout
from archive_media._disc_layout import DiscContent, DiscItem
from archive_media._readme import readme_text
from archive_media.disc_reader import DiscIndex, DiscReader, IndexEntry, read_disc
from archive_media.disc_verify import FullReport, QuickReport, verify_full, verify_quick
from archive_media.keys import key_fingerprint, public_key_of, public_key_pem, sign
from pps_archive.atomic import fsync_dir
from pps_archive.errors import DiskFull, IntegrityError, MissingDependency

__all__ = [
    "BuiltImage",
    "DiscContent",
    "DiscIndex",
    "DiscItem",
    "DiscReader",
    "FullReport",
    "IndexEntry",
    "QuickReport",
    "build_image",
    "estimate_size",
    "estimate_totals",
    "image_size",
    "read_disc",
    "verify_full",
    "verify_quick",
]

SECTOR = 2048
#: dvdisaster 0.79 fails on images under about 150 sectors; a real disc is hundreds of MB
MIN_ECC_SECTORS = 256
_FILE_MODE = 0o100444
_DIR_MODE = 0o040555


@dataclass(frozen=True)
class BuiltImage:
    """A finished image; the caller registers label, sha256 and the item list in the database."""

    path: Path
    label: str
    size: int
    sha256: str
    items: int
    files: int
    ecc: bool  # dvdisaster RS02 error-correction data appended to the image


@contextlib.contextmanager
def _staged(final: Path, mode: int) -> Iterator[Path]:
    """A temp path beside ``final``; on success fsync + rename, on any failure nothing is left."""
    fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=".iso.part", dir=final.parent)
    os.fchmod(fd, mode)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        tmp.replace(final)
        fsync_dir(final.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise DiskFull(path=str(final)) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _Tree:
    """Adds each file under the same upper-case 8.3 name to every tree of a new pycdlib image."""

    def __init__(self, label: str, udf: bool) -> None:
        import pycdlib

        self.udf = udf
        self.iso = pycdlib.PyCdlib()
        self.iso.new(
            interchange_level=1,
            sys_ident="LINUX",
            vol_ident=layout.volume_id(label),
            app_ident_str="PPS-ARCHIVE",
            joliet=3,
            rock_ridge="1.09",
            udf="2.60" if udf else None,
        )
        self._buffers: list[io.BytesIO] = []
        self.count = 0

    def _names(self, name: str, directory: bool = False) -> dict[str, object]:
        for part in name.split("/"):
            if not layout.NAME_83.fullmatch(part):
                raise ValueError(f"{name} is not an upper-case 8.3 name")
        names: dict[str, object] = {
            "iso_path": f"/{name}" if directory else f"/{name};1",
            "rr_name": name.split("/")[-1],
            "joliet_path": f"/{name}",
            "file_mode": _DIR_MODE if directory else _FILE_MODE,
        }
        if self.udf:
            names["udf_path"] = f"/{name}"
        return names

    def directory(self, name: str) -> None:
        self.iso.add_directory(**self._names(name, directory=True))

    def data(self, name: str, data: bytes) -> None:
        buffer = io.BytesIO(data)
        self._buffers.append(buffer)  # pycdlib reads it at write time
        self.iso.add_fp(buffer, len(data), **self._names(name))
        self.count += 1

    def placeholder(self, name: str, size: int) -> None:
        """A file of ``size`` bytes that is laid out but never written (for :func:`image_size`)."""
        self.iso.add_fp(io.BytesIO(b""), size, **self._names(name))
        self.count += 1

    def file(self, name: str, path: Path) -> None:
        self.iso.add_file(str(path), **self._names(name))
        self.count += 1


def estimate_size(blob_sizes: list[int], *, udf: bool = False) -> int:
    """A safe upper bound of the image size for blobs of these sizes (for the disc planner).

    Each file takes whole 2,048-byte sectors; on top come the volume descriptors, the directory
    records of each name tree, and the index and manifest lines (about 350 bytes an item). Measured
    overhead: about 90 KiB + 200 bytes an item without UDF; 600 KiB + 2.3 KiB an item with it.
    dvdisaster's error-correction data is not included: plan with a capacity that leaves room for it.
    """
    return estimate_totals(sum(-(-size // SECTOR) * SECTOR for size in blob_sizes), len(blob_sizes), udf=udf)


def estimate_totals(sector_bytes: int, files: int, *, udf: bool = False) -> int:
    """:func:`estimate_size` from its two sums: the blobs' sizes each rounded up to whole sectors,
    and their number (so a planner can add items to a disc without summing it again)."""
    per_item, fixed = (4096, 1536 * 1024) if udf else (1024, 256 * 1024)
    overhead = fixed + per_item * files
    return sector_bytes + -(-overhead // SECTOR) * SECTOR


def _blob_sizes(items: tuple[DiscItem, ...]) -> list[int]:
    sizes = []
    for item in items:
        try:
            sizes.append(Path(item.blob_path).stat().st_size)
        except FileNotFoundError:
            what = f"vault item {item.item_id}"
            raise IntegrityError(what=what, problem="its blob is missing from the vault") from None
    return sizes


def _want_ecc(ecc: str) -> bool:
    if ecc not in ("auto", "yes", "no"):
        raise ValueError("ecc is 'auto', 'yes' or 'no'")
    if ecc == "no":
        return False
    from pps_archive.exec import require

    try:
        require("dvdisaster")
    except MissingDependency:
        if ecc == "yes":
            raise
        return False
    return True


def build_image(
    content: DiscContent,
    out: Path,
    signing_key: bytes,
    *,
    udf: bool = False,
    ecc: str = "no",
    ecc_medium: str | int = "CD",
    mode: int = 0o600,
) -> BuiltImage:
    """Write the disc image for ``content`` to ``out`` atomically, its index signed by ``signing_key``.

    ``ecc``: ``"yes"`` appends dvdisaster RS02 error-correction data (``MissingDependency`` if
    dvdisaster is absent), ``"auto"`` does so when it is installed, ``"no"`` never. Images under
    512 KiB get none (dvdisaster cannot augment them); ``BuiltImage.ecc`` says what was done.
    RS02 fills the image up to ``ecc_medium``: dvdisaster's "CD" (about 357,500 sectors, an 80-minute
    CD-R) or a number of 2,048-byte sectors (333,000 for a 74-minute CD-R).
    """
    layout.validate(content)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sizes = _blob_sizes(content.items)
    small = _small_files(content, sizes, public_key_of(signing_key), signing_key)

    with_ecc = _want_ecc(ecc)
    tree = _Tree(content.label, udf)
    try:
        _fill(tree, content, small, lambda number, item, _size: tree.file(layout.item_file(number), Path(item.blob_path)), sizes)
        with _staged(out, mode) as tmp:
            with open(tmp, "r+b") as fh:
                tree.iso.write_fp(fh, blocksize=1 << 20)
            if with_ecc and tmp.stat().st_size < MIN_ECC_SECTORS * SECTOR:
                with_ecc = False  # dvdisaster cannot augment an image this small ("seek failed")
            if with_ecc:
                _add_ecc(tmp, ecc_medium)
            size = tmp.stat().st_size
            digest = _sha256_file(tmp)
    finally:
        tree.iso.close()
    return BuiltImage(out, content.label, size, digest, len(content.items), tree.count, with_ecc)


def _small_files(content: DiscContent, sizes: list[int], public: bytes, signing_key: bytes | None) -> dict[str, bytes]:
    """The disc's small files by name. Without ``signing_key`` the signature is a placeholder of
    its length (an Ed25519 signature is always 64 bytes), for :func:`image_size`."""
    readme = readme_text(content, key_fingerprint(public))
    index = layout.index_bytes(content, sizes, key_fingerprint(public), hashlib.sha256(readme).hexdigest())
    small = {
        layout.README: readme,
        layout.INDEX: index,
        layout.SIGNATURE: sign(signing_key, index) if signing_key is not None else bytes(_SIGNATURE_BYTES),
        layout.PUBKEY: public_key_pem(public).encode("ascii"),
        layout.AUDIT: layout.audit_text(content.audit_head),
    }
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in small.items()}
    for number, item in enumerate(content.items, start=1):
        hashes[layout.item_file(number)] = item.ciphertext_sha256
    small[layout.MANIFEST] = layout.manifest_text(hashes)
    return small


#: the length of an Ed25519 signature (INDEX.SIG)
_SIGNATURE_BYTES = 64


def _fill(tree: _Tree, content: DiscContent, small: dict[str, bytes], add_item, sizes: list[int]) -> None:  # noqa: ANN001
    """Every file, in the one order both the build and :func:`image_size` use."""
    for name in sorted(small):
        tree.data(name, small[name])
    tree.directory(layout.ITEMS_DIR)
    for number, (item, size) in enumerate(zip(content.items, sizes, strict=True), start=1):
        add_item(number, item, size)


def image_size(content: DiscContent, sizes: list[int], public_key: bytes, *, udf: bool = False) -> int:
    """The exact size in bytes of the image :func:`build_image` writes for ``content`` whose item
    blobs are ``sizes`` bytes long, before any error-correction data: the same files laid out by
    pycdlib in the same order (its volume descriptors, path tables, the directory records of every
    name tree, each file rounded up to whole 2,048-byte sectors), without reading a blob. The small
    files are made as the build makes them (the signature as a placeholder of its fixed length),
    so their sizes are exact too. With dvdisaster's data the image fills the medium instead."""
    layout.validate(content)
    small = _small_files(content, sizes, public_key, None)
    tree = _Tree(content.label, udf)
    try:
        _fill(tree, content, small, lambda number, _item, size: tree.placeholder(layout.item_file(number), size), sizes)
        tree.iso.get_record(iso_path=f"/{layout.README};1")  # a look-up lays the extents out (once, as writing does)
        return tree.iso.pvd.space_size * SECTOR
    finally:
        tree.iso.close()


def _add_ecc(image: Path, medium: str | int) -> None:
    """Augment the image in place with dvdisaster RS02 error-correction data, filling ``medium``."""
    from pps_archive.exec import run

    run(["dvdisaster", "-c", "-mRS02", "-n", str(medium), "-i", str(image)], timeout=3600)
