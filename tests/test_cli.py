"""The command line as a user sees it: messages, exit codes, JSON keys of the contract."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE


@pytest.fixture
def home(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    return home


def test_init_is_idempotent_and_private(home: Path) -> None:
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for sub in ("spool", "work", "vault", "quarantine"):
        assert stat.S_IMODE((home / sub).stat().st_mode) == 0o700
    again = run("init")
    assert "up to date" in again.out and "master key: checked" in again.out


def test_init_with_another_passphrase_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", "not the passphrase")
    r = run("init", expect=ExitCode.WRONG_PASSPHRASE)
    assert "passphrase does not open" in r.err
    assert "Traceback" not in r.err


def test_two_passphrase_sources_rejected(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "pass.txt"
    f.write_text(PASSPHRASE)
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE_FILE", str(f))
    r = run("init", expect=ExitCode.PASSPHRASE_SOURCE)
    assert "exactly one source" in r.err


def test_commands_before_init_say_run_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "fresh"))
    r = run("case", "list", expect=ExitCode.NOT_INITIALISED)
    assert "set the archive up first. Run 'pps-archive init' first." in r.err
    assert not (tmp_path / "fresh" / "pps-archive.sqlite3").exists()


def test_bad_config_names_key_and_file(home: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text("[retention]\ndispose_after_years = 'six'\n")
    r = run("--config", str(cfg), "case", "list", expect=ExitCode.CONFIG_INVALID)
    assert f"{cfg}: retention.dispose_after_years: must be a whole number" in r.err


def test_case_list_json_has_the_contract_keys(home: Path) -> None:
    run("case", "open", "PPS-2024-0137", "--consent-to-store", "--as-of", "2024-01-15", "--by", "alice")
    run("case", "open", "PPS-2024-0138", "--anonymous", "--as-of", "2024-02-01")
    run("case", "hold", "PPS-2024-0138", "--reason", "safeguarding", "--note", "reported", "--as-of", "2024-02-02")
    run("case", "touch", "PPS-2024-0137", "--on", "2024-06-30")
    rows = run("case", "list", "--json", "--as-of", "2025-01-10").json()
    assert {"ref", "status", "last_activity", "archive_due", "dispose_after", "holds"} <= set(rows[0])
    by_ref = {r["ref"]: r for r in rows}
    assert by_ref["PPS-2024-0137"]["archive_due"] == "2024-12-30"
    assert by_ref["PPS-2024-0137"]["dispose_after"] == "2030-06-30"
    assert by_ref["PPS-2024-0137"]["status"] == "inactive"
    assert [h["reason"] for h in by_ref["PPS-2024-0138"]["holds"]] == ["safeguarding"]
    hold_id = by_ref["PPS-2024-0138"]["holds"][0]["id"]
    run("case", "release", "PPS-2024-0138", "--hold", str(hold_id), "--yes")
    assert run("case", "list", "--json").json()[1]["holds"] == []


def test_consent_commands(home: Path) -> None:
    run("case", "open", "PPS-2024-0001")
    assert "consent to store recorded" in run("case", "consent", "PPS-2024-0001", "--store", "yes").out
    assert "contact with SEN Team allowed" in run("case", "consent", "PPS-2024-0001", "--third-party", "sen team", "--allow").out
    r = run("case", "consent", "PPS-2024-0001", "--third-party", "Mr Invented", "--allow", expect=ExitCode.INVALID_VALUE)
    assert "role, not a person" in r.err
    r = run("case", "consent", "PPS-2024-0001", expect=2)
    assert "--store" in r.err


def test_user_errors_are_one_line_with_the_fix(home: Path) -> None:
    r = run("case", "touch", "PPS-2024-9999", expect=ExitCode.CASE_NOT_FOUND)
    assert r.err.strip() == (
        "pps-archive: error: no case PPS-2024-9999 in the register: check the reference, or open the case "
        "first. To open it: 'pps-archive case open PPS-2024-9999'."
    )
    run("case", "open", "PPS-2024-0002")
    r = run("case", "release", "PPS-2024-0002", "--hold", "42", "--yes", expect=ExitCode.HOLD_NOT_FOUND)
    assert "no active hold 42" in r.err
    r = run("case", "list", "--as-of", "yesterday", expect=2)
    assert "YYYY-MM-DD" in r.err


def test_audit_verify_passes_then_detects_tampering(home: Path, database_url: str) -> None:
    before = run("audit", "verify", "--json").json()["events"]  # init: master, signing, archive keys; pinned
    run("case", "open", "PPS-2024-0003", "--by", "alice")  # the login, the case, and its key
    r = run("audit", "verify", "--json").json()
    assert r["ok"] and r["events"] == before + 3 == 7
    from sqlalchemy import text

    from pipeline.db import make_engine

    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    engine.dispose()
    r = run("audit", "verify", expect=ExitCode.AUDIT_CHAIN_BROKEN)
    assert "event 2 was changed" in r.err


def test_help_is_instant_no_heavy_imports() -> None:
    code = (
        "import sys; from pipeline.cli import main; "
        "heavy = [m for m in ('sqlalchemy', 'PIL', 'pikepdf', 'ocrmypdf', 'pycdlib', 'zxingcpp', 'pyrage', 'cryptography', 'alembic') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ})
    assert out.stdout.strip() == ""


def test_unwritable_output_path_is_a_clean_error(home: Path, tmp_path: Path) -> None:
    r = run("coversheet", "PPS-2024-0001", "--class", "EHCP", "--shred", "-o", str(tmp_path / "missing" / "x.pdf"),
            expect=ExitCode.FILE_ACCESS)
    assert "cannot use" in r.err and "Traceback" not in r.err
    r = run("keys", "export", "--out", str(tmp_path / "missing" / "k"), "--yes", expect=ExitCode.FILE_ACCESS)
    events = run("audit", "verify", "--json").json()["events"]
    # init: master, signing, archive keys, pinned; then the login; the failed export was not recorded as done
    assert events == 5
    assert [e["action"] for e in run("audit", "log", "--json").json()][-1] == "auth.login"
