"""Issue 5: the policy's clock end to end, on an injected clock, through the CLI.

open → active → inactive → archived (paper confirmed shredded) → reactivated → disposed, with a
case under a safeguarding hold that is never disposed of, a case reactivated after its disc was
burnt, and a disc that becomes wholly expired. After the real run: the disposed cases' items on the
images cannot be decrypted, their key bytes are not in the SQLite file, and the audit chain holds.

Intake and the destructive commands run on the real date, so the cases open five years before
today (their documents can still be filed) and every step on a date still to come (the disposal
runs, releasing the hold then) goes through the library with its injected ``today``; the CLI's
refusal of such a date is checked on the way.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from pipeline.dates import add_months, add_years
from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

# The cover sheets are archiving sheets (issue 12): these tests set the cases' dates with --as-of, and a
# document filed today behind an ordinary sheet would be new activity, moving those dates to today.

TODAY = dt.date.today()
T0 = dt.date(TODAY.year - 5, 1, 15)  # the cases open; their disposal date is after today
YEAR = T0.year
A, B, C = f"PPS-{YEAR}-0001", f"PPS-{YEAR}-0002", f"PPS-{YEAR}-0003"  # plain, held, reactivated
DISC = f"PPS-{YEAR + 6}-001"


def d(months: int = 0, days: int = 0) -> str:
    return (add_months(T0, months) + dt.timedelta(days=days)).isoformat()


def _ingest(tmp: Path, name: str, items: list) -> None:
    batch = ScanFactory(seed=hash(name) % 1000).batch(tmp / "in", name, items, container="pdf-text", dpi=150)
    out = run("ingest", str(batch.files[0]), "--json").json()
    assert out["inputs"][0]["outcome"] == "done", out
    assert all(doc["decision"] != "review" for doc in run("documents", "--json").json()), "the cases are live: filed, not reviewed"


def _states(ref: str, *as_of: str) -> list[str]:
    return [r["state"] for r in run("shred-list", "--json", *as_of).json() if r["case_ref"] == ref]


def _library(home: Path, actor: str = "bob"):  # noqa: ANN202 - (workspace, unlocked key store)
    from pipeline.workspace import Workspace
    from tests.auth_helpers import unlocked

    ws = Workspace.load(home)
    with ws.transaction() as s:
        return ws, unlocked(s, ws.config, actor)


def _dispose_on(home: Path, images: list[Path], day: dt.date, *, release: tuple[str, int] | None = None) -> dict:
    """A disposal run (and a hold released first) on a day still to come, through the library, by
    two people: alice prepares the plan, bob approves and executes it."""
    from pipeline import cases, disposal_plans

    from unittest import mock

    ws, auth = _library(home)
    try:
        if release is not None:
            with mock.patch("pipeline.dates.real_today", return_value=day), ws.transaction() as s:
                cases.release_hold(s, release[0], release[1], today=day, auth=auth, consent="--yes")
        with ws.transaction() as s:
            from tests.auth_helpers import unlocked

            alice = unlocked(s, ws.config, "alice")
        with mock.patch("pipeline.dates.real_today", return_value=day):  # the real date moved on to that day
            prepared = disposal_plans.prepare(ws, images, day, auth=alice)
            disposal_plans.approve(ws, prepared["id"], prepared["sha256"], auth=auth, consent="typed")
            cert = disposal_plans.execute(ws, prepared["id"], images, auth=auth, consent="--yes")
        assert [d["case_ref"] for d in cert["destroyed"]] == [d["case_ref"] for d in prepared["plan"]["dispose"]]
        assert cert["approvers"] == ["alice", "bob"]
        return cert
    finally:
        ws.close()


def test_policy_clock_end_to_end(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("PPS_ARCHIVE__MEDIA__ARCHIVE_MEDIUM", '"image-files"')  # the drive's part: test_archive_e2e
    run("init")
    for ref in (A, B, C):
        run("case", "open", ref, "--consent-to-store", "--as-of", d())
    _ingest(tmp_path, "a.pdf", [Cover(A, "retain", "PPS-LETTER", archiving=True), Doc("pps-letter", A), Cover(A, "shred", "EHCP", archiving=True), Doc("ehcp", A)])
    _ingest(tmp_path, "b.pdf", [Cover(B, "retain", "NOTE", archiving=True), Doc("note", B)])
    _ingest(tmp_path, "c.pdf", [Cover(C, "retain", "CONSENT", archiving=True), Doc("consent", C)])

    # active: nothing is due, and no paper of a live case is to be shredded yet
    assert run("archive-due", "--as-of", d(4), "--json").json() == []
    assert {r["ref"]: r["status"] for r in run("case", "list", "--json", "--as-of", d(4)).json()} == dict.fromkeys((A, B, C), "active")
    rows = [r for r in run("shred-list", "--json", "--as-of", d(4)).json() if r["case_ref"] == A]
    assert [(r["state"], r["due_on"]) for r in rows] == [("waiting", d(6))] * 2
    r = run("shred", "confirm", str(rows[1]["id"]), "--by", "alice", "--yes", "--as-of", d(4), expect=ExitCode.SHRED_NOT_DUE)
    assert f"case {A} is still active" in r.err and d(6) in r.err

    # inactive for six months: due for archiving, with the work still to do
    due = {r["ref"]: r for r in run("archive-due", "--as-of", d(7), "--json").json()}
    assert set(due) == {A, B, C}
    assert len(due[A]["not_on_verified_disc"]) == 1 and len(due[A]["paper_not_shredded"]) == 2
    run("case", "hold", B, "--reason", "safeguarding", "--note", "referred to the LSCB", "--as-of", d(7))

    # paper of a retained document waits for a verified disc; a held case's paper waits for the hold
    assert _states(A) == ["blocked", "pending"]
    assert _states(B) == ["blocked"]
    built = run("media", "build", "--out", str(tmp_path / "discs"), "--as-of", d(7, 1), "--json").json()
    assert [d_["label"] for d_ in built] == [DISC]
    image = Path(built[0]["path"])
    assert _states(A) == ["blocked", "pending"]  # built is not enough: it must be verified
    run("media", "verify", "--full", str(image))
    run("media", "store", DISC, "--location", "locked cupboard, shelf 1")
    assert _states(A) == ["pending", "pending"]
    assert _states(B) == ["blocked"]
    held = next(r for r in run("shred-list", "--json").json() if r["case_ref"] == B)
    r = run("shred", "confirm", str(held["id"]), "--by", "alice", "--yes", expect=ExitCode.SHRED_BLOCKED)
    assert "safeguarding concern hold" in r.err
    ids = [str(r["id"]) for r in run("shred-list", "--json").json() if r["case_ref"] in (A, C)]
    run("shred", "confirm", *ids, "--by", "alice", "--yes", "--as-of", d(7, 2))
    assert run("archive-due", "--as-of", d(7, 2), "--json").json()[0]["archived"] is True  # case A

    # C comes back after its disc was burnt
    run("case", "touch", C, "--on", d(38))

    # six years on: the dry run (any date) and the real run (the library: that date is still to come) agree
    day = add_years(T0, 6) + dt.timedelta(days=17)
    plan = run("dispose", "--media", str(image), "--as-of", day.isoformat(), "--dry-run", "--json").json()
    assert [x["case_ref"] for x in plan["dispose"]] == [A]
    assert [h["case_ref"] for h in plan["held"]] == [B]
    assert [k["case_ref"] for k in plan["kept_reactivated"]] == [C]
    assert plan["discs_to_destroy"] == []  # B and C still live on it
    if day > TODAY:
        r = run("dispose", "--media", str(image), "--as-of", day.isoformat(), "--yes", expect=ExitCode.FUTURE_DATE)
        assert "runs on the real date" in r.err
    cert = _dispose_on(home, [image], day)
    assert [x["case_ref"] for x in cert["destroyed"]] == [x["case_ref"] for x in plan["dispose"]]
    assert cert["keys_destroyed"] == [A]
    assert [h["case_ref"] for h in cert["held_back"]] == [B]
    assert [x["label"] for x in cert["discs_to_consolidate"]] == [DISC]
    stored = json.loads(Path(cert["files"][0]).read_text())
    assert stored["audit_head"] == run("audit", "verify", "--json").json()["head"]

    # running it again is harmless: nothing more to do
    assert _dispose_on(home, [image], day)["destroyed"] == []

    # A's item on the image can no longer be decrypted; B's and C's still can
    full = run("media", "verify", "--full", str(image), "--json").json()[0]
    assert (full["decrypted"], full["without_key"]) == (2, 1)
    doc_a = next(x for x in run("documents", "--json").json() if x["case_ref"] == A and x["class"] == "PPS-LETTER")
    assert doc_a["state"] == "disposed" and doc_a["source_pages"] == [] and doc_a["reason"] == "disposed"

    # years later the hold is released and the remaining cases expire: the disc expires whole
    later = add_years(T0, 11)
    hold_id = next(r for r in run("case", "list", "--json").json() if r["ref"] == B)["holds"][0]["id"]
    r = run("case", "release", B, "--hold", str(hold_id), "--as-of", later.isoformat(), "--yes", expect=ExitCode.FUTURE_DATE)
    assert [h["id"] for h in next(r for r in run("case", "list", "--json").json() if r["ref"] == B)["holds"]] == [hold_id]
    cert = _dispose_on(home, [image], later, release=(B, hold_id))
    assert sorted(x["case_ref"] for x in cert["destroyed"]) == [B, C]
    assert [(x["label"], x["location"]) for x in cert["discs_to_destroy"]] == [(DISC, "locked cupboard, shelf 1")]
    full = run("media", "verify", "--full", str(image), "--json").json()[0]
    assert (full["decrypted"], full["without_key"]) == (0, 3)
    statuses = {r["ref"]: r["status"] for r in run("case", "list", "--json", "--as-of", later.isoformat()).json()}
    assert statuses == dict.fromkeys((A, B, C), "disposed")
    run("audit", "verify")
    stats = run("stats", "--json", "--as-of", later.isoformat()).json()
    assert stats["cases_opened_by_month"] == {f"{YEAR}-01": "<5"}


def test_a_destructive_command_refuses_a_later_date_and_destroys_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 8: 'dispose --as-of 2099-01-01 --yes' destroyed the keys of cases due years later."""
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "1")  # the one-person '--yes' run
    run("init")
    run("case", "open", A, "--consent-to-store", "--as-of", d())
    _ingest(tmp_path, "f.pdf", [Cover(A, "retain", "NOTE", archiving=True), Doc("note", A)])
    image = _build(tmp_path)
    r = run("dispose", "--media", str(image), "--as-of", "2099-01-01", "--yes", expect=ExitCode.FUTURE_DATE)
    assert "runs on the real date" in r.err and "2099-01-01" in r.err
    assert run("dispose", "--media", str(image), "--as-of", "2099-01-01", "--dry-run", "--json").json()["dispose"][0]["case_ref"] == A
    assert {r["ref"]: r["status"] for r in run("case", "list", "--json").json()} == {A: "inactive"}
    run("keys", "export-case", A, "--out", str(tmp_path / "a.key"), "--yes")  # the key is still there
    entry = run("shred-list", "--json").json()[0]["id"]
    for argv in (["shred", "confirm", str(entry), "--by", "alice"], ["media", "destroy", DISC],
                 ["keys", "export", "--out", str(tmp_path / "k")], ["case", "release", A, "--hold", "1"]):
        r = run(*argv, "--as-of", "2099-01-01", "--yes", expect=ExitCode.FUTURE_DATE)
        assert "runs on the real date" in r.err, argv
    assert not (tmp_path / "k").exists()
    assert run("media", "list", "--json").json()[0]["status"] == "verified"
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", "not the passphrase")  # on the real date, but not unlocked
    run("dispose", "--media", str(image), "--yes", expect=ExitCode.WRONG_PASSPHRASE)
    assert not (home / "certificates").exists() or not any((home / "certificates").iterdir())


