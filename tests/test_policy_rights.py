"""Issue 12 (part): withdrawing consent leads to erasure, subject access, the safeguarding exception.
Each test names the policy sentence it keeps; library and CLI, on both databases."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select, text

from archive_media.vault import Vault
from pipeline import audit, cases, disposal, erasure, keystore, safeguarding, staff, subject_access
from pipeline.models import Case, Document, SafeguardingRecord
from pipeline.workspace import Workspace
from pps_archive.errors import (
    ConfirmationRefused, ErasureRefused, ExitCode, HoldNotFound, ManagerRequired, OnHold, WeakPassphrase,
)
from tests.auth_helpers import backdate, unlocked
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

TODAY = dt.date.today()
A, B = f"PPS-{TODAY.year - 1}-0401", f"PPS-{TODAY.year - 1}-0402"
OPENED = TODAY - dt.timedelta(days=60)
EXPORT_PASSPHRASE = "walnut tractor origami 64 sleet"
PASSWORDS = {"mara": "velvet compass thimble 73 dune", "sid": "pebble orchard zinc 29 heron"}  # manager, staff


def _office(tmp_path: Path) -> None:
    """A keyed archive (CLI init), a manager mara and a staff member sid."""
    run("init")
    for name, role in (("mara", "manager"), ("sid", "staff")):
        pw = tmp_path / f"{name}.pw"
        pw.write_text(PASSWORDS[name] + "\n")
        pw.chmod(0o600)
        run("staff", "add", name, "--role", role, env={"PPS_ARCHIVE_NEW_PASSWORD_FILE": str(pw)})


def _as(tmp_path: Path, name: str, *args: str, **kw):  # noqa: ANN003, ANN202 - a tests.cli_helpers.Run
    env = {"PPS_ARCHIVE_PASSWORD_FILE": str(tmp_path / f"{name}.pw"), **kw.pop("env", {})}
    return run("--user", name, *args, env=env, **kw)


def _login(name: str):  # noqa: ANN202 - an Unlocked
    ws = Workspace.load()
    try:
        return staff.login(ws, name, PASSWORDS[name].encode())
    finally:
        ws.close()


def _ingest(tmp_path: Path, name: str, items: list) -> list[dict]:
    batch = ScanFactory(seed=sum(map(ord, name))).batch(tmp_path / "in" / name, f"{name}.pdf", items, container="pdf-text", dpi=150)
    out = run("ingest", str(batch.files[0]), "--json").json()
    assert out["inputs"][0]["outcome"] == "done", out
    return out


def _docs(ws: Workspace, ref: str) -> list[Document]:
    with ws.reader() as s:
        case = cases.get_case(s, ref)
        docs = list(s.scalars(select(Document).where((Document.case_id == case.id) | (Document.suggested_ref == ref))
                              .order_by(Document.id)))
        s.expunge_all()
        return docs


@pytest.fixture
def office(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: ARG001 - both databases
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "1")
    monkeypatch.setenv("PPS_ARCHIVE__MEDIA__ARCHIVE_MEDIUM", '"image-files"')
    _office(tmp_path)
    return tmp_path


# --- withdrawing consent ---------------------------------------------------------------------------

def test_withdrawn_consent_stops_intake_and_leads_to_erasure(office: Path) -> None:
    """"Data is only entered once parents have been informed about the confidentiality policy and have
    given permission for information to be kept." Withdrawn, nothing more is filed, and a manager
    erases what is held (key destroyed, vault copies gone, paper listed, a certificate) — after typed
    consent, and not while a hold says why the data is kept."""
    tmp_path = office
    run("case", "open", A, "--consent-to-store", "--as-of", OPENED.isoformat())
    _ingest(tmp_path, "a1", [Cover(A, "retain", "NOTE"), Doc("note", A), Cover(A, "shred", "EHCP"), Doc("ehcp", A)])
    ws = Workspace.load()
    try:
        filed = _docs(ws, A)
        assert [d.state for d in filed] == ["filed", "shred-only"]
        blobs = [d.vault_item for d in filed if d.vault_item]
        vault = Vault(ws.path("vault"))
        assert blobs and all(vault.exists(b) for b in blobs)

        r = run("case", "consent", A, "--store", "no")
        assert "consent to store withdrawn" in r.out
        assert "intake files nothing more" in r.out and f"'pps-archive case erase {A}'" in r.out
        assert "2 document(s)" in r.out and "2 paper item(s)" in r.out

        # intake stops filing to the case: the next document waits in review
        _ingest(tmp_path, "a2", [Cover(A, "retain", "NOTE"), Doc("note", A)])
        later = [d for d in _docs(ws, A) if d.id not in {f.id for f in filed}]
        assert [(d.state, d.case_id, d.suggested_ref) for d in later] == [("review", None, A)]

        # nothing is erased without typed consent, by a staff login, or under a hold
        r = _as(tmp_path, "mara", "case", "erase", A, expect=ExitCode.CONFIRMATION_REFUSED)
        assert "type YES exactly" in r.err
        with pytest.raises(ManagerRequired):
            erasure.erase_case(ws, A, auth=_login("sid"), today=TODAY, consent="typed")
        hold_id = int(run("case", "hold", A, "--reason", "complaint", "--note", "complaint open").out.split("hold ")[1].split()[0])
        r = _as(tmp_path, "mara", "case", "erase", A, "--yes", expect=ExitCode.ON_HOLD)
        assert "complaint hold" in r.err and f"hold {hold_id}" in r.err
        assert "They are kept: a complaint hold" in run("case", "consent", A, "--store", "no").out
        with ws.reader() as s:
            assert keystore.has_case_key(s, A) and cases.get_case(s, A).disposed_on is None
        _as(tmp_path, "mara", "case", "release", A, "--hold", str(hold_id), "--yes")

        r = _as(tmp_path, "mara", "case", "erase", A, "--yes")
        assert f"case {A}: erased (key destroyed: yes)" in r.out
        assert r.out.count("paper to shred or return") == 3
        with ws.reader() as s:
            assert not keystore.has_case_key(s, A)
            assert cases.get_case(s, A).disposed_on == TODAY
        assert not any(vault.exists(b) for b in blobs + [d.vault_item for d in later if d.vault_item])
        cert = json.loads(next(ws.path("certificates").glob("erasure-*.json")).read_text())
        assert cert["kind"] == "erasure" and cert["keys_destroyed"] == [A] and cert["operator"] == "mara"
        assert cert["consent"] == "--yes" and "withdrew consent" in cert["reason"]
        assert sorted(p["document"] for p in cert["paper"]) == sorted(d.id for d in filed + later)
        assert next(ws.path("certificates").glob("erasure-*.pdf")).stat().st_size > 0
        if ws.engine.dialect.name == "sqlite":
            assert cert["erasure"]["verified"] is True
        actions = [e["action"] for e in run("audit", "log", "--case", A, "--json").json()]
        assert actions[-3:] == ["erasure.started", "case.disposed", "erasure.finished"]
        r = _as(tmp_path, "mara", "case", "erase", A, "--yes", expect=ExitCode.CONFLICT)
        assert "nothing is held to erase" in r.err
    finally:
        ws.close()


def test_erasure_is_refused_while_consent_stands(office: Path) -> None:  # noqa: ARG001
    """"Data is only entered once parents ... have given permission for information to be kept":
    while that permission stands, the records are not erased."""
    run("case", "open", B, "--consent-to-store", "--as-of", OPENED.isoformat())
    ws = Workspace.load()
    try:
        with pytest.raises(ErasureRefused, match="still has consent to store"):
            erasure.erase_case(ws, B, auth=_login("mara"), today=TODAY, consent="typed")
        with ws.reader() as s:
            assert erasure.offer(s, B)["erasable"] is False and keystore.has_case_key(s, B)
    finally:
        ws.close()


# --- subject access --------------------------------------------------------------------------------

def test_subject_access_request_holds_then_exports_everything_encrypted(office: Path) -> None:
    """"All information held by PPS will be handled in a way that conforms to the requirements of the
    Data Protection Act": a subject access request places a hold at once (nothing is destroyed after
    it), the export holds every document (from the vault, or the discs when the vault copy is gone)
    and every record, encrypted to a passphrase; answering the request lifts the hold."""
    import pyrage

    tmp_path = office
    run("case", "open", A, "--consent-to-store", "--as-of", OPENED.isoformat())
    run("case", "consent", A, "--third-party", "School", "--allow")
    _ingest(tmp_path, "s1", [Cover(A, "retain", "NOTE"), Doc("note", A), Cover(A, "shred", "EHCP"), Doc("ehcp", A)])
    r = run("case", "sar", "open", A, "--note", "request by letter, due in one month")
    hold_id = int(r.out.split("hold ")[1].split()[0])
    [row] = [c for c in run("case", "list", "--json").json() if c["ref"] == A]
    assert [(h["id"], h["reason"]) for h in row["holds"]] == [(hold_id, "sar")]
    run("case", "consent", A, "--store", "no")
    r = _as(tmp_path, "mara", "case", "erase", A, "--yes", expect=ExitCode.ON_HOLD)
    assert "subject access request hold" in r.err

    out = tmp_path / "export" / "a.age"
    out.parent.mkdir()
    env = {"PPS_ARCHIVE_EXPORT_PASSPHRASE": EXPORT_PASSPHRASE}
    r = _as(tmp_path, "sid", "case", "export", A, "--out", str(out), env=env, expect=ExitCode.MANAGER_REQUIRED)
    r = _as(tmp_path, "mara", "case", "export", A, "--out", str(out), env={"PPS_ARCHIVE_EXPORT_PASSPHRASE": "password1"},
            expect=ExitCode.WEAK_PASSPHRASE)
    assert not out.exists() and list(out.parent.iterdir()) == []
    r = _as(tmp_path, "mara", "case", "export", A, "--out", str(out), env=env)
    assert "2 document(s) exported" in r.out and "1 from the vault" in r.out
    raw = out.read_bytes()
    assert raw.startswith(b"age-encryption.org/v1") and b"%PDF" not in raw and A.encode() not in raw
    assert oct(out.stat().st_mode & 0o777) == "0o600"

    ws = Workspace.load()
    try:
        docs = _docs(ws, A)
        kept = [d for d in docs if d.vault_item]
        assert len(kept) == 1

        def opened(path: Path) -> zipfile.ZipFile:
            return zipfile.ZipFile(io.BytesIO(pyrage.passphrase.decrypt(path.read_bytes(), EXPORT_PASSPHRASE)))

        with opened(out) as z:
            names = set(z.namelist())
            assert {"index.html", "manifest.json", "records/case.json", "records/consents.json", "records/holds.json",
                    "records/shred_records.json", "records/audit_events.json"} <= names
            manifest = json.loads(z.read("manifest.json"))
            assert sorted(d["id"] for d in manifest["documents"]) == sorted(d.id for d in docs)
            for d in kept:  # every document, byte for byte: the vault's plaintext
                data = z.read(f"documents/document-{d.id}.pdf")
                assert hashlib.sha256(data).hexdigest() == d.plaintext_sha256 and data.startswith(b"%PDF")
            for name, info in manifest["files"].items():
                assert hashlib.sha256(z.read(name)).hexdigest() == info["sha256"]
            assert json.loads(z.read("records/consents.json"))["third_parties"][0]["party"] == "School"
            assert [h["reason"] for h in json.loads(z.read("records/holds.json"))] == ["sar"]
            assert len(json.loads(z.read("records/shred_records.json"))) == 2
            events = json.loads(z.read("records/audit_events.json"))
            assert {"case.open", "consent.third_party", "sar.opened", "hold.place"} <= {e["action"] for e in events}
            assert f"case {A}" in z.read("index.html").decode()

        # the vault copy gone: the export reads it from the disc, or refuses without it
        [built] = run("media", "build", "--out", str(tmp_path / "discs"), "--json").json()
        vault = Vault(ws.path("vault"))
        vault.path_of(kept[0].vault_item).unlink()
        out2 = tmp_path / "export" / "b.age"
        r = _as(tmp_path, "mara", "case", "export", A, "--out", str(out2), env=env, expect=ExitCode.DOCUMENT_UNAVAILABLE)
        assert f"document {kept[0].id}" in r.err and not out2.exists()
        r = _as(tmp_path, "mara", "case", "export", A, "--out", str(out2), "--media", built["path"], "--close", "--yes", env=env)
        assert "1 from discs" in r.out and f"hold {hold_id} lifted" in r.out
        with opened(out2) as z:
            data = z.read(f"documents/document-{kept[0].id}.pdf")
            assert hashlib.sha256(data).hexdigest() == kept[0].plaintext_sha256
            assert [d["from"] for d in json.loads(z.read("manifest.json"))["documents"] if d["file"]] == [f"disc {built['label']}"]
        [row] = [c for c in run("case", "list", "--json").json() if c["ref"] == A]
        assert row["holds"] == []
        actions = [e["action"] for e in run("audit", "log", "--case", A, "--json").json()]
        assert actions.count("sar.exported") == 2 and actions[-1] == "sar.closed"
    finally:
        ws.close()


def test_a_subject_access_hold_blocks_disposal_until_closed(workspace: Workspace) -> None:
    """"All information held by PPS will be handled in a way that conforms to the requirements of the
    Data Protection Act": destroying information after a subject access request is an offence, so
    the request's hold keeps a case that is due out of the disposal run until it is answered."""
    with workspace.transaction() as s:
        auth = unlocked(s, workspace.config, "mara")
        cases.open_case(s, workspace.config, A, today=dt.date(2018, 1, 1), auth=unlocked(s, None, "mara"), consent_to_store=True)
        hold = subject_access.open_request(s, A, "asked in person", today=TODAY, auth=auth)
        backdate(s, dt.date(2018, 1, 1), [A])
    plan = disposal.dry_run(workspace, [], TODAY)
    assert plan["dispose"] == [] and [(h["case_ref"], h["holds"][0]["id"]) for h in plan["held"]] == [(A, hold.id)]
    with workspace.transaction() as s, pytest.raises(OnHold):
        cases.ensure_not_held(cases.get_case(s, A), "disposal")
    with workspace.transaction() as s, pytest.raises(HoldNotFound):
        subject_access.close_request(s, A, today=TODAY, auth=auth, consent="typed", hold_id=hold.id + 99)
    with workspace.transaction() as s:
        subject_access.close_request(s, A, today=TODAY, auth=auth, consent="typed")
    plan = disposal.dry_run(workspace, [], TODAY)
    assert [d["case_ref"] for d in plan["dispose"]] == [A] and plan["held"] == []


