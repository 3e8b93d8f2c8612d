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
        ("[media]\narchive_medium = 'usb-stick'\n", "media.archive_medium", '"optical" or "image-files"'),
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


# --- every key has a rule, and every bad value names its key -----------------------------------


def _default_keys() -> list[str]:
    from pipeline.config import _leaves

    return [rule_key for _dotted, rule_key, _value in _leaves(load_config(None, {}).raw)]


def test_every_default_key_has_a_rule() -> None:
    """A key added to default.toml without a rule in RULES_BY_KEY would go unchecked."""
    from pipeline.config import RULES_BY_KEY

    keys = set(_default_keys())
    assert keys - set(RULES_BY_KEY) == set()
    assert set(RULES_BY_KEY) - keys == set(), "a rule for a key that no longer exists"


def test_good_defaults_load_with_the_web_section() -> None:
    cfg = load_config(None, {})
    assert cfg.section("web") == {"host": "127.0.0.1", "port": 8470, "idle_timeout_minutes": 15, "absolute_timeout_hours": 8}
    assert cfg.section("barcodes")["reader"] == "zxing"


BAD_VALUES = [
    ("database_url = 'mysql://x/y'\n", "database_url", "SQLite or PostgreSQL"),
    ("database_url = 'not a url'\n", "database_url", "not a database URL"),
    ("[service]\nname = ' '\n", "service.name", "must not be empty"),
    ("[service]\nretention_authority = ''\n", "service.retention_authority", "must not be empty"),
    ("[retention]\narchive_after_months = 0\n", "retention.archive_after_months", "at least 1"),
    ("[retention]\ndispose_after_years = 1000\n", "retention.dispose_after_years", "at most 100"),
    ("[retention]\narchive_after_months = 24\ndispose_after_years = 1\n", "retention.dispose_after_years", "archive date"),
    ("[cases]\nthird_parties = ['School', '']\n", "cases.third_parties", "empty entry"),
    ("[intake]\nstable_seconds = -1\n", "intake.stable_seconds", "at least 0"),
    ("[intake]\nrescan_seconds = 0\n", "intake.rescan_seconds", "at least 0.1"),
    ("[intake]\nignore_patterns = ['']\n", "intake.ignore_patterns", "empty entry"),
    ("[intake]\nignore_patterns = [1]\n", "intake.ignore_patterns", "list of text"),
    ("[intake]\nmax_file_bytes = 0\n", "intake.max_file_bytes", "at least 1"),
    ("[intake]\nmax_pages = 0\n", "intake.max_pages", "at least 1"),
    ("[intake]\nmax_page_pixels = -5\n", "intake.max_page_pixels", "at least 1"),
    ("[intake]\nworkers = 0\n", "intake.workers", "at least 1"),
    ("[intake]\nworkers = 1000\n", "intake.workers", "at most 64"),
    ("[ocr]\nlanguage = 'english please'\n", "ocr.language", "language codes"),
    ("[ocr]\nlanguage = 'eng+zzq'\n", "ocr.language", "zzq is not an installed Tesseract language"),
    ("[ocr]\njobs = -1\n", "ocr.jobs", "at least 0"),
    ("[ocr]\ntesseract_threads = 0\n", "ocr.tesseract_threads", "at least 1"),
    ("[ocr]\nrotate_pages = 1\n", "ocr.rotate_pages", "true or false"),
    ("[ocr]\ndeskew = 'no'\n", "ocr.deskew", "true or false"),
    ("[ocr]\ntimeout_seconds = 0\n", "ocr.timeout_seconds", "at least 1"),
    ("[ocr]\ntimeout_seconds = 1.5\n", "ocr.timeout_seconds", "whole number"),
    ("[barcodes]\nreader = 'zxnig'\n", "barcodes.reader", '"zxing" or "zbar"'),
    ("[media]\ncapacity = '0MiB'\n", "media.capacity", "larger than zero"),
    ("[media]\narchive_medium = 'cd'\n", "media.archive_medium", '"optical" or "image-files"'),
    ("[media]\nplanning = 'monthly'\n", "media.planning", '"fill-or-wait" or "every-build"'),
    ("[media]\nfill_percent = 0\n", "media.fill_percent", "at least 1"),
    ("[media]\nfill_percent = '90%'\n", "media.fill_percent", "whole number"),
    ("[media]\nmax_wait_days = 0\n", "media.max_wait_days", "at least 1"),
    ("[media]\nmax_wait_days = 6.5\n", "media.max_wait_days", "whole number"),
    ("[media]\nreread_months = 0\n", "media.reread_months", "at least 1"),
    ("[disposal]\nerase_wait_seconds = 7200\n", "disposal.erase_wait_seconds", "at most 3600"),
    ("[lifecycle]\ndisposal_approvers = 3\n", "lifecycle.disposal_approvers", "at most 2"),
    ("[lifecycle]\ndisposal_approvers = 0\n", "lifecycle.disposal_approvers", "at least 1"),
    ("[lifecycle]\ndisposal_approvers = 'two'\n", "lifecycle.disposal_approvers", "whole number"),
    ("[lifecycle]\ndisposal_plan_days = 0\n", "lifecycle.disposal_plan_days", "at least 1"),
    ("[media]\nerror_correction = 'yes'\n", "media.error_correction", "true or false"),
    ("[crypto]\nkdf_p = 0\n", "crypto.kdf_p", ""),
    ("[web]\nport = 99999\n", "web.port", "at most 65535"),
    ("[web]\nport = 0\n", "web.port", "at least 1"),
    ("[web]\nport = '8470'\n", "web.port", "whole number"),
    ("[web]\nhost = '0.0.0.0 or so'\n", "web.host", "host name or IP address"),
    ("[web]\nidle_timeout_minutes = 0\n", "web.idle_timeout_minutes", "at least 1"),
    ("[web]\nidle_timeout_minutes = 600\nabsolute_timeout_hours = 1\n", "web.idle_timeout_minutes", "absolute_timeout_hours"),
    ("[web]\nabsolute_timeout_hours = 1000\n", "web.absolute_timeout_hours", "at most 168"),
    ("[web]\ntimeout = 5\n", "web.timeout", "not a known setting"),
    ("[scanners.office]\nfolder = ''\n", "scanners.office.folder", "must not be empty"),
    ("[scanners.office]\npattern = ''\n", "scanners.office.pattern", "must not be empty"),
    ("[scanners.office]\nrecursive = 'no'\n", "scanners.office.recursive", "true or false"),
    ("[scanners.office]\ngroup_pattern = '(?P<batch>.+)_p\\\\d+'\n", "scanners.office.group_pattern", "(?P<page>"),
    ("[scanners.office]\ngroup_pattern = '(['\n", "scanners.office.group_pattern", "regular expression"),
    ("[scanners.office]\ngroup_wait_seconds = -1.0\n", "scanners.office.group_wait_seconds", "at least 0"),
    ("[scanners.upstairs]\nfolder = 'drop/up'\npattern = '*'\nrecursive = false\ngroup_pattern = ''\ngroup_wait_seconds = -2\n",
     "scanners.upstairs.group_wait_seconds", "at least 0"),
    ("[classes.EHCP]\ndescription = ''\n", "classes.EHCP.description", "must not be empty"),
    ("[classes.EHCP]\nholder = ' '\n", "classes.EHCP.holder", "must not be empty"),
    ("[classes.EHCP]\nmatch = ['']\n", "classes.EHCP.match", "empty entry"),
    ("[classes.EHCP]\nexclude = ['ok', '  ']\n", "classes.EHCP.exclude", "empty entry"),
    ("[classes.NEW]\ndescription = 'x'\nrule = 'keep'\nholder = 'PPS'\n", "classes.NEW.rule", '"retain" or "shred"'),
    ("[classes.'A|B']\ndescription = 'x'\nrule = 'retain'\nholder = 'PPS'\n", "classes.A|B", "cannot contain"),
    ("[messages]\nphone = 'ring us'\n", "messages.phone", "telephone number"),
    ("[messages]\ntemplate = '{recipient} {caller} {phone} {child}'\n", "messages.template", "only the fields"),
    ("[messages]\nforbidden_words = ['EHCP', ' ']\n", "messages.forbidden_words", "empty entry"),
]


