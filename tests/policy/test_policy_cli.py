"""The CLI of issue 12 as a user sees it: reports to the LA, statistics over time, messages, diaries."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.policy.conftest import PASSWORDS

REF = "PPS-2026-0707"


def _file(tmp_path: Path, name: str, secret: str) -> str:
    path = tmp_path / f"{name}.pw"
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return str(path)


def _as(tmp_path: Path, name: str) -> dict[str, str]:
    return {"PPS_ARCHIVE_USER": name, "PPS_ARCHIVE_PASSWORD_FILE": _file(tmp_path, f"login-{name}", PASSWORDS[name])}


@pytest.fixture
def home(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    for name in ("alice", "bob", "carol"):
        role = "manager" if name == "carol" else "staff"
        run("staff", "add", name, "--role", role, env={"PPS_ARCHIVE_NEW_PASSWORD_FILE": _file(tmp_path, name, PASSWORDS[name])})
    run("case", "open", REF, "--consent-to-store", "--as-of", "2026-01-05", env=_as(tmp_path, "alice"))
    return tmp_path / "home"


def test_la_issue_report_is_anonymous_until_the_permission_is_recorded(home: Path, tmp_path: Path) -> None:
    """Policy: "... this is done in a way to protect the parent/carer's anonymity, unless they give
    permission to be identified" — at the command line: refused with exit 94, then allowed."""
    me = _as(tmp_path, "alice")
    r = run("report", "la-issue", "--case", REF, "--issue", "long wait", env=me, expect=ExitCode.IDENTIFICATION_REFUSED)
    assert f"case consent {REF} --identify-to-la yes" in r.err
    out = run("report", "la-issue", "--issue", f"Ms Eirlys Rhydderch ({REF}) waited 30 weeks.",
              "--detail", "Parent/carer=Eirlys Rhydderch", env=me).out
    assert "Rhydderch" not in out and REF not in out and "waited 30 weeks" in out
    run("case", "consent", REF, "--identify-to-la", "yes", env=me)
    pdf = tmp_path / "la.pdf"
    r = run("report", "la-issue", "--case", REF, "--issue", "long wait", "--detail", "Parent/carer=Eirlys Rhydderch",
            "-o", str(pdf), "--json", env=me).json()
    assert r["identified"] is True and r["case_ref"] == REF and pdf.read_bytes().startswith(b"%PDF")


def test_report_stats_writes_csv_pdf_and_svg(home: Path, tmp_path: Path) -> None:
    """Policy: "Statistical reports produced from the database are all anonymous" — as CSV, PDF, SVG."""
    out = tmp_path / "s"
    out.mkdir()
    run("report", "stats", "--from", "2026-01-01", "--to", "2026-03-31", "--csv", str(out / "t.csv"),
        "--pdf", str(out / "t.pdf"), "--svg", str(out / "t.svg"), "--chart", "cases")
    rows = list(csv.DictReader(io.StringIO((out / "t.csv").read_text())))
    assert [r["month"] for r in rows] == ["2026-01", "2026-02", "2026-03"] and rows[0]["cases_opened"] == "<5"
    assert (out / "t.pdf").read_bytes().startswith(b"%PDF") and "<svg" in (out / "t.svg").read_text()
    assert run("report", "stats", "--from", "2026-01-01", "--to", "2026-01-31", "--json").json()["months"] == ["2026-01"]


def test_message_and_diary_at_the_command_line(home: Path, tmp_path: Path) -> None:
    """Policy: the message says who it is for, who called and the number (refused with exit 95 if it
    would say more); the diary shows everyone where, and only the adviser and managers who with."""
    env = {**_as(tmp_path, "alice"), "PPS_ARCHIVE__MESSAGES__PHONE": "01908 000000"}
    out = run("message", "--for", "Mrs Rhydderch", "--caller", "Alice", "--case", REF, env=env).out
    assert out.strip() == "This is a message for Mrs Rhydderch. Alice called and would like you to call back on 01908 000000. Thank you."
    run("message", "--for", f"Mrs Rhydderch re {REF}", "--caller", "Alice", env=env, expect=ExitCode.WOULD_IDENTIFY)
    run("diary", "book", "--at", "2026-12-08 10:00", "--place", "Galley Hill, room 2", "--case", REF, env=_as(tmp_path, "alice"))
    mine = run("diary", "week", "--from", "2026-12-07", "--json", env=_as(tmp_path, "alice")).json()
    theirs = run("diary", "week", "--from", "2026-12-07", "--json", env=_as(tmp_path, "bob")).json()
    assert [(x["staff"], x["place"], x["case_ref"]) for x in mine] == [("alice", "Galley Hill, room 2", REF)]
    assert [(x["staff"], x["place"], x["case_ref"]) for x in theirs] == [("alice", "Galley Hill, room 2", None)]
    assert next(c for c in run("case", "list", "--json").json() if c["ref"] == REF)["last_activity"] == "2026-12-08"


def test_coversheet_archiving_flag(home: Path, tmp_path: Path) -> None:
    """An archiving cover sheet is printed with the fourth field ARCHIVE, in its barcode and in words."""
    from tests.factory._sheets import pdf_words

    out = tmp_path / "sheet.pdf"
    r = run("coversheet", REF, "--class", "NOTE", "--retain", "--archiving", "-o", str(out))
    assert "archiving" in r.out
    assert f"{REF}|RETAIN|NOTE|ARCHIVE" in " ".join(pdf_words(out))
