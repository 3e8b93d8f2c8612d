"""An unlocked key store for library tests of destructive actions (the CLI asks for the passphrase)."""

from __future__ import annotations

from pipeline.config import Config
from tests.conftest import PASSPHRASE

#: the staff accounts the tests log in as (invented names): two staff, two managers
PASSWORDS = {
    "alice": "violet harbour cinnamon 42",
    "bob": "tangerine glacier pylon 17",
    "carol": "moss lantern quarry 93 owl",
    "dave": "brass kettle meadow 58 fern",
}
ROLES = {"alice": "staff", "bob": "staff", "carol": "manager", "dave": "manager"}


def add_staff(ws, roles: dict[str, str] | None = None):  # noqa: ANN001, ANN201 - a Workspace, returned
    """Key the archive in ``ws`` with the recovery passphrase, as ``init`` does, and add the
    accounts ``roles`` (default :data:`ROLES`) with their :data:`PASSWORDS`, as on day one."""
    from pipeline import authority, keystore, staff

    with ws.transaction() as s:
        archive = keystore.ensure_archive_id(s)
        keystore.ensure_master_key(s, ws.config, PASSPHRASE.encode(), archive, actor="init")
    recovery = authority.recover(ws, PASSPHRASE.encode())
    for name, role in (ROLES if roles is None else roles).items():
        staff.add(ws, recovery, name, role, PASSWORDS[name].encode())
    return ws


def unlocked(s, cfg: Config | None, actor: str = "alice"):  # noqa: ANN001, ANN201 - a Session; pipeline.authority.Unlocked
    """Set up the master key in this database if needed (``cfg``: its KDF settings; None: the
    configuration of this test's environment), then unlock it as ``actor``."""
    import os

    from pipeline import authority, keystore
    from pipeline.config import load_config

    archive = keystore.ensure_archive_id(s)
    if not keystore.master_key_exists(s):
        cfg = cfg if cfg is not None else load_config(None, os.environ)
        keystore.ensure_master_key(s, cfg, PASSPHRASE.encode(), archive, actor="init")
    return authority.unlock(s, PASSPHRASE.encode(), actor=actor)


def backdate(s, day, refs=None) -> None:  # noqa: ANN001 - a Session, a date, references or None for every case
    """Time passes: the cases (all, or ``refs``) were opened and last active on ``day``, in the register
    *and* in the audit log, which is rewritten and sealed again with the master key, as only someone
    holding it could. (The destructive commands compare the register with the log: an ``UPDATE`` of
    ``cases`` alone is caught as tampering.)"""
    import json

    from sqlalchemy import delete, select

    from pipeline import audit, keystore
    from pipeline.models import AuditEvent, AuditHead, AuditSeal, Case

    cases = list(s.scalars(select(Case)))
    wanted = {c.ref for c in cases} if refs is None else set(refs)
    for c in cases:
        if c.ref in wanted:
            c.opened_on = c.last_activity = day
    prev = audit.GENESIS
    for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
        if e.case_ref in wanted and e.action in ("case.open", "case.touch"):
            details = json.loads(e.details)
            details.update({k: day.isoformat() for k in ("on", "last_activity") if k in details})
            e.details = audit._canonical(details).decode()  # noqa: SLF001 - the log's own form
        e.prev_hash = prev
        e.hash = prev = audit.event_hash(e.seq, e.at, e.actor, e.action, e.case_ref, e.subject, e.details, prev)
    s.flush()
    s.execute(delete(AuditSeal))
    head = s.get(AuditHead, 1)
    head.hash, head.sealed_seq, head.sealed_mac = prev, None, None
    s.flush()
    audit.seal(s, keystore.unlock(s, PASSPHRASE.encode()))
