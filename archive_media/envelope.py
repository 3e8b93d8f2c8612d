"""The document envelope: a plain age v1 file encrypted to the case's X25519 recipient.

The envelope is *only* the age file, so ``age -d -i case.key ITEM.AGE > doc.pdf`` gives back the
exact PDF with no pps-archive code. What binds a blob to its document is the plaintext SHA-256 the
database recorded for that document: :func:`decrypt_verified` refuses a blob whose plaintext hash
differs (a blob moved under another document's id), and removes what it wrote.

Encryption and decryption use pyrage (Python bindings of rage, the Rust implementation of age);
both stream (a few MiB of memory whatever the size), and encryption computes the plaintext and
ciphertext SHA-256 in the same pass. Tests check every size class against Debian's ``age`` (Go).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NoReturn

from pps_archive.atomic import atomic_writer
from pps_archive.errors import IntegrityError, MediaError

__all__ = [
    "Sealed",
    "check_plaintext",
    "decrypt_file",
    "decrypt_stream",
    "decrypt_verified",
    "encrypt_file",
    "encrypt_stream",
]

@dataclass(frozen=True)
class Sealed:
    """What encrypting one document produced; the caller records the hashes in the database."""

    plaintext_size: int
    size: int
    plaintext_sha256: str
    ciphertext_sha256: str


class _HashingWriter:
    """A write-only file object that hashes what passes and remembers the sink's own error."""

    def __init__(self, sink: BinaryIO | None) -> None:
        self.sink = sink
        self.digest = hashlib.sha256()
        self.size = 0
        self.error: BaseException | None = None

    def write(self, data: bytes) -> int:
        try:
            self.digest.update(data)
            self.size += len(data)
            return self.sink.write(data) if self.sink is not None else len(data)
        except BaseException as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        if self.sink is not None:
            self.sink.flush()


class _RecordingReader:
    """Passes reads through and remembers the source's own error (pyrage would flatten it)."""

    def __init__(self, src: BinaryIO) -> None:
        self.src = src
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return self.src.read(size)
        except BaseException as exc:
            self.error = exc
            raise


class _HashingReader:
    def __init__(self, src: BinaryIO) -> None:
        self.src = src
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.src.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def readinto(self, buf: bytearray) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def _bad_recipient(recipient: str) -> IntegrityError:
    return IntegrityError(what="the case's public key", problem=f"{recipient[:12]}... is not a usable age recipient")


def _recipient(recipient: str):  # noqa: ANN202 - a pyrage recipient
    from pyrage import RecipientError, x25519

    try:
        return x25519.Recipient.from_str(recipient)
    except (RecipientError, ValueError):
        raise _bad_recipient(recipient) from None


def encrypt_stream(src: BinaryIO, dst: BinaryIO, recipient: str) -> Sealed:
    """Encrypt the readable ``src`` into the writable ``dst`` for the ``age1...`` ``recipient``
    with pyrage (rage), hashing plaintext and ciphertext on the way through."""
    import pyrage

    target = _recipient(recipient)  # refuse a malformed key before anything is written
    reader, writer = _HashingReader(src), _HashingWriter(dst)
    try:
        pyrage.encrypt_io(reader, writer, [target])
    except OSError:
        if writer.error is not None:
            raise writer.error from None
        raise
    except BaseException as exc:
        # rage panics (pyo3's PanicException, a BaseException) instead of failing on a degenerate,
        # low-order X25519 recipient whose shared secret would be all zeros
        if type(exc).__name__ == "PanicException":
            raise _bad_recipient(recipient) from None
        raise
    return Sealed(reader.size, writer.size, reader.digest.hexdigest(), writer.digest.hexdigest())


def encrypt_file(plaintext: Path, out: Path, recipient: str, *, mode: int = 0o600) -> Sealed:
    """Encrypt the file ``plaintext`` to ``out``, atomically (temp file, fsync, replace), ``mode`` 0600."""
    with open(plaintext, "rb") as src, atomic_writer(Path(out), mode) as dst:
        return encrypt_stream(src, dst, recipient)


def _identity(identity: str, what: str):  # noqa: ANN202 - a pyrage identity
    from pyrage import IdentityError, x25519

    try:
        return x25519.Identity.from_str(identity)
    except IdentityError as exc:
        raise IntegrityError(what=f"the key for {what}", problem="it is not an age X25519 identity") from exc


@contextlib.contextmanager
def _source(src: Path | BinaryIO) -> Iterator[BinaryIO]:
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as fh:
            yield fh
    else:
        yield src


def decrypt_stream(
    src: Path | BinaryIO, dst: BinaryIO | None, identity: str, *, what: str = "the item"
) -> tuple[int, str]:
    """Decrypt ``src`` into ``dst`` (or only hash it when ``dst`` is None); return (size, sha256).

    Raises :class:`IntegrityError` for a wrong key, a damaged or truncated file; what was written
    to ``dst`` before the damage was found must be discarded by the caller.
    """
    import pyrage

    ident = _identity(identity, what)
    writer = _HashingWriter(dst)
    with _source(src) as fh:
        reader = _RecordingReader(fh)
        try:
            pyrage.decrypt_io(reader, writer, [ident])
        except (pyrage.DecryptError, OSError) as exc:
            if writer.error is not None:
                raise writer.error from None  # our own disk: atomic_writer turns ENOSPC into DiskFull
            _raise_named(exc, reader.error, what)
    return writer.size, writer.digest.hexdigest()


def _raise_named(exc: BaseException, read_error: BaseException | None, what: str) -> NoReturn:
    """Turn what pyrage raised into the error a person can act on."""
    import pyrage

    if isinstance(read_error, OSError):
        raise MediaError(media=what, problem=f"it cannot be read ({read_error})") from None
    if read_error is not None:
        raise read_error from None
    if isinstance(exc, pyrage.DecryptError):
        if "No matching keys" in str(exc):
            problem = "the key given does not open it (it is encrypted for another case's key, or its header is damaged)"
            raise IntegrityError(what=what, problem=problem) from None
        raise IntegrityError(what=what, problem=f"it is not a readable age file ({exc})") from None
    if isinstance(exc, OSError) and exc.errno is None:  # an age chunk failed authentication
        raise IntegrityError(what=what, problem="it is damaged or truncated") from None
    raise exc


def decrypt_file(
    src: Path | BinaryIO, out: Path, identity: str, *, expected_sha256: str | None = None, what: str = "the item"
) -> str:
    """Decrypt to ``out`` atomically; ``out`` appears only if the decryption (and hash) checked out."""
    with atomic_writer(Path(out), 0o600) as dst:
        _size, digest = decrypt_stream(src, dst, identity, what=what)
        check_plaintext(digest, expected_sha256, what)
    return digest


def check_plaintext(digest: str, expected_sha256: str | None, what: str) -> None:
    """Raise :class:`IntegrityError` when a plaintext hash is not the one recorded for the document."""
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise IntegrityError(
            what=what,
            problem=(
                f"its plaintext SHA-256 is {digest[:16]}..., not the {expected_sha256[:16]}... recorded for it "
                "(the blob belongs to another document)"
            ),
        )


def decrypt_verified(
    src: Path | BinaryIO, out: Path, identity: str, expected_sha256: str, *, what: str = "the item"
) -> None:
    """Decrypt to ``out`` and check the plaintext against the hash the database recorded."""
    decrypt_file(src, out, identity, expected_sha256=expected_sha256, what=what)
