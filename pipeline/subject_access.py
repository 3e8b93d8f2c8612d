"""Subject access: a request's hold, and the export of everything held about a case.

The policy: "All information held by PPS will be handled in a way that conforms to the requirements
of the Data Protection Act". A parent/carer may ask for everything held about them (a subject
access request). Destroying information after such a request is an offence (DPA 2018 s.173), so
:func:`open_request` places a ``sar`` hold at once: shredding, disposal and erasure wait. The
manager answers with :func:`export_case`: one bundle, a ZIP holding ``index.html`` (for a person),
``manifest.json`` (for a program: every file with its SHA-256), every document (decrypted from the
vault, or from the discs presented when the vault copy is gone), and the records — the case, its
consents, holds, shred-list entries and the audit events about it. The bundle is built in memory
and encrypted (age, passphrase recipient: scrypt) before anything touches the disk, then written
atomically (or returned for a download: :func:`export_bytes`): no plaintext is ever on disk.
Any ``age`` tool opens it (``age -d bundle.age``).
:func:`close_request` (or ``close=True`` at export) lifts the hold once the request is answered.

Safeguarding records are not put in the bundle: the index says how many are held; a manager
decides on them separately (disclosing them may put a child at risk, which the Act exempts).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline import audit, authority, cases
from pipeline.models import Case, Document, Hold, SafeguardingRecord, ShredEntry
from pipeline.workspace import Workspace
from pps_archive.errors import Conflict, DocumentUnavailable, HoldNotFound

SAR = "sar"


def _actor(auth: authority.Unlocked) -> str:
    return auth.actor if auth.method == authority.STAFF_PASSWORD else (auth.claimed_by or auth.actor)


def open_request(s: Session, ref: str, note: str, *, today: dt.date, auth: authority.Unlocked) -> Hold:
    """Record a subject access request for case ``ref``: a ``sar`` hold, placed at once by any
    member of staff (``auth``). ``note`` says what was asked and when it is due (it stays in the
    database, never in the audit log). In the caller's transaction."""
    how = authority.require(s, auth, f"recording a subject access request for case {ref}", role=authority.STAFF)
    hold = cases.place_hold(s, ref, SAR, note, today=today, auth=auth)
    audit.record(s, _actor(auth), "sar.opened", case_ref=hold.case.ref, subject=f"hold:{hold.id}", on=today, **how)
    return hold


def open_requests(s: Session, ref: str) -> list[Hold]:
    case = cases.get_case(s, ref)
    return [h for h in cases.active_holds(case) if h.reason == SAR]


def close_request(s: Session, ref: str, *, today: dt.date, auth: authority.Unlocked, consent: str,
                  hold_id: int | None = None) -> Hold:
    """The request is answered: lift its ``sar`` hold (``hold_id``, or the only one open), a
    manager's action with the person's consent recorded. In the caller's transaction."""
    case = cases.get_case(s, ref)
    hold = cases.release_hold(s, case.ref, _request_to_close(s, case.ref, hold_id), today=today, auth=auth, consent=consent)
    audit.record(s, auth.actor, "sar.closed", case_ref=case.ref, subject=f"hold:{hold.id}", on=today)
    return hold


def _request_to_close(s: Session, ref: str, hold_id: int | None = None) -> int:
    """The hold of the open request ``hold_id``, or of the only one open."""
    held = open_requests(s, ref)
    if hold_id is not None:
        held = [h for h in held if h.id == hold_id]
    if not held:
        raise HoldNotFound(ref=ref.strip().upper(), hold=hold_id if hold_id is not None else "(subject access request)")
    if len(held) > 1:
        raise Conflict(f"case {ref} has {len(held)} open subject access requests (holds "
                       f"{', '.join(str(h.id) for h in held)}): say which one is answered.")
    return held[0].id


