"""Configuration: defaults, user file, environment; bad values are named with their key and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config
from pps_archive.errors import ConfigInvalid, ExitCode


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "user.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_follow_the_policy() -> None:
    cfg = load_config(None, {})
    assert cfg.archive_after_months == 6
    assert cfg.dispose_after_years == 6
    assert cfg.reference_pattern.fullmatch("PPS-2024-0137")
    assert set(cfg.classes) == {"PPS-LETTER", "SCHOOL-LETTER", "SEN-LETTER", "EHCP", "EP-REPORT", "CONSENT", "NOTE"}
    # produced by the service / sent directly to it: retained; someone else holds the original: shred
    assert {n for n, c in cfg.classes.items() if c.rule == "retain"} == {"PPS-LETTER", "CONSENT", "NOTE"}
    # scans "are saved onto a CD": only a verification read from the disc unlocks shredding
    assert cfg.section("media")["archive_medium"] == "optical"


def test_user_file_overrides_and_adds_a_class(tmp_path: Path) -> None:
    path = write(tmp_path, """
[retention]
archive_after_months = 12
[classes.TRIBUNAL-BUNDLE]
description = "Tribunal bundle"
rule = "retain"
holder = "PPS"
""")
    cfg = load_config(path, {})
    assert cfg.archive_after_months == 12
    assert cfg.classes["TRIBUNAL-BUNDLE"].rule == "retain"
    assert "PPS-LETTER" in cfg.classes


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[retention]\narchive_after_months = 'six'\n", "retention.archive_after_months", "whole number"),
        ("[retention]\narchive_months = 6\n", "retention.archive_months", "not a known setting"),
        ("[cases]\nreference_pattern = 'PPS-(\\\\d{4}'\n", "cases.reference_pattern", "regular expression"),
        ("[classes.EHCP]\nrule = 'keep'\n", "classes.EHCP.rule", "retain"),
        ("[classes.NEW]\nrule = 'retain'\n", "classes.NEW", "needs the keys"),
        ("[intake]\npolling = 'yes'\n", "intake.polling", "true or false"),
        ("[media]\ncapacity = 'big'\n", "media.capacity", "not a size"),
        ("[media]\narchive_medium = 'usb-stick'\n", "media.archive_medium", "'optical', 'image-files'"),
        ("[retention]\ndispose_after_years = 0\n", "retention.dispose_after_years", "at least 1"),
        ("colour = 'blue'\n", "colour", "not a known setting"),
        ("[retention\n", "(syntax)", "not valid TOML"),
    ],
)
def test_bad_value_names_key_and_file(tmp_path: Path, text: str, key: str, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigInvalid) as err:
        load_config(path, {})
    message = str(err.value)
    assert message.startswith(f"{path}: {key}: ")
    assert words in message
    assert err.value.exit_code == ExitCode.CONFIG_INVALID


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[retention]\narchive_after_months = 12\n")
    cfg = load_config(path, {"PPS_ARCHIVE__RETENTION__ARCHIVE_AFTER_MONTHS": "9", "PPS_ARCHIVE_DATABASE_URL": "sqlite:///x"})
    assert cfg.archive_after_months == 9
    assert cfg.database_url == "sqlite:///x"


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigInvalid, match=r"^\$PPS_ARCHIVE__INTAKE__WORKERS: intake.workers: must be a whole number"):
        load_config(None, {"PPS_ARCHIVE__INTAKE__WORKERS": "many"})


def test_missing_user_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid, match="does not exist"):
        load_config(tmp_path / "nope.toml", {})