def test_destructive_commands_need_the_passphrase_and_record_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", A, "--consent-to-store", "--as-of", d())
    hold = run("case", "hold", A, "--reason", "sar", "--note", "request received", "--as-of", d(1)).out
    hold_id = int(hold.split("hold ")[1].split()[0])
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", "not the passphrase")
    for argv in (["case", "release", A, "--hold", str(hold_id), "--yes"], ["keys", "export", "--out", str(tmp_path / "k"), "--yes"],
                 ["shred", "confirm", "1", "--by", "alice", "--yes"], ["media", "destroy", DISC, "--yes"]):
        # the first wrong passphrase starts a backoff: the next attempts, too soon, are refused untried
        r = run(*argv, expect=ExitCode.WRONG_PASSPHRASE if argv[0] == "case" else ExitCode.RECOVERY_BACKOFF)
        assert argv[0] == "case" or "try again after" in r.err
    time.sleep(1.5)  # the backoff after one failure (staff.backoff_seconds) is over
    monkeypatch.delenv("PPS_ARCHIVE_PASSPHRASE")  # no passphrase at all (not a terminal): refused too
    r = run("case", "release", A, "--hold", str(hold_id), "--yes", expect=ExitCode.PASSPHRASE_SOURCE)
    assert "needs the master passphrase" in r.err
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    # lifting a hold asks for typed consent, like the other destructive commands
    run("case", "release", A, "--hold", str(hold_id), expect=ExitCode.CONFIRMATION_REFUSED)
    assert [h["id"] for h in run("case", "list", "--json").json()[0]["holds"]] == [hold_id]
    assert not (tmp_path / "k").exists()
    run("case", "release", A, "--hold", str(hold_id), "--yes", "--by", "carol")
    run("keys", "export", "--out", str(tmp_path / "k"), "--yes", "--by", "carol")
    events = _events(home)
    # the recovery passphrase is no one's own: the log says so, with the name given beside it
    assert [(e.actor, json.loads(e.details)["unlocked_with"], json.loads(e.details)["claimed_by"])
            for e in events if e.action in ("hold.release", "keys.exported")] == [
        ("recovery", "recovery passphrase", "carol"), ("recovery", "recovery passphrase", "carol")]


