"""Key material written to a file: the key store's backup and one case's key (a manager's actions).

Each function logs the action in the audit log and writes the file atomically (mode 0600) inside
one transaction of its own, so a failed write records nothing. ``auth`` is the manager's keyring
(:class:`pipeline.authority.Unlocked`); the typed ``consent`` is recorded.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.authority import Unlocked
    from pipeline.workspace import Workspace


def write_backup(ws: Workspace, out: Path, *, auth: Unlocked, today: dt.date, valid_days: int, consent: str) -> dict:
    """The wrapped key store as an expiring backup file at ``out``. Returns ``path`` and ``expires``."""
    from pipeline import keystore
    from pps_archive.atomic import atomic_write_bytes

    with ws.transaction() as s:  # written before the export is recorded: a failed write records nothing
        data = keystore.export_backup(s, today=today, valid_days=valid_days, auth=auth, consent=consent)
        atomic_write_bytes(out, data, 0o600)
    return {"path": out, "expires": today + dt.timedelta(days=valid_days)}


def write_case_key(ws: Workspace, ref: str, out: Path, *, auth: Unlocked, consent: str) -> dict:
    """Case ``ref``'s key as an age identity file at ``out`` (``age -d -i FILE ITEM.AGE`` decrypts
    its items). Returns ``case_ref`` (canonical) and ``path``."""
    from pipeline import keystore
    from pipeline.cases import get_case
    from pps_archive.atomic import atomic_write_bytes

    with ws.transaction() as s:
        ref = get_case(s, ref).ref
        text = keystore.export_case_key(s, auth, ref, consent=consent)
        atomic_write_bytes(out, text.encode("ascii"), 0o600)
    return {"case_ref": ref, "path": out}
