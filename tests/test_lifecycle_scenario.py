"""Issue 5: the policy's clock end to end, on an injected clock (--as-of), through the CLI.

open → active → inactive → archived (paper confirmed shredded) → reactivated → disposed, with a
case under a safeguarding hold that is never disposed of, a case reactivated after its disc was
burnt, and a disc that becomes wholly expired. After the real run: the disposed cases' items on the
images cannot be decrypted, their key bytes are not in the SQLite file, and the audit chain holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

A, B, C = "PPS-2020-0001", "PPS-2020-0002", "PPS-2020-0003"  # plain, held, reactivated


def _ingest(tmp: Path, name: str, items: list) -> None:
    batch = ScanFactory(seed=hash(name) % 1000).batch(tmp / "in", name, items, container="pdf-text", dpi=150)
    out = run("ingest", str(batch.files[0]), "--json").json()
    assert out["inputs"][0]["outcome"] == "done", out


def _states(ref: str) -> list[str]:
    return [r["state"] for r in run("shred-list", "--json").json() if r["case_ref"] == ref]


def test_policy_clock_end_to_end(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    for ref in (A, B, C):
        run("case", "open", ref, "--consent-to-store", "--as-of", "2020-01-15")
    _ingest(tmp_path, "a.pdf", [Cover(A, "retain", "PPS-LETTER"), Doc("pps-letter", A), Cover(A, "shred", "EHCP"), Doc("ehcp", A)])
    _ingest(tmp_path, "b.pdf", [Cover(B, "retain", "NOTE"), Doc("note", B)])
    _ingest(tmp_path, "c.pdf", [Cover(C, "retain", "CONSENT"), Doc("consent", C)])

    # active: nothing is due
    assert run("archive-due", "--as-of", "2020-06-01", "--json").json() == []
    assert {r["ref"]: r["status"] for r in run("case", "list", "--json", "--as-of", "2020-06-01").json()} == dict.fromkeys((A, B, C), "active")

    # inactive for six months: due for archiving, with the work still to do
    due = {r["ref"]: r for r in run("archive-due", "--as-of", "2020-08-01", "--json").json()}
    assert set(due) == {A, B, C}
    assert len(due[A]["not_on_verified_disc"]) == 1 and len(due[A]["paper_not_shredded"]) == 2
    run("case", "hold", B, "--reason", "safeguarding", "--note", "referred to the LSCB", "--as-of", "2020-08-01")

    # paper of a retained document waits for a verified disc; a held case's paper waits for the hold
    assert _states(A) == ["blocked", "pending"]
    assert _states(B) == ["blocked"]
    built = run("media", "build", "--out", str(tmp_path / "discs"), "--as-of", "2020-08-02", "--json").json()
    assert [d["label"] for d in built] == ["PPS-2026-001"]
    image = Path(built[0]["path"])
    assert _states(A) == ["blocked", "pending"]  # built is not enough: it must be verified
    run("media", "verify", str(image))
    run("media", "store", "PPS-2026-001", "--location", "locked cupboard, shelf 1")
    assert _states(A) == ["pending", "pending"]
    assert _states(B) == ["blocked"]
    held = next(r for r in run("shred-list", "--json").json() if r["case_ref"] == B)
    r = run("shred", "confirm", str(held["id"]), "--by", "alice", "--yes", expect=ExitCode.SHRED_BLOCKED)
    assert "safeguarding concern hold" in r.err
    ids = [str(r["id"]) for r in run("shred-list", "--json").json() if r["case_ref"] in (A, C)]
    run("shred", "confirm", *ids, "--by", "alice", "--yes", "--as-of", "2020-08-03")
    assert run("archive-due", "--as-of", "2020-08-03", "--json").json()[0]["archived"] is True  # case A

    # C comes back after its disc was burnt
    run("case", "touch", C, "--on", "2023-03-01")

    # six years on: the dry run and the real run agree; B is held back; C is kept
    plan = run("dispose", "--media", str(image), "--as-of", "2026-02-01", "--dry-run", "--json").json()
    assert [d["case_ref"] for d in plan["dispose"]] == [A]
    assert [h["case_ref"] for h in plan["held"]] == [B]
    assert [k["case_ref"] for k in plan["kept_reactivated"]] == [C]
    assert plan["discs_to_destroy"] == []  # B and C still live on it
    r = run("dispose", "--media", str(image), "--as-of", "2026-02-01", expect=ExitCode.CONFIRMATION_REFUSED)
    cert = run("dispose", "--media", str(image), "--as-of", "2026-02-01", "--yes", "--json").json()
    assert [d["case_ref"] for d in cert["destroyed"]] == [d["case_ref"] for d in plan["dispose"]]
    assert cert["keys_destroyed"] == [A]
    assert [h["case_ref"] for h in cert["held_back"]] == [B]
    assert [d["label"] for d in cert["discs_to_consolidate"]] == ["PPS-2026-001"]
    stored = json.loads(Path(cert["files"][0]).read_text())
    assert stored["audit_head"] == run("audit", "verify", "--json").json()["head"]

    # running it again is harmless: nothing more to do
    again = run("dispose", "--media", str(image), "--as-of", "2026-02-01", "--yes", "--json").json()
    assert again["destroyed"] == []

    # A's item on the image can no longer be decrypted; B's and C's still can
    full = run("media", "verify", "--full", str(image), "--json").json()[0]
    assert (full["decrypted"], full["without_key"]) == (2, 1)
    doc_a = next(d for d in run("documents", "--json").json() if d["case_ref"] == A and d["class"] == "PPS-LETTER")
    assert doc_a["state"] == "disposed" and doc_a["source_pages"] == [] and doc_a["reason"] == "disposed"

    # years later the hold is released and the remaining cases expire: the disc expires whole
    hold_id = next(r for r in run("case", "list", "--json").json() if r["ref"] == B)["holds"][0]["id"]
    run("case", "release", B, "--hold", str(hold_id))  # recorded dates lie at most a year ahead
    cert = run("dispose", "--media", str(image), "--as-of", "2031-01-01", "--yes", "--json").json()
    assert sorted(d["case_ref"] for d in cert["destroyed"]) == [B, C]
    assert [(d["label"], d["location"]) for d in cert["discs_to_destroy"]] == [("PPS-2026-001", "locked cupboard, shelf 1")]
    full = run("media", "verify", "--full", str(image), "--json").json()[0]
    assert (full["decrypted"], full["without_key"]) == (0, 3)
    assert {r["ref"]: r["status"] for r in run("case", "list", "--json", "--as-of", "2031-01-01").json()} == dict.fromkeys((A, B, C), "disposed")
    run("audit", "verify")
    stats = run("stats", "--json", "--as-of", "2031-01-01").json()
    assert stats["cases_opened_by_month"] == {"2020-01": "<5"}


def test_disposed_key_bytes_are_not_in_the_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", A, "--consent-to-store", "--as-of", "2020-01-15")
    _ingest(tmp_path, "k.pdf", [Cover(A, "retain", "NOTE"), Doc("note", A)])
    import sqlite3

    db = home / "pps-archive.sqlite3"
    with sqlite3.connect(db) as conn:
        [(record, public)] = conn.execute("SELECT record, public FROM wrapped_keys WHERE case_ref = ?", (A,)).fetchall()
    probes = [bytes(record)[i:i + 32] for i in range(40, len(record) - 32, 97)] + [public.encode()]
    files = lambda: [p for p in home.iterdir() if p.name.startswith("pps-archive.sqlite3")]  # noqa: E731
    assert any(probe in f.read_bytes() for f in files() for probe in probes)  # the probe finds them before
    run("dispose", "--media", str(_build(tmp_path)), "--as-of", "2027-01-01", "--yes")
    leftovers = [(f.name, probes.index(p)) for f in files() for p in probes if p in f.read_bytes()]
    assert leftovers == []
    run("audit", "verify")


def _build(tmp_path: Path) -> Path:
    built = run("media", "build", "--out", str(tmp_path / "discs"), "--json").json()
    run("media", "verify", built[0]["path"])
    return Path(built[0]["path"])


def test_consolidation_then_destruction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", A, "--consent-to-store", "--as-of", "2020-01-15")
    run("case", "open", C, "--consent-to-store", "--as-of", "2020-01-15")
    _ingest(tmp_path, "k1.pdf", [Cover(A, "retain", "NOTE"), Doc("note", A), Cover(C, "retain", "NOTE"), Doc("note", C)])
    image = _build(tmp_path)
    run("case", "touch", C, "--on", "2024-01-01")
    cert = run("dispose", "--media", str(image), "--as-of", "2026-03-01", "--yes", "--json").json()
    assert [d["label"] for d in cert["discs_to_consolidate"]] == ["PPS-2026-001"]
    r = run("media", "destroy", "PPS-2026-001", "--yes", expect=ExitCode.NOT_ARCHIVED)
    assert "--consolidate PPS-2026-001" in r.err
    built = run("media", "build", "--out", str(tmp_path / "new"), "--consolidate", "PPS-2026-001", "--json").json()
    assert [(b["label"], b["items"]) for b in built] == [("PPS-2030-001", 1)]
    run("media", "verify", built[0]["path"])
    run("media", "destroy", "PPS-2026-001", "--yes")
    assert {d["label"]: d["status"] for d in run("media", "list", "--json").json()} == {
        "PPS-2026-001": "destroyed", "PPS-2030-001": "verified"}