def _events(home: Path) -> list:
    from sqlalchemy import select

    from pipeline.models import AuditEvent
    from pipeline.workspace import Workspace

    ws = Workspace.load(home)
    try:
        with ws.reader() as s:
            return list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    finally:
        ws.close()


def test_dispose_and_shred_confirm_are_refused_while_the_audit_chain_is_broken(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import text

    from pipeline.db import make_engine

    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("PPS_ARCHIVE__MEDIA__ARCHIVE_MEDIUM", '"image-files"')
    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "1")  # the one-person '--yes' run
    run("init")
    run("case", "open", A, "--consent-to-store", "--as-of", d())
    _ingest(tmp_path, "g.pdf", [Cover(A, "retain", "NOTE", archiving=True), Doc("note", A), Cover(A, "shred", "EHCP", archiving=True), Doc("ehcp", A)])
    image = _build(tmp_path, expect=0)
    entry = next(r for r in run("shred-list", "--json").json() if r["class"] == "EHCP")
    assert entry["state"] == "pending"
    engine = make_engine(database_url)
    with engine.begin() as conn:  # someone deletes an event from the middle of the log
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    engine.dispose()
    r = run("shred", "confirm", str(entry["id"]), "--by", "alice", "--yes", expect=ExitCode.AUDIT_CHAIN_BROKEN)
    assert "event 2 is missing" in r.err
    run("dispose", "--media", str(image), "--yes", expect=ExitCode.AUDIT_CHAIN_BROKEN)
    assert next(r for r in run("shred-list", "--json").json() if r["class"] == "EHCP")["state"] == "pending"


