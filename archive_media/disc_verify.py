"""Verify a disc in two levels (borg ``check`` style).

- **quick**: the image hash (if the register's is given), one spelling in every name tree, every
  file in the manifest and every manifest hash right, the index signature, index against manifest,
  the audit head, and the README against the hash the signed index carries.
- **full**: quick, then decrypt every item whose case key is given and compare its plaintext
  SHA-256 with the database's record. Items of cases without a key (destroyed at disposal) are
  reported, not failed.

Each problem raises :class:`IntegrityError` naming the disc and the file; nothing else escapes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from archive_media import _disc_layout as layout
from archive_media.disc_reader import DiscReader, read_disc
from pps_archive.errors import IntegrityError

__all__ = ["FullReport", "QuickReport", "verify_full", "verify_quick"]

_ITEM_NAME = re.compile(r"ITEMS/[0-9]{8}\.AGE")


@dataclass(frozen=True)
class QuickReport:
    label: str
    archive_id: str
    files: int
    items: int
    bytes_hashed: int
    audit_head: str
    signing_key: str
    signer_trusted: bool
    readme_signed: bool = False  # README.TXT checked against the signed index (discs of index version 2)


@dataclass(frozen=True)
class FullReport:
    quick: QuickReport
    decrypted: int  # items decrypted (age authentication passed)
    checked: int  # of those, plaintext hash compared with the database's record
    without_key: tuple[str, ...]  # item ids of cases whose key was not given (destroyed)


def _sha256_stream(reader: DiscReader, name: str) -> str:
    digest = hashlib.sha256()
    with reader.open(name) as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check_image_hash(path: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != expected.lower():
        raise IntegrityError(
            what=f"image {path.name}", problem="its SHA-256 differs from the one registered when it was built"
        )


def _check_names(reader: DiscReader) -> None:
    trees = reader.source.trees()
    first_kind, first = next(iter(trees.items()))
    for kind, names in trees.items():
        if names != first:
            odd = sorted(names ^ first)[:3]
            problem = f"its {kind} and {first_kind} names differ ({odd})"
            raise IntegrityError(what=f"disc {reader.name}", problem=problem)
    for name in first:
        if name not in layout.METADATA and not _ITEM_NAME.fullmatch(name):
            raise IntegrityError(what=f"disc {reader.name}", problem=f"it holds an unexpected file {name!r}")
    for name in layout.METADATA:
        if name not in first:
            raise IntegrityError(what=f"disc {reader.name}", problem=f"{name} is missing")


def _check_manifest(reader: DiscReader) -> int:
    manifest = reader.manifest()
    on_disc = set(reader.files()) - {layout.MANIFEST}
    if on_disc != set(manifest):
        extra, missing = sorted(on_disc - set(manifest)), sorted(set(manifest) - on_disc)
        if extra:
            problem = f"{extra[0]} is not in MANIFEST.TXT"
        else:
            problem = f"{missing[0]} is listed in MANIFEST.TXT but missing"
        raise IntegrityError(what=f"disc {reader.name}", problem=problem)
    total = 0
    for name in sorted(manifest):
        if _sha256_stream(reader, name) != manifest[name]:
            raise IntegrityError(
                what=f"{name} on disc {reader.name}",
                problem="its SHA-256 differs from MANIFEST.TXT (the disc is damaged or was changed)",
            )
        total += reader.files()[name]
    return total


def _check_index(reader: DiscReader) -> None:
    index, manifest, files = reader.index, reader.manifest(), reader.files()
    listed = {e.file for e in index.entries}
    items_on_disc = {name for name in files if name.startswith(f"{layout.ITEMS_DIR}/")}
    if listed != items_on_disc:
        odd = sorted(listed ^ items_on_disc)[0]
        problem = f"it and the ITEMS folder disagree about {odd}"
        raise IntegrityError(what=f"the index of disc {reader.name}", problem=problem)
    for entry in index.entries:
        if manifest.get(entry.file) != entry.sha256 or files[entry.file] != entry.size:
            raise IntegrityError(
                what=f"{entry.file} on disc {index.label}",
                problem=f"it is not the blob the signed index lists for item {entry.item_id} (swapped or replaced)",
            )
    audit = layout.parse_audit(reader.read_small(layout.AUDIT))
    if audit != index.audit_head:
        raise IntegrityError(what=f"{layout.AUDIT} on disc {index.label}", problem="it differs from the signed index")
    if index.readme_sha256 is not None and hashlib.sha256(reader.read_small(layout.README)).hexdigest() != index.readme_sha256:
        raise IntegrityError(what=f"{layout.README} on disc {index.label}",
                             problem="it differs from the one the signed index names (its instructions were changed)")


def _quick(reader: DiscReader) -> QuickReport:
    _check_names(reader)
    hashed = _check_manifest(reader)
    _check_index(reader)
    index = reader.index
    return QuickReport(
        label=index.label,
        archive_id=index.archive_id,
        files=len(reader.files()),
        items=len(index.entries),
        bytes_hashed=hashed,
        audit_head=index.audit_head,
        signing_key=index.signing_key,
        signer_trusted=index.signer_trusted,
        readme_signed=index.readme_sha256 is not None,
    )


def verify_quick(
    source: Path, *, public_key: bytes | None = None, archive_id: str | None = None, image_sha256: str | None = None
) -> QuickReport:
    """Structure, names, manifest hashes of every file, index signature, index vs manifest."""
    if image_sha256 is not None and Path(source).is_file():
        _check_image_hash(Path(source), image_sha256)
    with read_disc(Path(source), public_key=public_key, archive_id=archive_id) as reader:
        return _quick(reader)


def verify_full(
    source: Path,
    identities: Mapping[str, str],
    expected_plaintext: Mapping[str, str],
    *,
    public_key: bytes | None = None,
    archive_id: str | None = None,
    image_sha256: str | None = None,
    on_item: Callable[[int, int], None] | None = None,
) -> FullReport:
    """Quick, then decrypt every item whose case (``identities``: case ref -> age identity) has a key.

    ``expected_plaintext`` maps item id -> plaintext SHA-256 as the database recorded it.
    ``on_item(done, total)`` is called with 0 once the index is read, then after every item.
    """
    from archive_media.envelope import check_plaintext, decrypt_stream

    if image_sha256 is not None and Path(source).is_file():
        _check_image_hash(Path(source), image_sha256)
    with read_disc(Path(source), public_key=public_key, archive_id=archive_id) as reader:
        quick = _quick(reader)
        decrypted = checked = 0
        without_key = []
        entries = reader.index.entries
        if on_item is not None:
            on_item(0, len(entries))
        for n, entry in enumerate(entries, 1):
            identity = identities.get(entry.case_ref)
            if identity is None:
                without_key.append(entry.item_id)
                if on_item is not None:
                    on_item(n, len(entries))
                continue
            what = f"item {entry.item_id} ({entry.file}) on disc {quick.label}"
            with reader.open(entry.file) as fh:
                _size, digest = decrypt_stream(fh, None, identity, what=what)
            decrypted += 1
            expected = expected_plaintext.get(entry.item_id)
            if expected is not None:
                check_plaintext(digest, expected, what)
                checked += 1
            if on_item is not None:
                on_item(n, len(entries))
    return FullReport(quick=quick, decrypted=decrypted, checked=checked, without_key=tuple(without_key))

