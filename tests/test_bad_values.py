"""Values that used to crash or mislead: dates far ahead, case references in other scripts'
digits, ids larger than a database column holds. Each gets a clear message and its exit code."""

from __future__ import annotations

import datetime as dt

import pytest

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE


@pytest.fixture
def archive(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", "PPS-2024-0001", "--consent-to-store", "--as-of", "2024-01-10")
    return database_url


def test_a_date_far_ahead_is_refused_and_listings_keep_working(archive: str) -> None:
    r = run("case", "open", "PPS-2024-0002", "--as-of", "9999-12-31", expect=ExitCode.INVALID_VALUE)
    assert "9999-12-31 is more than a year after today" in r.err and "check the year" in r.err
    next_year = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    run("case", "touch", "PPS-2024-0001", "--on", next_year, expect=ExitCode.INVALID_VALUE)
    run("case", "hold", "PPS-2024-0001", "--reason", "sar", "--note", "x", "--as-of", next_year, expect=ExitCode.INVALID_VALUE)
    run("case", "open", "PPS-2024-0003", "--as-of", "1066-10-14", expect=ExitCode.INVALID_VALUE)
    # a date up to a year ahead is still accepted (a case opened "tomorrow" by a clock a little off)
    run("case", "open", "PPS-2024-0004", "--as-of", (dt.date.today() + dt.timedelta(days=30)).isoformat())
    # listings may look further ahead (what will be due), but not without bound
    rows = run("case", "list", "--json", "--as-of", "2040-01-01").json()
    assert {r["ref"]: r["status"] for r in rows}["PPS-2024-0001"] == "dispose-due"
    r = run("case", "list", "--as-of", "9999-12-31", expect=ExitCode.INVALID_VALUE)
    assert "Traceback" not in r.err
    run("stats", "--as-of", "9999-12-31", expect=ExitCode.INVALID_VALUE)
    run("archive-due", "--as-of", "9999-12-31", expect=ExitCode.INVALID_VALUE)


def test_the_library_refuses_dates_that_would_overflow_the_calendar(workspace) -> None:  # noqa: ANN001
    from pipeline import cases
    from pps_archive.errors import InvalidValue

    with workspace.transaction() as s, pytest.raises(InvalidValue, match="check the year"):
        cases.open_case(s, workspace.config, "PPS-2024-0009", today=dt.date(9999, 12, 31), auth=None)


@pytest.mark.parametrize("ref", ["PPS-٢٠٢٤-٠٠٠١", "PPS-２０２４-０００１", "PPS-2024-000१", "PPſ-2024-0001"])
def test_case_references_are_ascii(archive: str, ref: str) -> None:
    r = run("case", "open", ref, expect=ExitCode.INVALID_CASE_REF)
    assert "is not a case reference" in r.err and r"PPS-\d{4}-\d{4}" in r.err
    assert [c["ref"] for c in run("case", "list", "--json").json()] == ["PPS-2024-0001"]


def test_references_in_ocr_text_are_ascii_too(cfg) -> None:  # noqa: ANN001
    from pipeline.match import find_refs

    assert find_refs(["see PPS-٢٠٢٤-٠٠٠١ and PPS-2024-0007"], cfg) == ["PPS-2024-0007"]


@pytest.mark.parametrize("argv", [
    ["shred", "confirm", "99999999999999999999", "--yes"],
    ["shred", "confirm", "1", "2147483648", "--yes"],
    ["review", "assign", "99999999999999999999", "--case", "PPS-2024-0001", "--shred"],
    ["case", "release", "PPS-2024-0001", "--hold", "99999999999999999999"],
    ["quarantine", "export", "99999999999999999999", "--out", "x"],
    ["restore", "--media", ".", "--document", "99999999999999999999", "-o", "x.pdf"],
])
def test_an_id_too_large_for_the_database_is_a_clear_error(archive: str, argv: list[str]) -> None:
    r = run(*argv, expect=ExitCode.INVALID_VALUE)
    assert "is not an id" in r.err and "2147483647" in r.err, r.err


def test_the_largest_id_is_simply_not_found(archive: str) -> None:
    run("review", "assign", "2147483647", "--case", "PPS-2024-0001", "--shred", expect=ExitCode.DOCUMENT_NOT_FOUND)
