"""The vault: encrypted documents on disk under opaque ids.

Layout: ``<root>/<first two hex digits>/<32 hex digits>.age``, folders 0700, blobs 0600, each
written atomically. A blob is a plain age file (see :mod:`archive_media.envelope`). Nothing else
is written beside it: the plaintext hash, the case and the document it belongs to live only in
the database, so the vault folder alone says nothing about anyone.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from archive_media import envelope
from pps_archive.atomic import fsync_dir
from pps_archive.errors import IntegrityError, InvalidValue

__all__ = ["Vault", "VaultItem"]

_ID = re.compile(r"[0-9a-f]{32}")
_DIR_MODE = 0o700


@dataclass(frozen=True)
class VaultItem:
    """One stored blob; the caller records all of it (and the case it belongs to) in the database."""

    item_id: str
    size: int
    ciphertext_sha256: str
    plaintext_sha256: str
    plaintext_size: int


def _private_dir(path: Path) -> None:
    path.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, _DIR_MODE)


class Vault:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        _private_dir(self.root)

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(16)

    def path_of(self, item_id: str) -> Path:
        if not _ID.fullmatch(item_id):
            raise InvalidValue(f"{item_id!r} is not a vault item id (32 lower-case hex digits)")
        return self.root / item_id[:2] / f"{item_id}.age"

    def put(self, plaintext: Path, recipient: str) -> VaultItem:
        """Encrypt ``plaintext`` for ``recipient`` into a new blob; the plaintext file is left alone."""
        item_id = self.new_id()
        path = self.path_of(item_id)
        _private_dir(path.parent)
        sealed = envelope.encrypt_file(Path(plaintext), path, recipient, mode=0o600)
        return VaultItem(
            item_id=item_id,
            size=sealed.size,
            ciphertext_sha256=sealed.ciphertext_sha256,
            plaintext_sha256=sealed.plaintext_sha256,
            plaintext_size=sealed.plaintext_size,
        )

    def put_bytes(self, plaintext: bytes, recipient: str) -> VaultItem:
        """Encrypt ``plaintext`` held in memory into a new blob (no plaintext file is written)."""
        import io

        from pps_archive.atomic import atomic_writer

        item_id = self.new_id()
        path = self.path_of(item_id)
        _private_dir(path.parent)
        with atomic_writer(path, 0o600) as dst:
            sealed = envelope.encrypt_stream(io.BytesIO(plaintext), dst, recipient)
        return VaultItem(item_id=item_id, size=sealed.size, ciphertext_sha256=sealed.ciphertext_sha256,
                         plaintext_sha256=sealed.plaintext_sha256, plaintext_size=sealed.plaintext_size)

    def read_bytes(self, item_id: str, identity: str, expected_sha256: str | None) -> bytes:
        """Decrypt one item into memory, checking the plaintext hash the database recorded."""
        import io

        out = io.BytesIO()
        with self.open_item(item_id) as blob:
            _size, digest = envelope.decrypt_stream(blob, out, identity, what=f"vault item {item_id}")
        envelope.check_plaintext(digest, expected_sha256, f"vault item {item_id}")
        return out.getvalue()

    def open_item(self, item_id: str) -> BinaryIO:
        """The blob, open for reading (the ciphertext: an age file)."""
        path = self.path_of(item_id)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise IntegrityError(what=f"vault item {item_id}", problem="its blob is missing from the vault") from None

    def decrypt_to(self, item_id: str, identity: str, out: Path, expected_sha256: str) -> None:
        """Decrypt one item to ``out`` (atomically), checking the plaintext hash the database recorded."""
        with self.open_item(item_id) as blob:
            envelope.decrypt_verified(blob, Path(out), identity, expected_sha256, what=f"vault item {item_id}")

    def exists(self, item_id: str) -> bool:
        return self.path_of(item_id).is_file()

    def delete(self, item_id: str) -> bool:
        """Remove a blob (disposal, purge); True if it was there. Its case key is the real erase."""
        path = self.path_of(item_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(path.parent)
        return True

    def item_ids(self) -> Iterator[str]:
        """Every blob's id, for consistency checks against the database (orphans, missing blobs)."""
        for shard in sorted(self.root.iterdir()):
            if shard.is_dir() and re.fullmatch(r"[0-9a-f]{2}", shard.name):
                for blob in sorted(shard.glob("*.age")):
                    if _ID.fullmatch(blob.stem) and blob.stem[:2] == shard.name:
                        yield blob.stem
