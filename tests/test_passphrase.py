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