def test_the_export_passphrase_is_strength_checked(workspace: Workspace, tmp_path: Path) -> None:
    """"... conforms to the requirements of the Data Protection Act": the bundle leaves the office
    only under a passphrase that resists guessing; a weak one writes nothing."""
    with workspace.transaction() as s:
        auth = unlocked(s, workspace.config, "mara")
        cases.open_case(s, workspace.config, A, today=OPENED, auth=unlocked(s, None, "mara"), consent_to_store=True)
    with pytest.raises(WeakPassphrase):
        subject_access.export_case(workspace, A, tmp_path / "x.age", "letmein", auth=auth, today=TODAY)
    assert not (tmp_path / "x.age").exists()


# --- the safeguarding exception ------------------------------------------------------------------------

def test_safeguarding_records_are_sealed_held_managers_only_and_audited(office: Path) -> None:
    """"The only exception to keeping information confidential is if there is a concern regarding
    safeguarding. Staff and volunteers have a duty to report their concerns about a child's safety."
    Any member of staff records a concern or a disclosure (who decided, when, to whom, what, why); a
    safeguarding hold is placed; only managers read them; every access is an audit event; the words
    are not in the database in plaintext."""
    tmp_path = office
    run("case", "open", A, "--consent-to-store", "--as-of", OPENED.isoformat())
    concern = "Bruising seen on the child's arm at the school gate"
    r = _as(tmp_path, "sid", "safeguarding", "record", A, "--concern", concern)
    assert "safeguarding concern 1 recorded" in r.out
    [row] = [c for c in run("case", "list", "--json").json() if c["ref"] == A]
    assert [h["reason"] for h in row["holds"]] == ["safeguarding"]
    r = _as(tmp_path, "sid", "safeguarding", "disclose", A, "--to", "MK Children's Social Care front door",
            "--shared", "the concern and the case reference", "--why", "risk of significant harm",
            "--decided-by", "mara", "--on", TODAY.isoformat())
    assert "disclosure 2 recorded" in r.out
    [row] = [c for c in run("case", "list", "--json").json() if c["ref"] == A]
    assert len(row["holds"]) == 1  # one safeguarding hold, not one per record

    r = _as(tmp_path, "sid", "safeguarding", "list", A, expect=ExitCode.MANAGER_REQUIRED)
    assert "needs a manager" in r.err and "Bruising" not in r.out + r.err
    ws = Workspace.load()
    try:
        with ws.transaction() as s, pytest.raises(ManagerRequired):
            safeguarding.list_records(s, A, auth=_login("sid"))
        rows = _as(tmp_path, "mara", "safeguarding", "list", A, "--json").json()
        assert [(x["kind"], x["recorded_by"]) for x in rows] == [("concern", "sid"), ("disclosure", "sid")]
        assert rows[0]["concern"] == concern and rows[0]["decided_by"] == "sid"
        assert (rows[1]["to_whom"], rows[1]["what_shared"], rows[1]["why"], rows[1]["decided_by"], rows[1]["decided_on"]) == (
            "MK Children's Social Care front door", "the concern and the case reference", "risk of significant harm", "mara",
            TODAY.isoformat())
        events = run("audit", "log", "--case", A, "--json").json()
        sg = [(e["actor"], e["action"], e["subject"]) for e in events if e["action"].startswith("safeguarding.")]
        assert sg == [("sid", "safeguarding.concern", "safeguarding:1"), ("sid", "safeguarding.disclosure", "safeguarding:2"),
                      ("sid", "safeguarding.read_refused", f"case:{A}"), ("mara", "safeguarding.read", f"case:{A}")]
        assert not any("Bruising" in json.dumps(e) or "harm" in json.dumps(e) for e in events)
        with ws.reader() as s:  # the words are sealed to the case's key
            sealed = [bytes(x) for x in s.scalars(select(SafeguardingRecord.sealed))]
            assert all(x.startswith(b"age-encryption.org/v1") for x in sealed) and len(sealed) == 2
            dump = b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode()
                            for row_ in s.execute(text("SELECT * FROM safeguarding_records")) for v in row_)
            assert b"Bruising" not in dump and b"Social Care" not in dump and b"significant harm" not in dump
        if ws.engine.dialect.name == "sqlite":
            assert b"Bruising" not in Path(ws.engine.url.database).read_bytes()
        # the hold keeps the case: no erasure while the concern stands
        run("case", "consent", A, "--store", "no")
        r = _as(tmp_path, "mara", "case", "erase", A, "--yes", expect=ExitCode.ON_HOLD)
        assert "safeguarding" in r.err
        with ws.reader() as s:
            assert s.scalars(select(Case.disposed_on).where(Case.ref == A)).one() is None
    finally:
        ws.close()


