"""Rules a second front-end needs, in library functions (issue 10): what a cover sheet may say,
the shred-list filters, the default disc capacity, where a new passphrase comes from, what a
staff name is, and the error classes a web layer maps."""

from __future__ import annotations

from pathlib import Path

import pytest

from pps_archive.errors import (
    Conflict, ExitCode, InvalidCaseRef, InvalidValue, NotFound, PassphraseSourceError, WeakPassphrase,
)
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE


def test_cover_sheet_rules(cfg) -> None:  # noqa: ANN001
    from pipeline.coversheets import cover_sheet
    from scanners.coversheet import format_payload

    sheet = cover_sheet(cfg, " pps-2024-0137 ", "EHCP", "retain")
    assert format_payload(sheet) == "PPS-2024-0137|RETAIN|EHCP"
    with pytest.raises(InvalidValue, match="not a document class"):
        cover_sheet(cfg, "PPS-2024-0137", "SHOPPING-LIST", "retain")
    with pytest.raises(InvalidValue, match="not a cover-sheet decision"):
        cover_sheet(cfg, "PPS-2024-0137", "EHCP", "keep")
    with pytest.raises(InvalidCaseRef):
        cover_sheet(cfg, "Smith family", "EHCP", "shred")


def test_cover_sheet_command_uses_the_library_rule(tmp_path: Path) -> None:
    out = tmp_path / "sheet.pdf"
    r = run("coversheet", "pps-2024-0137", "--class", "EHCP", "--shred", "-o", str(out))
    assert r.out.strip() == f"cover sheet for PPS-2024-0137 (SHRED EHCP) written to {out}" and out.stat().st_size > 0
    r = run("coversheet", "PPS-2024-0137", "--class", "NOPE", "--shred", "-o", str(out), expect=ExitCode.INVALID_VALUE)
    assert "'NOPE' is not a document class" in r.err


def test_shred_list_states_filter(session, cfg) -> None:  # noqa: ANN001
    import datetime as dt

    from pipeline import shredding

    assert shredding.check_states(None) == shredding.STATES
    assert shredding.check_states([" Pending", "pending", "BLOCKED"]) == ("pending", "blocked")
    with pytest.raises(InvalidValue, match="'shredded' is not a shred-list state"):
        shredding.check_states(["pending", "shredded"])
    with pytest.raises(InvalidValue):
        shredding.check_states([])
    assert shredding.shred_list(session, cfg, today=dt.date.today(), states=["confirmed"]) == []


