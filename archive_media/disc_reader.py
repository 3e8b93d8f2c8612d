"""Read a disc (an ISO image or a mounted/extracted folder): files, manifest, signed index, items.

``read_disc`` checks the index signature before anything uses the index: against the archive's
public key when the caller gives it (``signer_trusted``), else only against the key printed on the
disc, which catches damage but not a forger. Items are read and decrypted as streams.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from archive_media import _disc_layout as layout
from archive_media._sources import DirSource, IsoSource, open_source
from archive_media.keys import key_fingerprint, public_key_from_pem, verify
from pps_archive.atomic import atomic_writer
from pps_archive.errors import DocumentNotFound, ForeignArchive, IntegrityError, PPSArchiveError

__all__ = ["DiscIndex", "DiscReader", "IndexEntry", "claimed_identity", "read_disc"]

SMALL_FILE_LIMIT = 64 << 20


@dataclass(frozen=True)
class IndexEntry:
    file: str
    item_id: str
    case_ref: str
    dispose_after: dt.date
    size: int
    sha256: str


@dataclass(frozen=True)
class DiscIndex:
    """The signed disposal schedule of one disc."""

    label: str
    archive_id: str
    service_name: str
    created: str | None
    audit_head: str
    signing_key: str  # fingerprint, SHA256:<hex>
    entries: tuple[IndexEntry, ...]
    signer_trusted: bool  # checked against the archive's key, not only the disc's own
    readme_sha256: str | None = None  # signed with the index (index version 2); None on older discs


def _entries(doc: dict) -> tuple[IndexEntry, ...]:
    entries = []
    try:
        for raw in doc["items"]:
            entry = IndexEntry(
                file=str(raw["file"]),
                item_id=str(raw["item"]),
                case_ref=str(raw["case"]),
                dispose_after=dt.date.fromisoformat(raw["dispose_after"]),
                size=int(raw["size"]),
                sha256=str(raw["sha256"]),
            )
            entries.append(entry)
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(what=layout.INDEX, problem=f"an item entry is malformed ({exc!r})") from None
    if len({e.item_id for e in entries}) != len(entries) or len({e.file for e in entries}) != len(entries):
        raise IntegrityError(what=layout.INDEX, problem="an item or file is listed twice")
    return tuple(entries)


class DiscReader:
    def __init__(self, source: IsoSource | DirSource) -> None:
        self.source = source
        self.name = source.name
        self._files = source.files()
        self._index: DiscIndex | None = None

    def __enter__(self) -> DiscReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.source.close()

    def files(self) -> dict[str, int]:
        """Every file on the disc, relative name -> size."""
        return dict(self._files)

    def _require(self, name: str) -> None:
        if name not in self._files:
            raise IntegrityError(what=f"disc {self.name}", problem=f"{name} is missing")

    def read_small(self, name: str) -> bytes:
        self._require(name)
        if self._files[name] > SMALL_FILE_LIMIT:
            raise IntegrityError(what=f"{name} on disc {self.name}", problem="it is far larger than it should be")
        with self.source.open(name) as fh:
            return fh.read()

    def open(self, name: str):  # noqa: ANN201 - a context manager yielding a binary reader
        self._require(name)
        return self.source.open(name)

    def manifest(self) -> dict[str, str]:
        return layout.parse_manifest(self.read_small(layout.MANIFEST))

    @property
    def index(self) -> DiscIndex:
        if self._index is None:
            raise RuntimeError("read the disc with read_disc(), which checks the index first")
        return self._index

    def load_index(self, public_key: bytes | None, archive_id: str | None) -> DiscIndex:
        """Parse INDEX.JSN after checking INDEX.SIG; ``ForeignArchive`` if it is another archive's disc."""
        data = self.read_small(layout.INDEX)
        signature = self.read_small(layout.SIGNATURE)
        disc_key = public_key_from_pem(self.read_small(layout.PUBKEY))
        if public_key is not None and disc_key != public_key:
            raise IntegrityError(
                what=f"the index of disc {self.name}",
                problem=(
                    f"it is signed by key {key_fingerprint(disc_key)}, "
                    f"not by this archive's {key_fingerprint(public_key)}"
                ),
            )
        verify(disc_key, data, signature, what=f"the index (INDEX.JSN) of disc {self.name}")
        doc = layout.parse_index(data)
        if archive_id is not None and doc.get("archive") != archive_id:
            raise ForeignArchive(what=f"disc {doc.get('label')}", theirs=doc.get("archive"), ours=archive_id)
        if doc.get("signing_key") != key_fingerprint(disc_key):
            problem = "it names another signing key than PUBKEY.TXT"
            raise IntegrityError(what=f"the index of disc {self.name}", problem=problem)
        self._index = DiscIndex(
            label=str(doc.get("label")),
            archive_id=str(doc.get("archive")),
            service_name=str(doc.get("service")),
            created=doc.get("created"),
            audit_head=str(doc.get("audit_head")),
            signing_key=str(doc.get("signing_key")),
            entries=_entries(doc),
            signer_trusted=public_key is not None,
            readme_sha256=doc.get("readme_sha256") if doc.get("version", 1) >= 2 else None,
        )
        return self._index

    def entry(self, item_id: str) -> IndexEntry:
        for entry in self.index.entries:
            if entry.item_id == item_id:
                return entry
        raise DocumentNotFound(document=f"{item_id} on disc {self.index.label}")

    def extract(self, name: str, dst: BinaryIO) -> None:
        """Copy one file's bytes (e.g. an item's ciphertext) into ``dst``, streaming."""
        with self.open(name) as src:
            shutil.copyfileobj(src, dst, 1 << 20)

    def extract_item(self, item_id: str, out: Path) -> None:
        """Write an item's ciphertext (the age file) to ``out`` atomically."""
        with atomic_writer(Path(out), 0o600) as dst:
            self.extract(self.entry(item_id).file, dst)

    def decrypt_item(self, item_id: str, identity: str, out: Path, expected_sha256: str | None) -> str:
        """Restore: decrypt one item from the disc straight to ``out`` (atomic, 0600); its sha256.

        With ``expected_sha256`` (the database's record for the document), a blob that is not that
        document fails with :class:`IntegrityError` and nothing is written.
        """
        from archive_media.envelope import decrypt_file

        entry = self.entry(item_id)
        with self.open(entry.file) as src:
            what = f"item {item_id} on disc {self.index.label}"
            return decrypt_file(src, Path(out), identity, expected_sha256=expected_sha256, what=what)


def read_disc(source: Path, *, public_key: bytes | None = None, archive_id: str | None = None) -> DiscReader:
    """Open an image or mounted disc and load its index, checking the signature first."""
    reader = DiscReader(open_source(Path(source)))
    try:
        reader.load_index(public_key, archive_id)
    except BaseException:
        reader.close()
        raise
    return reader


def claimed_identity(source: Path) -> tuple[str | None, str | None]:
    """The label and archive id a disc's index *claims*, without checking its signature; (None,
    None) when even that cannot be read. Only for saying which registered disc failed verification:
    never trust it for anything else."""
    try:
        reader = DiscReader(open_source(Path(source)))
    except (PPSArchiveError, OSError):
        return None, None
    try:
        doc = json.loads(reader.read_small(layout.INDEX))
    except (PPSArchiveError, OSError, ValueError):
        return None, None
    finally:
        reader.close()
    if not isinstance(doc, dict):
        return None, None
    label, archive = doc.get("label"), doc.get("archive")
    return (label if isinstance(label, str) else None), (archive if isinstance(archive, str) else None)