@dataclass
class _Bundle:
    files: dict[str, bytes] = field(default_factory=dict)

    def add(self, name: str, data: bytes) -> None:
        self.files[name] = data

    def add_json(self, name: str, value: object) -> None:
        self.add(name, (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode())


def export_case(ws: Workspace, ref: str, out: Path, passphrase: str | bytes, *, auth: authority.Unlocked, today: dt.date,
                media: list[Path] | tuple[Path, ...] = (), close: bool = False, consent: str = "typed") -> dict:
    """Write everything held about case ``ref`` to ``out``, encrypted to ``passphrase`` (which
    must pass :func:`pipeline.passphrase.check_strength`): a manager's action (``auth``). ``media``
    are disc images or mount points read for documents whose vault copy is gone; a document found
    nowhere is :class:`DocumentUnavailable` and nothing is written. With ``close`` the open
    subject access request is closed (its hold lifted) in the same transaction. One transaction;
    the file is written (atomically) before it commits. Returns what was exported."""
    from pps_archive.atomic import atomic_write_bytes

    result, _sealed = _export(ws, ref, passphrase, auth=auth, today=today, media=media, close=close, consent=consent,
                              write=lambda sealed: atomic_write_bytes(Path(out), sealed, 0o600))
    result["out"] = str(out)
    return result


def export_bytes(ws: Workspace, ref: str, passphrase: str | bytes, *, auth: authority.Unlocked, today: dt.date,
                 media: list[Path] | tuple[Path, ...] = (), close: bool = False, consent: str = "typed") -> tuple[dict, bytes]:
    """:func:`export_case` for a download: the encrypted bundle is returned (built and encrypted in
    memory, never written), with what was exported (``out`` None). The export is an audit event
    committed before the bytes are returned."""
    return _export(ws, ref, passphrase, auth=auth, today=today, media=media, close=close, consent=consent, write=None)


def _export(ws: Workspace, ref: str, passphrase: str | bytes, *, auth: authority.Unlocked, today: dt.date,
            media: list[Path] | tuple[Path, ...], close: bool, consent: str,
            write: Callable[[bytes], None] | None) -> tuple[dict, bytes]:
    import pyrage

    from pipeline.passphrase import check_strength

    secret = passphrase.decode("utf-8") if isinstance(passphrase, bytes) else passphrase
    with ws.transaction() as s:
        how = authority.require(s, auth, f"exporting case {ref}", role=authority.MANAGER)
        case = cases.get_case(s, ref)
        if case.disposed_on is not None:
            raise Conflict(f"case {case.ref} was disposed of on {case.disposed_on}: nothing is held to export.")
        check_strength(secret, context=[case.ref, ws.config.section("service")["name"], "pps", "export"],
                       what="the export passphrase")
        closing = _request_to_close(s, case.ref) if close else None  # before anything is written
        bundle = _Bundle()
        docs = _documents(ws, s, case, auth, list(media), bundle)
        records = _records(s, ws, case, today)
        for name, value in records.items():
            bundle.add_json(f"records/{name}.json", value)
        manifest = {"bundle": "pps-archive subject access export", "version": 1, "case_ref": case.ref,
                    "service": ws.config.section("service")["name"], "exported_on": today.isoformat(),
                    "exported_by": auth.actor, "documents": docs,
                    "safeguarding_records_held": records["case"]["safeguarding_records_held"],
                    "files": {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                              for name, data in sorted(bundle.files.items())}}
        bundle.add("index.html", _index_html(manifest, records).encode())
        bundle.add_json("manifest.json", manifest)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name in ["index.html", "manifest.json", *sorted(n for n in bundle.files if n not in ("index.html", "manifest.json"))]:
                z.writestr(name, bundle.files[name])
        sealed = pyrage.passphrase.encrypt(buf.getvalue(), secret)
        del buf, bundle
        result = {"case_ref": case.ref, "out": None, "documents": len(docs),
                  "from_vault": sum(1 for d in docs if d.get("from") == "vault"),
                  "from_discs": sum(1 for d in docs if str(d.get("from", "")).startswith("disc ")),
                  "paper_only": sum(1 for d in docs if d.get("from") is None),
                  "bytes": len(sealed), "sha256": hashlib.sha256(sealed).hexdigest(), "closed_hold": None}
        if write is not None:
            write(sealed)
        audit.record(s, auth.actor, "sar.exported", case_ref=case.ref, subject=f"case:{case.ref}", documents=len(docs),
                     from_discs=result["from_discs"], bundle_sha256=result["sha256"], on=today, **how)
        if close:
            result["closed_hold"] = close_request(s, case.ref, today=today, auth=auth, consent=consent, hold_id=closing).id
    return result, sealed


def _documents(ws: Workspace, s: Session, case: Case, auth: authority.Unlocked, media: list[Path], bundle: _Bundle) -> list[dict]:
    """Each document's plaintext into the bundle (and its kept original); what the index says of each."""
    from archive_media.vault import Vault
    from pipeline import keystore

    vault = Vault(ws.path("vault"))
    docs = list(s.scalars(select(Document).where((Document.case_id == case.id) | (Document.suggested_ref == case.ref))
                          .order_by(Document.id)))
    identities: dict[str, str] = {}

    def identity(doc: Document) -> str:
        kind = doc.encrypted_to or "case"
        if kind not in identities:
            identities[kind] = (keystore.archive_identity(s, auth.master) if kind == "archive"
                                else keystore.case_identity(s, auth.master, case.ref))
        return identities[kind]

    wanted: list[tuple[Document, str, str, str | None]] = []  # (doc, item, name in bundle, expected sha256)
    for d in docs:
        if d.vault_item:
            wanted.append((d, d.vault_item, f"documents/document-{d.id}.pdf", d.plaintext_sha256))
        if d.original_item:
            wanted.append((d, d.original_item, f"documents/document-{d.id}-original.pdf", d.original_sha256))
    found: dict[str, str] = {}
    for d, item, name, expected in wanted:
        if vault.exists(item):
            bundle.add(name, vault.read_bytes(item, identity(d), expected))
            found[item] = "vault"
    missing = [w for w in wanted if w[1] not in found]
    if missing:
        _from_discs(s, ws, media, missing, identity, bundle, found)
    missing = [w for w in wanted if w[1] not in found]
    if missing:
        ids = sorted({d.id for d, *_ in missing})
        raise DocumentUnavailable(count=len(ids), ref=case.ref, ids=", ".join(map(str, ids)))
    out = []
    for d in docs:
        entry = s.scalars(select(ShredEntry).where(ShredEntry.document_id == d.id)).one_or_none()
        row = {"id": d.id, "class": d.doc_class, "decision": d.decision, "reason": d.reason, "pages": d.pages,
               "state": d.state, "received": d.created_at.isoformat(timespec="seconds"),
               "source_pages": json.loads(d.source_pages), "file": None, "original_file": None, "from": None,
               "paper": None if entry is None else ("shredded on " + entry.confirmed_on.isoformat() if entry.confirmed_on
                                                    else "paper still held")}
        if d.vault_item:
            row["file"], row["from"] = f"documents/document-{d.id}.pdf", found[d.vault_item]
        if d.original_item:
            row["original_file"] = f"documents/document-{d.id}-original.pdf"
        out.append(row)
    return out


def _from_discs(s: Session, ws: Workspace, media: list[Path], missing: list, identity, bundle: _Bundle,  # noqa: ANN001
                found: dict[str, str]) -> None:
    """Read the items the vault no longer has from the discs presented (signature-checked index)."""
    from archive_media import envelope
    from archive_media.iso import read_disc
    from pipeline import keystore
    from pipeline.media import public_key

    if not media:
        return
    pub, archive = public_key(s, ws.data_dir), keystore.archive_id(s)
    for source in media:
        with read_disc(Path(source), public_key=pub, archive_id=archive) as reader:
            on_disc = {e.item_id: e for e in reader.index.entries}
            for d, item, name, expected in missing:
                if item in found or item not in on_disc:
                    continue
                plain = io.BytesIO()
                what = f"item {item} on disc {reader.index.label}"
                with reader.open(on_disc[item].file) as src:
                    _size, digest = envelope.decrypt_stream(src, plain, identity(d), what=what)
                envelope.check_plaintext(digest, expected, what)
                bundle.add(name, plain.getvalue())
                found[item] = f"disc {reader.index.label}"


def _records(s: Session, ws: Workspace, case: Case, today: dt.date) -> dict:
    dates = cases.case_dates(ws.config, case.last_activity)
    held = s.scalar(select(func.count()).select_from(SafeguardingRecord).where(SafeguardingRecord.case_id == case.id)) or 0
    record = {"ref": case.ref, "anonymous": case.anonymous, "opened_on": case.opened_on.isoformat(),
              "last_activity": case.last_activity.isoformat(), "status": cases.status(ws.config, case, today),
              "archive_due": dates.archive_due.isoformat(), "dispose_after": dates.dispose_after.isoformat(),
              "safeguarding_records_held": held}
    consents = {"store": {"granted": case.store_consent,
                          "changed_on": case.store_consent_on.isoformat() if case.store_consent_on else None},
                "third_parties": [{"party": tp.party, "allowed": tp.allowed, "changed_on": tp.changed_on.isoformat()}
                                  for tp in case.third_parties]}
    holds = [{"id": h.id, "reason": h.reason, "note": h.note, "placed_on": h.placed_on.isoformat(), "placed_by": h.placed_by,
              "released_on": h.released_on.isoformat() if h.released_on else None, "released_by": h.released_by}
             for h in case.holds]
    shred = [{"id": e.id, "document": e.document_id, "confirmed_by": e.confirmed_by,
              "confirmed_on": e.confirmed_on.isoformat() if e.confirmed_on else None}
             for e in s.scalars(select(ShredEntry).join(Document).where(Document.case_id == case.id).order_by(ShredEntry.id))]
    events = audit.read_log(s, case_ref=case.ref)
    return {"case": record, "consents": consents, "holds": holds, "shred_records": shred, "audit_events": events}


def _index_html(manifest: dict, records: dict) -> str:
    e = html.escape
    def link(name: str | None, text: str) -> str:
        return f'<a href="{e(name)}">{e(text)}</a>' if name else ""

    rows = "".join(
        f"<tr><td>{d['id']}</td><td>{e(str(d['class']))}</td><td>{e(d['decision'])}</td><td>{d['pages']}</td>"
        f"<td>{e(d['received'])}</td><td>{e(d['paper'] or '-')}</td>"
        f"<td>{link(d['file'], d['file'] or '') or 'paper only (no scan kept)'}"
        f"{' / ' + link(d['original_file'], 'original') if d['original_file'] else ''}</td></tr>"
        for d in manifest["documents"])
    c = records["case"]
    holds = "".join(f"<li>{e(h['reason'])} hold {h['id']}, placed {e(h['placed_on'])}"
                    f"{', released ' + e(h['released_on']) if h['released_on'] else ' (in force)'}: {e(h['note'])}</li>"
                    for h in records["holds"]) or "<li>none</li>"
    store = records["consents"]["store"]
    parties = "".join(f"<li>{e(tp['party'])}: {'allowed' if tp['allowed'] else 'withdrawn'} ({e(tp['changed_on'])})</li>"
                      for tp in records["consents"]["third_parties"]) or "<li>none recorded</li>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Subject access export: case {e(c['ref'])}</title></head>
<body>
<h1>{e(manifest['service'])}: everything held about case {e(c['ref'])}</h1>
<p>Exported on {e(manifest['exported_on'])} by {e(manifest['exported_by'])}. Every file is listed with its SHA-256
in <a href="manifest.json">manifest.json</a>.</p>
<h2>The case</h2>
<p>Opened {e(c['opened_on'])}, last activity {e(c['last_activity'])}, status {e(c['status'])}; archive due
{e(c['archive_due'])}, records disposed of after {e(c['dispose_after'])}.
{'The parent/carer is anonymous.' if c['anonymous'] else ''} (<a href="records/case.json">case.json</a>)</p>
<h2>Consents</h2>
<p>Consent to keep information: {'given' if store['granted'] else 'not given or withdrawn'}
({e(str(store['changed_on']))}). Contact with third parties:</p><ul>{parties}</ul>
<p>(<a href="records/consents.json">consents.json</a>)</p>
<h2>Holds</h2><ul>{holds}</ul><p>(<a href="records/holds.json">holds.json</a>)</p>
<h2>Documents ({len(manifest['documents'])})</h2>
<table border="1"><tr><th>Id</th><th>Class</th><th>Decision</th><th>Pages</th><th>Received</th><th>Paper</th><th>File</th></tr>
{rows}</table>
<p>Shredding records: <a href="records/shred_records.json">shred_records.json</a>.
Every recorded action about the case: <a href="records/audit_events.json">audit_events.json</a>
({len(records['audit_events'])} events).</p>
<p>Safeguarding records held: {c['safeguarding_records_held']} (not included in this export: a manager decides on them
separately).</p>
</body></html>
"""