def test_shred_list_state_option(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    assert run("shred-list", "--state", "pending", "--state", "waiting", "--json").json() == []
    r = run("shred-list", "--state", "gone", expect=ExitCode.INVALID_VALUE)
    assert "is not a shred-list state" in r.err


def test_default_disc_capacity_lives_in_the_library(session, cfg) -> None:  # noqa: ANN001
    from pipeline import media

    assert media.default_capacity(cfg) == 580 * 2**20  # config/default.toml: media.capacity = "580MiB"
    assert media.plan(session, cfg) == media.plan(session, cfg, media.default_capacity(cfg)) == []


def test_new_passphrase_sources() -> None:
    from pipeline.passphrase import ENV_NEW_VALUE, get_new_passphrase

    asked: list[tuple[str, bool]] = []

    def prompt(text: str, confirm: bool) -> str:
        asked.append((text, confirm))
        return "ferry lantern oboe quartz gravel"

    assert get_new_passphrase({}, prompt) == b"ferry lantern oboe quartz gravel"
    assert asked == [("New master passphrase", True)]  # typed twice
    assert get_new_passphrase({ENV_NEW_VALUE: "correct horse battery staple"}, prompt) == PASSPHRASE.encode()
    assert len(asked) == 1  # a variable set: no prompt
    with pytest.raises(WeakPassphrase, match="the new passphrase is too weak"):
        get_new_passphrase({ENV_NEW_VALUE: "password1234"}, None)
    with pytest.raises(PassphraseSourceError, match="is empty"):
        get_new_passphrase({ENV_NEW_VALUE: ""}, None)
    with pytest.raises(PassphraseSourceError, match=r"\$PPS_ARCHIVE_NEW_PASSPHRASE"):
        get_new_passphrase({}, None)


def test_new_password_from_a_file(tmp_path: Path) -> None:
    """The same function serves a staff password read from a file for scripts."""
    from pipeline.passphrase import get_new_passphrase

    secret = tmp_path / "pw"
    secret.write_text("ferry lantern oboe quartz gravel\n")
    secret.chmod(0o600)
    env = {"PW_FILE": str(secret)}
    assert get_new_passphrase(env, None, env_value="PW", env_file="PW_FILE", what="the password") == \
        b"ferry lantern oboe quartz gravel"
    with pytest.raises(PassphraseSourceError, match="exactly one source"):
        get_new_passphrase({**env, "PW": "x"}, None, env_value="PW", env_file="PW_FILE")


def test_staff_names() -> None:
    from pipeline.actors import staff_name

    assert staff_name("  Office \t Manager ") == "Office Manager"
    for bad in ("", "   ", None, "x" * 65, "a\x07b"):
        with pytest.raises(InvalidValue, match="staff name"):
            staff_name(bad)


def test_shred_confirm_by_is_a_staff_name(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``shred confirm --by`` had no check at all: a blank name went into the audit log's actor."""
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    r = run("shred", "confirm", "1", "--by", "   ", "--yes", expect=ExitCode.USAGE)  # refused as a bad --by value
    assert "staff name" in r.err


def test_errors_a_web_layer_maps_come_through_the_cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not found and conflict get their own exit codes; the CLI prints the library's message and
    then its own hint."""
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    r = run("shred", "confirm", "99", "--by", "Office Manager", "--yes", expect=ExitCode.NOT_FOUND)
    assert r.err.strip() == ("pps-archive: error: no shred-list entry 99: check the entries' ids. "
                             "See them with 'pps-archive shred-list'.")
    r = run("media", "store", "PPS-2031-001", "--location", "cupboard", expect=ExitCode.DISC_NOT_FOUND)
    assert "no disc PPS-2031-001 in the disc register" in r.err and "'pps-archive media list'" in r.err
    assert issubclass(NotFound, Exception) and Conflict.http_status == 409


def test_blocked_reasons_are_neutral_and_carry_the_cli_hint() -> None:
    from pipeline.shredding import NOT_ON_DISC, Reason

    assert "pps-archive" not in NOT_ON_DISC and "'pps-archive media build'" in NOT_ON_DISC.cli_hint
    assert isinstance(NOT_ON_DISC, str) and Reason("x").cli_hint == ""  # a plain string in JSON


def test_init_and_the_key_files_are_library_functions(workspace, tmp_path: Path) -> None:  # noqa: ANN001
    """``init``, ``keys export`` and ``keys export-case`` are one library call each: a front-end
    sets the archive up, or writes a key file, without the CLI (and gets plain values back)."""
    import datetime as dt
    import stat

    from pipeline import authority, cases, staff
    from pipeline.archive_init import initialise
    from pipeline.key_files import write_backup, write_case_key
    from pps_archive.errors import CaseNotFound, ManagerRequired, WrongPassphrase

    asked: list[bool] = []

    def source(confirm: bool) -> bytes:
        asked.append(confirm)
        return PASSPHRASE.encode()

    first = initialise(workspace, source)
    assert (first.database, first.master_created, first.signed, first.repaired) == ("up to date", True, (), ())
    again = initialise(workspace, source)
    assert (again.master_created, again.archive_id) == (False, first.archive_id) and asked == [True, False]
    with pytest.raises(WrongPassphrase):
        initialise(workspace, lambda _confirm: b"not the recovery passphrase")
    recovery = authority.recover(workspace, PASSPHRASE.encode())
    staff.add(workspace, recovery, "alice", "staff", b"violet harbour cinnamon 42")
    with workspace.transaction() as s:
        cases.open_case(s, workspace.config, "PPS-2024-0500", today=dt.date.today(), auth=recovery, consent_to_store=True)
    out = tmp_path / "case.key"
    r = write_case_key(workspace, "pps-2024-0500", out, auth=recovery, consent="--yes")
    assert r == {"case_ref": "PPS-2024-0500", "path": out} and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().startswith("# ") and "AGE-SECRET-KEY-" in out.read_text()
    alice = staff.login(workspace, "alice", b"violet harbour cinnamon 42")
    with pytest.raises(ManagerRequired):
        write_case_key(workspace, "PPS-2024-0500", tmp_path / "refused.key", auth=alice, consent="--yes")
    with pytest.raises(CaseNotFound):
        write_case_key(workspace, "PPS-2024-0999", tmp_path / "none.key", auth=recovery, consent="--yes")
    backup = write_backup(workspace, tmp_path / "keys.backup", auth=recovery, today=dt.date.today(), valid_days=7, consent="typed")
    assert backup["expires"] == dt.date.today() + dt.timedelta(days=7) and backup["path"].stat().st_size > 0
    with pytest.raises(ManagerRequired):
        write_backup(workspace, tmp_path / "refused.backup", auth=alice, today=dt.date.today(), valid_days=7, consent="typed")
    assert not any((tmp_path / n).exists() for n in ("refused.key", "none.key", "refused.backup"))