def test_safeguarding_needs_words(workspace: Workspace) -> None:
    """"Staff and volunteers have a duty to report their concerns about a child's safety": a record
    without the concern in words is refused, and nothing is placed."""
    from pps_archive.errors import InvalidValue

    with workspace.transaction() as s:
        auth = unlocked(s, workspace.config, "mara")
        cases.open_case(s, workspace.config, B, today=OPENED, auth=unlocked(s, None, "mara"), consent_to_store=True)
    with workspace.transaction() as s, pytest.raises(InvalidValue):
        safeguarding.record_concern(s, B, "   ", today=TODAY, auth=auth)
    with workspace.reader() as s:
        assert cases.active_holds(cases.get_case(s, B)) == []


def test_a_confirmation_refused_erases_nothing(office: Path) -> None:  # noqa: ARG001
    """"Data is only entered once parents ... have given permission": erasure is final, so the
    library's front-end asks for typed consent; refused, the key stays."""
    run("case", "open", B, "--as-of", OPENED.isoformat())
    r = run("case", "erase", B, expect=ExitCode.CONFIRMATION_REFUSED)
    assert ConfirmationRefused.exit_code == ExitCode.CONFIRMATION_REFUSED and "nothing was done" in r.err
    ws = Workspace.load()
    try:
        with ws.reader() as s:
            assert keystore.has_case_key(s, B) and cases.get_case(s, B).disposed_on is None
    finally:
        ws.close()


