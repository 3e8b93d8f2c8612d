"""The CLI logs in as --user (or with the recovery passphrase), as a user sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE

REF = "PPS-2024-0412"
PASSWORDS = {"alice": "violet harbour cinnamon 42", "carol": "moss lantern quarry 93 owl"}


def _file(tmp_path: Path, name: str, secret: str) -> str:
    path = tmp_path / f"{name}.pw"
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return str(path)


@pytest.fixture
def office(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """init, then day one: a manager and a member of staff added with the recovery passphrase."""
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    for name, role in (("carol", "manager"), ("alice", "staff")):
        r = run("staff", "add", name, "--role", role, env={"PPS_ARCHIVE_NEW_PASSWORD_FILE": _file(tmp_path, name, PASSWORDS[name])})
        assert f"staff account {name} added ({role})" in r.out
    return home


def _as(tmp_path: Path, name: str, password: str | None = None) -> dict[str, str]:
    return {"PPS_ARCHIVE_USER": name, "PPS_ARCHIVE_PASSWORD_FILE": _file(tmp_path, f"login-{name}", password or PASSWORDS[name])}


def _log(home: Path) -> list[dict]:
    return run("audit", "log", "--json").json()


def test_staff_and_managers_log_in_and_the_login_is_recorded(office: Path, tmp_path: Path) -> None:
    rows = run("staff", "list", "--json", env={"PPS_ARCHIVE_PASSPHRASE": None}).json()  # a listing needs no login
    assert [(r["name"], r["role"], r["status"]) for r in rows] == [("alice", "staff", "active"), ("carol", "manager", "active")]
    run("case", "open", REF, "--consent-to-store", env=_as(tmp_path, "alice"))
    hold = run("case", "hold", REF, "--reason", "sar", "--note", "request", env=_as(tmp_path, "alice")).out
    hold_id = hold.split("hold ")[1].split()[0]
    # staff may not lift a hold: refused in the library, after the login
    r = run("case", "release", REF, "--hold", hold_id, "--yes", env=_as(tmp_path, "alice"), expect=ExitCode.MANAGER_REQUIRED)
    assert "needs a manager: alice is logged in as staff" in r.err
    # the same with the global option instead of the variable
    env = _as(tmp_path, "carol")
    user = env.pop("PPS_ARCHIVE_USER")
    run("--user", user, "case", "release", REF, "--hold", hold_id, "--yes", env=env)
    events = _log(office)
    release = [e for e in events if e["action"] == "hold.release"][0]
    assert release["actor"] == "carol"
    assert (release["details"]["unlocked_with"], release["details"]["actor_role"]) == ("staff password", "manager")
    opened = [e for e in events if e["action"] == "case.open"][0]
    assert opened["actor"] == "alice"
    assert [e["actor"] for e in events if e["action"] == "auth.login"][-3:] == ["alice", "alice", "carol"]


def test_by_that_does_not_match_the_login_is_refused(office: Path, tmp_path: Path) -> None:
    run("case", "open", REF, "--consent-to-store", env=_as(tmp_path, "alice"))
    r = run("case", "touch", REF, "--by", "carol", env=_as(tmp_path, "alice"), expect=ExitCode.ACTOR_MISMATCH)
    assert "'carol' was given" in r.err and "alice" in r.err
    r = run("shred", "confirm", "1", "--by", "carol", "--yes", env=_as(tmp_path, "alice"), expect=ExitCode.ACTOR_MISMATCH)
    run("case", "hold", REF, "--reason", "sar", "--note", "request", "--by", "carol", env=_as(tmp_path, "alice"),
        expect=ExitCode.ACTOR_MISMATCH)
    run("case", "consent", REF, "--store", "no", "--by", "carol", env=_as(tmp_path, "alice"), expect=ExitCode.ACTOR_MISMATCH)
    run("case", "touch", REF, "--by", "alice", env=_as(tmp_path, "alice"))  # the same name is fine
    assert not [e for e in _log(office) if e["action"] in ("hold.place", "consent.store")]
    [touch] = [e for e in _log(office) if e["action"] == "case.touch"]
    assert (touch["actor"], touch["details"]["actor_role"]) == ("alice", "staff")  # recorded by the library
    assert not [e for e in _log(office) if e["action"] == "shred.confirm"]


def test_a_wrong_password_fails_is_audited_and_backs_off(office: Path, tmp_path: Path) -> None:
    r = run("case", "open", REF, env=_as(tmp_path, "alice", "not alice's password"), expect=ExitCode.LOGIN_FAILED)
    assert "login as alice failed" in r.err
    r = run("case", "open", REF, env=_as(tmp_path, "alice"), expect=ExitCode.ACCOUNT_LOCKED)  # too soon
    assert "try again after" in r.err
    failed = [e for e in _log(office) if e["action"] == "auth.login_failed"]
    assert [e["details"]["reason"] for e in failed] == ["wrong password", "too soon"]
    assert "not alice" not in json.dumps(failed)
    assert run("staff", "list", "--json").json()[0]["failures"] == 1
    run("staff", "unlock", "alice", env={"PPS_ARCHIVE_PASSPHRASE": PASSPHRASE})
    run("case", "open", REF, env=_as(tmp_path, "alice"))


def test_passwd_reset_and_disable(office: Path, tmp_path: Path) -> None:
    new = {"PPS_ARCHIVE_NEW_PASSWORD_FILE": _file(tmp_path, "new", "saffron tugboat equinox 61")}
    r = run("staff", "passwd", env=_as(tmp_path, "alice") | new)
    assert "key slot version 2" in r.out
    run("case", "open", REF, env=_as(tmp_path, "alice"), expect=ExitCode.LOGIN_FAILED)
    # a weak new password is refused by the shared strength check
    weak = {"PPS_ARCHIVE_NEW_PASSWORD_FILE": _file(tmp_path, "weak", "password1234")}
    run("staff", "reset", "alice", env=_as(tmp_path, "carol") | weak, expect=ExitCode.WEAK_PASSPHRASE)
    once = {"PPS_ARCHIVE_NEW_PASSWORD_FILE": _file(tmp_path, "once", "one time only 83 quokka")}
    run("staff", "reset", "alice", env=_as(tmp_path, "carol") | once)
    run("case", "open", REF, env=_as(tmp_path, "alice", "one time only 83 quokka"), expect=ExitCode.PASSWORD_CHANGE_REQUIRED)
    run("staff", "passwd", env=_as(tmp_path, "alice", "one time only 83 quokka") | new)
    run("case", "open", REF, env=_as(tmp_path, "alice", "saffron tugboat equinox 61"))
    # staff cannot manage accounts; a manager disables; the last manager gone is a warning (107)
    run("staff", "disable", "carol", "--yes", env=_as(tmp_path, "alice", "saffron tugboat equinox 61"),
        expect=ExitCode.MANAGER_REQUIRED)
    run("staff", "disable", "alice", "--yes", env=_as(tmp_path, "carol"))
    run("case", "touch", REF, env=_as(tmp_path, "alice", "saffron tugboat equinox 61"), expect=ExitCode.LOGIN_FAILED)
    run("shred", "confirm", "1", "--yes", env=_as(tmp_path, "alice", "saffron tugboat equinox 61"), expect=ExitCode.LOGIN_FAILED)
    r = run("staff", "disable", "carol", "--yes", expect=ExitCode.NO_MANAGER_ACCOUNT)  # with the recovery passphrase
    assert "only the recovery passphrase" in r.err
    assert [r["status"] for r in run("staff", "list", "--json").json()] == ["disabled", "disabled"]


def test_without_user_the_recovery_passphrase_is_used_and_recorded_as_such(office: Path, tmp_path: Path) -> None:
    run("case", "open", REF, "--consent-to-store")
    hold = run("case", "hold", REF, "--reason", "sar", "--note", "request").out
    hold_id = hold.split("hold ")[1].split()[0]
    run("case", "release", REF, "--hold", hold_id, "--yes", "--by", "carol")
    release = [e for e in _log(office) if e["action"] == "hold.release"][0]
    assert (release["actor"], release["details"]["unlocked_with"], release["details"]["claimed_by"]) == (
        "recovery", "recovery passphrase", "carol")


def test_a_destructive_command_runs_the_kdf_outside_any_transaction(database_url: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's unlock used to open a write transaction around the passphrase KDF (half a second
    of a held write lock on SQLite at the production cost)."""
    from archive_media._kdf import KdfParams
    from pipeline import workspace

    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    open_during_kdf = []
    real = KdfParams.derive

    def spy(self: KdfParams, secret: bytes) -> bytes:
        open_during_kdf.append(len(workspace._OPEN.get({})))  # noqa: SLF001 - the workspace's record of open sessions
        return real(self, secret)

    monkeypatch.setattr(KdfParams, "derive", spy)
    run("keys", "export", "--out", str(tmp_path / "k.backup"), "--yes")
    assert open_during_kdf == [0]


def test_a_staff_login_checks_the_audit_seals(office: Path, tmp_path: Path) -> None:
    r = run("audit", "verify", "--json", env=_as(tmp_path, "alice") | {"PPS_ARCHIVE_PASSPHRASE": None})
    assert r.json()["ok"] and r.json()["keyed"]
