"""Two ways to read a disc: an ISO image file (pycdlib) or a folder (a mounted disc, an extraction).

Both give the same view: relative upper-case names (``ITEMS/00000001.AGE``) with sizes, and a
streaming reader per file. pycdlib can raise almost anything on a damaged image (its own errors,
``struct.error``, ``IndexError``, ``UnicodeDecodeError``...), so every call into it is wrapped and
turned into an :class:`IntegrityError` that names the image.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from pps_archive.errors import IntegrityError, MediaError, PPSArchiveError

T = TypeVar("T")


def _damaged(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: IsoSource | _Guarded, *args: object, **kwargs: object) -> T:
        try:
            return method(self, *args, **kwargs)
        except PPSArchiveError:
            raise
        except OSError as exc:  # a scratched disc in the drive: EIO
            raise MediaError(media=self.name, problem=f"read error ({exc}): the disc may be damaged") from None
        except Exception as exc:  # pycdlib on a damaged image: see the module docstring
            raise IntegrityError(
                what=f"image {self.name}", problem=f"its ISO 9660 structure is damaged ({type(exc).__name__}: {exc})"
            ) from None

    return wrapper


class IsoSource:
    def __init__(self, path: Path) -> None:
        import pycdlib

        self.name = Path(path).name
        self.path = Path(path)
        try:
            self._fh = open(path, "rb")
        except OSError as exc:
            raise MediaError(media=str(path), problem=f"it cannot be opened ({exc.strerror})") from None
        self._iso = pycdlib.PyCdlib()
        try:
            self._open()
        except BaseException:
            self._fh.close()
            raise

    @_damaged
    def _open(self) -> None:
        self._iso.open_fp(self._fh)

    @_damaged
    def trees(self) -> dict[str, set[str]]:
        """The file names seen through each name tree the image has (ISO 9660 without ';1')."""
        kinds = {"iso9660": "iso_path", "joliet": "joliet_path", "rock ridge": "rr_path", "udf": "udf_path"}
        present = {
            "iso9660": True,
            "joliet": self._iso.has_joliet(),
            "rock ridge": self._iso.has_rock_ridge(),
            "udf": self._iso.has_udf(),
        }
        trees: dict[str, set[str]] = {}
        for kind, arg in kinds.items():
            if not present[kind]:
                continue
            names = set()
            for dirpath, _dirs, files in self._iso.walk(**{arg: "/"}):
                prefix = dirpath.strip("/")
                for f in files:
                    f = f.split(";")[0] if kind == "iso9660" else f
                    names.add(f"{prefix}/{f}" if prefix else f)
            trees[kind] = names
        return trees

    @_damaged
    def files(self) -> dict[str, int]:
        sizes = {}
        for name in self.trees()["iso9660"]:
            sizes[name] = self._iso.get_record(iso_path=f"/{name};1").get_data_length()
        return sizes

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        with self._open_file(name) as fh:
            yield _Guarded(fh, self)

    @_damaged
    def _open_file(self, name: str):  # noqa: ANN202 - pycdlib's context manager
        return self._iso.open_file_from_iso(iso_path=f"/{name};1")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._iso.close()
        self._fh.close()


class _Guarded:
    """A pycdlib file reader whose failures become IntegrityError, for streaming into pyrage."""

    def __init__(self, fh: BinaryIO, source: IsoSource) -> None:
        self._fh, self.name = fh, source.name

    @_damaged
    def _read(self, size: int) -> bytes:
        return self._fh.read(size)

    def read(self, size: int = -1) -> bytes:
        return self._read(size)


class DirSource:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = self.path.name or str(self.path)

    def trees(self) -> dict[str, set[str]]:
        return {"folder": set(self.files())}

    def files(self) -> dict[str, int]:
        sizes = {}
        for dirpath, _dirs, files in os.walk(self.path):
            for f in files:
                full = Path(dirpath) / f
                sizes[full.relative_to(self.path).as_posix()] = full.stat().st_size
        return sizes

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        try:
            fh = open(self.path / name, "rb")
        except OSError as exc:
            raise MediaError(media=f"{self.name}/{name}", problem=f"it cannot be opened ({exc.strerror})") from None
        with fh:
            yield _FolderFile(fh, f"{self.name}/{name}")

    def close(self) -> None:
        pass


class _FolderFile:
    """A file of a mounted disc; a read error (a scratched disc: EIO) becomes MediaError."""

    def __init__(self, fh: BinaryIO, name: str) -> None:
        self._fh, self.name = fh, name

    def read(self, size: int = -1) -> bytes:
        try:
            return self._fh.read(size)
        except OSError as exc:
            raise MediaError(media=self.name, problem=f"read error ({exc.strerror}): the disc may be damaged") from None


def open_source(path: Path) -> IsoSource | DirSource:
    path = Path(path)
    if path.is_dir():
        return DirSource(path)
    if not path.exists():
        raise MediaError(media=str(path), problem="no such image file or mounted disc folder")
    return IsoSource(path)