def test_closing_an_export_without_a_request_writes_nothing(workspace: Workspace, tmp_path: Path) -> None:
    """"... conforms to the requirements of the Data Protection Act": an export that was to answer a
    request that is not open is refused before a file is written (no bundle without its audit event)."""
    with workspace.transaction() as s:
        auth = unlocked(s, workspace.config, "mara")
        cases.open_case(s, workspace.config, A, today=OPENED, auth=unlocked(s, None, "mara"), consent_to_store=True)
    with pytest.raises(HoldNotFound):
        subject_access.export_case(workspace, A, tmp_path / "x.age", EXPORT_PASSPHRASE, auth=auth, today=TODAY, close=True)
    assert not (tmp_path / "x.age").exists()
    with workspace.reader() as s:
        assert "sar.exported" not in {e["action"] for e in audit.read_log(s, case_ref=A)}


def test_an_erasure_stopped_after_the_key_went_is_finished_by_running_it_again(
        database_url: str, workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """"Data is only entered once parents ... have given permission for information to be kept":
    once the key is destroyed the erasure is committed; if another program keeps the old bytes in
    the database files, no certificate claims it, and running the erasure again finishes it."""
    import sqlite3

    from sqlalchemy.engine import make_url

    from pps_archive.errors import ErasureUnverified

    monkeypatch.setenv("PPS_ARCHIVE__DISPOSAL__ERASE_WAIT_SECONDS", "1")
    ws = Workspace.load(workspace.data_dir)
    try:
        with ws.transaction() as s:
            auth = unlocked(s, ws.config, "mara")
            cases.open_case(s, ws.config, A, today=OPENED, auth=unlocked(s, None, "mara"))
        if ws.engine.dialect.name == "sqlite":
            reader = sqlite3.connect(ws.engine.url.database, isolation_level=None)
            reader.execute("BEGIN")
        else:
            import psycopg

            reader = psycopg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False))
        reader.execute("SELECT count(*) FROM wrapped_keys").fetchone()  # an old snapshot of the key table, held open
        try:
            with pytest.raises(ErasureUnverified):
                erasure.erase_case(ws, A, auth=auth, today=TODAY, consent="typed")
        finally:
            reader.close()
        with ws.reader() as s:
            assert not keystore.has_case_key(s, A) and cases.get_case(s, A).disposed_on == TODAY  # the erase is committed
        assert not list(ws.path("certificates").glob("erasure-*.json"))
        cert = erasure.erase_case(ws, A, auth=auth, today=TODAY, consent="typed")
        assert cert["keys_destroyed"] == [A] and cert["run"] == 1
        assert [p.name for p in ws.path("certificates").glob("erasure-*.json")] == [f"erasure-{TODAY}-run1.json"]
        with ws.reader() as s:
            actions = [e["action"] for e in audit.read_log(s, case_ref=A)]
        assert actions.count("erasure.started") == 1 and actions.count("erasure.finished") == 1
    finally:
        ws.close()
