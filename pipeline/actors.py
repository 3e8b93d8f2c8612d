"""Who did it: the staff name every audited action records.

One rule for every front-end: white space runs become one space, and the name is 1-64 printable
characters. A front-end chooses where a name comes from (a login, an option); the library decides
whether it is a name.
"""

from __future__ import annotations

from pps_archive.errors import InvalidValue

#: the longest staff name or login recorded
MAX_LENGTH = 64


def staff_name(value: str | None) -> str:
    """``value`` normalised (runs of white space made one space), or :class:`InvalidValue`."""
    name = " ".join((value or "").split())
    if not name or len(name) > MAX_LENGTH or not name.isprintable():
        raise InvalidValue(f"a staff name or login is 1-{MAX_LENGTH} printable characters")
    return name
