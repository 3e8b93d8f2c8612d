"""Small parsing helpers shared by the case, shred-list, disc and disposal pages (no rules here:
the library checks every value again)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from starlette.datastructures import FormData

from pipeline.workspace import Workspace
from pps_archive.errors import InvalidValue

T = TypeVar("T")


def in_transaction(ws: Workspace, fn: Callable[..., T], /, *args: object, **kwargs: object) -> T:
    """``fn(session, *args, **kwargs)`` in one write transaction (for :func:`pipeline.web.app.call`)."""
    with ws.transaction() as s:
        return fn(s, *args, **kwargs)


def reading(ws: Workspace, fn: Callable[..., T], /, *args: object, **kwargs: object) -> T:
    """``fn(session, *args, **kwargs)`` in one read transaction."""
    with ws.reader() as s:
        return fn(s, *args, **kwargs)


def today() -> dt.date:
    """The real date: every action a page takes runs on it."""
    return dt.date.today()


def text(data: FormData, name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


def day(value: str | None, what: str, *, default: dt.date | None = None, days_ahead: int | None = None) -> dt.date:
    """A YYYY-MM-DD field (empty: ``default``), refused far after today as the CLI refuses it
    (``days_ahead``: further, for a date that only chooses what to show)."""
    from pipeline.dates import MAX_DAYS_AHEAD, not_far_ahead

    if not value or not value.strip():
        if default is None:
            raise InvalidValue(f"give {what} as YYYY-MM-DD")
        return default
    try:
        parsed = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidValue(f"{value.strip()[:40]!r} is not a date: write {what} as YYYY-MM-DD") from None
    return not_far_ahead(parsed, today(), what, days=days_ahead or MAX_DAYS_AHEAD)


def ids(data: FormData, name: str) -> list[int]:
    """The ticked checkboxes ``name`` as record ids."""
    from pipeline.db import check_id

    out = []
    for value in data.getlist(name):
        if not isinstance(value, str) or not value.strip().isdigit():
            raise InvalidValue(f"{str(value)[:20]!r} is not an entry number")
        out.append(check_id(int(value), "an entry"))
    return out


def disc_source(ws: Workspace, data: FormData, name: str = "source") -> Path:
    """The one drive or mounted disc typed on a form, as :func:`pipeline.source_paths.check_source`
    allows a web form to name it."""
    from pipeline.source_paths import check_source

    value = text(data, name).strip()
    if not value:
        raise InvalidValue("give the drive or the disc to read: a device such as /dev/sr0, or where the CD is mounted")
    return check_source(ws, value)


def paths(ws: Workspace, value: str) -> list[Path]:
    """One path or device a line (the discs presented: the drive, a mounted disc, an image in the
    data directory's image folder), each allowed by :func:`pipeline.source_paths.check_source`."""
    from pipeline.source_paths import check_sources

    return check_sources(ws, [line.strip() for line in value.splitlines() if line.strip()])
