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


# --- the KDF: no silent weakening, and the same bounds as the reader -------------------------


def test_a_weak_kdf_from_the_environment_is_refused_outside_tests() -> None:
    with pytest.raises(ConfigInvalid, match="PPS_ARCHIVE_INSECURE_TEST_KDF") as err:
        load_config(None, {"PPS_ARCHIVE__CRYPTO__KDF_LOG2_N": "10"})
    assert "crypto.kdf_log2_n" in str(err.value) and "floor" in str(err.value)
    with pytest.raises(ConfigInvalid, match="crypto.kdf_r"):
        load_config(None, {"PPS_ARCHIVE__CRYPTO__KDF_R": "1"})
    cfg = load_config(None, {"PPS_ARCHIVE__CRYPTO__KDF_LOG2_N": "10", "PPS_ARCHIVE_INSECURE_TEST_KDF": "1"})
    assert cfg.section("crypto")["kdf_log2_n"] == 10
    with pytest.raises(ConfigInvalid):  # anything but the explicit "1" is not the switch
        load_config(None, {"PPS_ARCHIVE__CRYPTO__KDF_LOG2_N": "10", "PPS_ARCHIVE_INSECURE_TEST_KDF": "yes"})


def test_a_weak_kdf_in_a_user_file_is_refused_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid, match="floor"):
        load_config(write(tmp_path, "[crypto]\nkdf_log2_n = 12\n"), {})


def test_config_and_reader_agree_on_the_kdf_bounds(tmp_path: Path) -> None:
    """What the configuration accepts, a key record may carry, and the other way round."""
    import base64

    from archive_media.keys import KdfParams
    from pps_archive.errors import IntegrityError

    salt = base64.b64encode(b"\0" * 16).decode()
    for log2_n in range(8, 27):
        for r in (1, 8, 16, 32, 33):
            for p in (1, 4, 16, 17):
                path = write(tmp_path, f"[crypto]\nkdf_log2_n = {log2_n}\nkdf_r = {r}\nkdf_p = {p}\n")
                try:
                    load_config(path, {"PPS_ARCHIVE_INSECURE_TEST_KDF": "1"})
                    config_ok = True
                except ConfigInvalid:
                    config_ok = False
                try:
                    KdfParams.from_record({"name": "scrypt", "log2_n": log2_n, "r": r, "p": p, "salt": salt})
                    reader_ok = True
                except IntegrityError:
                    reader_ok = False
                assert config_ok == reader_ok, (log2_n, r, p, config_ok, reader_ok)
