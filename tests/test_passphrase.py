"""The master passphrase comes from exactly one source."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.passphrase import get_passphrase
from pps_archive.errors import ExitCode, PassphraseSourceError


def test_two_sources_are_rejected(tmp_path: Path) -> None:
    f = tmp_path / "pass"
    f.write_text("secret\n")
    with pytest.raises(PassphraseSourceError) as err:
        get_passphrase({"PPS_ARCHIVE_PASSPHRASE": "secret", "PPS_ARCHIVE_PASSPHRASE_FILE": str(f)}, None)
    assert "exactly one" in str(err.value)
    assert err.value.exit_code == ExitCode.PASSPHRASE_SOURCE


def test_each_single_source_works(tmp_path: Path) -> None:
    f = tmp_path / "pass"
    f.write_text("from file\n")
    assert get_passphrase({"PPS_ARCHIVE_PASSPHRASE": "from env"}, None) == b"from env"
    assert get_passphrase({"PPS_ARCHIVE_PASSPHRASE_FILE": str(f)}, None) == b"from file"
    assert get_passphrase({}, lambda text, confirm: "typed") == b"typed"


def test_prompt_is_not_used_when_a_variable_is_set() -> None:
    def prompt(text: str, confirm: bool) -> str:
        raise AssertionError("prompted although the variable is set")

    assert get_passphrase({"PPS_ARCHIVE_PASSPHRASE": "x"}, prompt) == b"x"


def test_no_source_and_no_terminal_says_what_to_set() -> None:
    with pytest.raises(PassphraseSourceError, match=r"\$PPS_ARCHIVE_PASSPHRASE"):
        get_passphrase({}, None)


def test_unreadable_file_and_empty_value(tmp_path: Path) -> None:
    with pytest.raises(PassphraseSourceError, match="cannot read"):
        get_passphrase({"PPS_ARCHIVE_PASSPHRASE_FILE": str(tmp_path / "missing")}, None)
    with pytest.raises(PassphraseSourceError, match="empty"):
        get_passphrase({"PPS_ARCHIVE_PASSPHRASE": ""}, None)


# --- a non-UTF-8 or world-readable passphrase file ---------------------------------------------


def test_a_passphrase_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "pass"
    f.write_bytes(b"caf\xe9 latin-1\n")
    f.chmod(0o600)
    with pytest.raises(PassphraseSourceError, match="not UTF-8 text") as err:
        get_passphrase({"PPS_ARCHIVE_PASSPHRASE_FILE": str(f)}, None)
    assert err.value.exit_code == ExitCode.PASSPHRASE_SOURCE


def test_a_non_utf8_passphrase_file_through_the_cli_exits_with_its_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.cli_helpers import run

    f = tmp_path / "pass"
    f.write_bytes(b"\xff\xfe\x00b\x00a\x00d\n")
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE_FILE", str(f))
    r = run("init", expect=ExitCode.PASSPHRASE_SOURCE)
    assert "not UTF-8" in r.err and "Traceback" not in r.err


def test_a_readable_passphrase_file_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / "pass"
    f.write_text("from file\n")
    f.chmod(0o644)
    with caplog.at_level("WARNING"):
        assert get_passphrase({"PPS_ARCHIVE_PASSPHRASE_FILE": str(f)}, None) == b"from file"
    assert "can be read by anyone" in caplog.text and "chmod 600" in caplog.text
    assert "from file" not in caplog.text  # never the passphrase itself
    caplog.clear()
    f.chmod(0o600)
    with caplog.at_level("WARNING"):
        get_passphrase({"PPS_ARCHIVE_PASSPHRASE_FILE": str(f)}, None)
    assert caplog.text == ""


# --- strength of a new passphrase --------------------------------------------------------------

from pipeline.passphrase import MIN_LENGTH, check_strength  # noqa: E402
from pps_archive.errors import WeakPassphrase  # noqa: E402


@pytest.mark.parametrize("weak", ["x", "short words", "password1234", "qwertyuiop123", "aaaaaaaaaaaaaaaa",
                                  "Passw0rd!2024", "iloveyou1234"])
def test_weak_passphrases_are_refused(weak: str) -> None:
    with pytest.raises(WeakPassphrase) as err:
        check_strength(weak)
    assert err.value.exit_code == ExitCode.WEAK_PASSPHRASE


def test_strong_passphrases_pass_and_context_words_count_against() -> None:
    check_strength("correct horse battery staple")
    check_strength(b"ferry lantern oboe quartz gravel")
    with pytest.raises(WeakPassphrase, match=f"at least {MIN_LENGTH}"):
        check_strength("Zq8#vL1!")  # random, but too short
    with pytest.raises(WeakPassphrase):
        check_strength("Galley Hill Partnership", context=["Galley Hill Partnership"])


def test_init_refuses_a_one_character_passphrase(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.cli_helpers import run

    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", "x")
    r = run("init", expect=ExitCode.WEAK_PASSPHRASE)
    assert "too weak" in r.err
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", "correct horse battery staple")
    run("init")
    monkeypatch.setenv("PPS_ARCHIVE_NEW_PASSPHRASE", "password1234")
    run("keys", "change-passphrase", expect=ExitCode.WEAK_PASSPHRASE)
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", "x")  # an existing archive is opened, not judged
    run("init", expect=ExitCode.WRONG_PASSPHRASE)
