"""One exit-code enum, one base exception; every error class has its own code."""

from __future__ import annotations

import collections

from pps_archive.errors import ExitCode, PPSArchiveError, all_error_classes


def test_every_error_class_has_a_unique_code_in_the_error_range() -> None:
    import archive_media  # noqa: F401 - import every package so all subclasses are defined
    import pipeline  # noqa: F401
    import scanners  # noqa: F401

    classes = all_error_classes()
    assert len(classes) > 20
    codes = collections.Counter(cls.exit_code for cls in classes)
    duplicates = {code: [c.__name__ for c in classes if c.exit_code == code] for code, n in codes.items() if n > 1}
    assert not duplicates, f"exit codes used twice: {duplicates}"
    for cls in classes:
        assert isinstance(cls.exit_code, ExitCode)
        assert 3 <= cls.exit_code <= 99, cls


def test_enum_values_are_unique() -> None:
    values = [m.value for m in ExitCode]
    assert len(values) == len(set(values))


def test_message_is_formatted_from_fields() -> None:
    from pps_archive.errors import CaseNotFound

    err = CaseNotFound(ref="PPS-2024-0001")
    assert "PPS-2024-0001" in str(err)
    assert "pps-archive case open PPS-2024-0001" in str(err)
    assert isinstance(err, PPSArchiveError)