@pytest.mark.parametrize(("text", "key", "words"), BAD_VALUES, ids=[key for _t, key, _w in BAD_VALUES])
def test_every_bad_key_names_itself_and_the_file(tmp_path: Path, text: str, key: str, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigInvalid) as err:
        load_config(path, {})
    assert str(err.value).startswith(f"{path}: {key}: "), str(err.value)
    assert words in str(err.value)


def test_the_bad_values_cover_every_key() -> None:
    """The parametrised list above reaches every rule (so a new key gets a bad-value case)."""
    covered = {key.replace("scanners.upstairs.", "scanners.*.") for _t, key, _w in BAD_VALUES}
    covered = {k.replace("scanners.office.", "scanners.*.") for k in covered}
    covered = {".".join(["classes", "*", k.split(".")[-1]]) if k.startswith("classes.") else k for k in covered}
    unchecked = set(_default_keys()) - covered
    # crypto.kdf_log2_n / kdf_r are covered by the KDF tests above; cases.reference_pattern and the
    # plain true/false keys by test_bad_value_names_key_and_file
    assert unchecked <= {"crypto.kdf_log2_n", "crypto.kdf_r", "cases.reference_pattern", "intake.polling"}, unchecked


def test_a_bad_value_from_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigInvalid, match=r"^\$PPS_ARCHIVE__WEB__PORT: web.port: must be at most 65535"):
        load_config(None, {"PPS_ARCHIVE__WEB__PORT": "99999"})


def test_ocr_language_from_the_file_is_blamed_on_the_file_not_a_later_layer(tmp_path: Path) -> None:
    path = write(tmp_path, "[ocr]\nlanguage = 'zzq'\n")
    with pytest.raises(ConfigInvalid, match=r"tesseract-ocr-zzq") as err:
        load_config(path, {"PPS_ARCHIVE__WEB__PORT": "8000"})
    assert str(err.value).startswith(f"{path}: ocr.language: ")


def test_installed_ocr_languages_are_accepted(tmp_path: Path) -> None:
    from pipeline.config import installed_ocr_languages

    installed = installed_ocr_languages()
    assert installed is not None and "eng" in installed  # the test machine has Tesseract with English
    langs = "+".join(sorted(installed - {"osd"})[:2])
    assert load_config(write(tmp_path, f"[ocr]\nlanguage = '{langs}'\n"), {}).section("ocr")["language"] == langs


def test_help_does_not_ask_tesseract() -> None:
    """The language check runs where the configuration is loaded, never for --help."""
    import os
    import subprocess
    import sys

    code = (
        "import subprocess, sys\n"
        "real = subprocess.run\n"
        "def spy(argv, *a, **k):\n"
        "    if 'tesseract' in str(argv[0]): raise SystemExit('tesseract was run for --help')\n"
        "    return real(argv, *a, **k)\n"
        "subprocess.run = spy\n"
        "sys.argv = ['pps-archive', '--help']\n"
        "from pipeline.cli import main\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout
