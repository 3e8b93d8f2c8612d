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
        assert cls.http_status in (400, 401, 403, 404, 409, 410, 422, 500, 503, 507), cls


def test_enum_values_are_unique() -> None:
    values = [m.value for m in ExitCode]
    assert len(values) == len(set(values))


def test_message_is_formatted_from_fields() -> None:
    from pps_archive.errors import CaseNotFound

    err = CaseNotFound(ref="PPS-2024-0001")
    assert "PPS-2024-0001" in str(err)
    assert "pps-archive case open PPS-2024-0001" in err.cli_hint
    assert "pps-archive case open PPS-2024-0001" in err.cli_text()
    assert isinstance(err, PPSArchiveError)


def test_a_web_layer_can_tell_the_classes_apart() -> None:
    """Not found, conflict, refused by policy and bad value each have a class, an exit code and an
    HTTP status a web layer maps without reading the message."""
    from pps_archive import errors as e

    assert issubclass(e.CaseNotFound, e.NotFound) and issubclass(e.DocumentNotFound, e.NotFound)
    assert issubclass(e.HoldNotFound, e.NotFound) and issubclass(e.DiscNotFound, e.NotFound)
    assert issubclass(e.CaseExists, e.Conflict) and issubclass(e.UndoRefused, e.Conflict)
    assert issubclass(e.OnHold, e.PolicyRefusal) and issubclass(e.ShredBlocked, e.PolicyRefusal)
    assert e.BadValue is e.InvalidValue and e.InvalidValue.exit_code == 14  # kept for scripts
    assert {cls.http_status for cls in (e.NotFound, e.Conflict, e.PolicyRefusal, e.BadValue)} == {404, 409, 403, 422}
    assert e.CaseNotFound.http_status == 404 and e.OnHold.http_status == 403
    assert len({e.NotFound.exit_code, e.Conflict.exit_code, e.PolicyRefusal.exit_code, e.BadValue.exit_code}) == 4


def test_library_messages_name_no_cli_command() -> None:
    """The CLI's wording ('pps-archive ...', '--flag') lives in ``cli_hint``, not in the message."""
    from pps_archive import errors as e

    samples = [e.CaseNotFound(ref="PPS-2024-0001"), e.CaseExists(ref="PPS-2024-0001"),
               e.ConsentRequired(ref="PPS-2024-0001"), e.HoldNotFound(ref="PPS-2024-0001", hold=3),
               e.DocumentNotFound(document=5), e.DiscNotFound(label="PPS-2031-01")]
    for err in samples:
        assert "pps-archive" not in str(err) and "--" not in str(err), err
        assert err.cli_hint.startswith(("To ", "Use ", "Record ", "See ", "List ")), err
    assert e.CaseNotFound("x", ref="PPS-2024-0001", cli_hint="Open it on the Cases page.").cli_hint == "Open it on the Cases page."