def test_disposed_key_bytes_are_not_in_the_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", A, "--consent-to-store", "--as-of", d())
    _ingest(tmp_path, "k.pdf", [Cover(A, "retain", "NOTE", archiving=True), Doc("note", A)])
    import sqlite3

    db = home / "pps-archive.sqlite3"
    with sqlite3.connect(db) as conn:
        [(record, public)] = conn.execute("SELECT record, public FROM wrapped_keys WHERE case_ref = ?", (A,)).fetchall()
    probes = [bytes(record)[i:i + 32] for i in range(40, len(record) - 32, 97)] + [public.encode()]
    files = lambda: [p for p in home.iterdir() if p.name.startswith("pps-archive.sqlite3")]  # noqa: E731
    assert any(probe in f.read_bytes() for f in files() for probe in probes)  # the probe finds them before
    _dispose_on(home, [_build(tmp_path)], add_years(T0, 6) + dt.timedelta(days=1))
    leftovers = [(f.name, probes.index(p)) for f in files() for p in probes if p in f.read_bytes()]
    assert leftovers == []
    run("audit", "verify")


def _build(tmp_path: Path, expect: int = ExitCode.NOT_READ_FROM_DISC) -> Path:
    built = run("media", "build", "--out", str(tmp_path / "discs"), "--json").json()
    run("media", "verify", built[0]["path"], expect=expect)
    return Path(built[0]["path"])


def test_consolidation_then_destruction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE__MEDIA__ARCHIVE_MEDIUM", '"image-files"')
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", A, "--consent-to-store", "--as-of", d())
    run("case", "open", C, "--consent-to-store", "--as-of", d())
    _ingest(tmp_path, "k1.pdf", [Cover(A, "retain", "NOTE", archiving=True), Doc("note", A), Cover(C, "retain", "NOTE", archiving=True), Doc("note", C)])
    image = _build(tmp_path, expect=0)
    run("case", "touch", C, "--on", d(48))
    cert = _dispose_on(home, [image], add_years(T0, 6) + dt.timedelta(days=45))
    assert [x["label"] for x in cert["discs_to_consolidate"]] == [DISC]
    r = run("media", "destroy", DISC, "--yes", expect=ExitCode.NOT_ARCHIVED)
    assert f"--consolidate {DISC}" in r.err
    built = run("media", "build", "--out", str(tmp_path / "new"), "--consolidate", DISC, "--json").json()
    new = f"PPS-{add_years(add_months(T0, 48), 6).year}-001"
    assert [(b["label"], b["items"]) for b in built] == [(new, 1)]
    run("media", "verify", built[0]["path"])  # quick: the item was never decrypted and re-hashed
    r = run("media", "destroy", DISC, "--yes", expect=ExitCode.NOT_ARCHIVED)
    run("media", "verify", "--full", built[0]["path"])
    run("media", "destroy", DISC, "--yes")
    assert {x["label"]: x["status"] for x in run("media", "list", "--json").json()} == {DISC: "destroyed", new: "verified"}
