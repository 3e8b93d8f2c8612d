"""The library pieces the case, shred-list, disc and disposal pages call (issue 11)."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.authority import typed_confirmation
from pps_archive.errors import ConfirmationRefused, ManagerRequired


def test_typed_confirmation_takes_the_exact_word_only() -> None:
    assert typed_confirmation(" PPS-2024-0137 ", "PPS-2024-0137", "lifting hold 1") == "typed"
    for wrong in ("pps-2024-0137", "PPS-2024-013", "", None, "YES"):
        with pytest.raises(ConfirmationRefused) as exc:
            typed_confirmation(wrong, "PPS-2024-0137", "lifting hold 1")
        assert "nothing was done (lifting hold 1)" in str(exc.value)


def test_a_refused_confirmation_names_no_cli_flag_in_its_message() -> None:
    err = ConfirmationRefused(what="recording disc PPS-2030-001 destroyed", word="PPS-2030-001")
    assert "--" not in str(err) and "prompt" not in str(err) and "type PPS-2030-001 exactly" in str(err)
    assert "--yes" in err.cli_hint and "--yes" in err.cli_text()


def test_a_managers_action_asked_of_staff_is_403_for_a_web_page() -> None:
    assert ManagerRequired(what="lifting a hold", actor="alice", role="staff").http_status == 403


def test_no_image_or_certificate_that_does_not_exist(office) -> None:  # noqa: ANN001
    from pipeline import disposal, media
    from pps_archive.errors import DiscNotFound, InvalidValue, NotFound

    with pytest.raises(DiscNotFound):
        media.image_file(office, "PPS-2030-001")
    assert media.images_dir(office).stat().st_mode & 0o777 == 0o700
    with pytest.raises(NotFound, match="no finished disposal run 1"):
        disposal.certificate_file(office, 1, "pdf")
    with pytest.raises(InvalidValue):
        disposal.certificate_file(office, 1, "exe")
    with office.reader() as s:
        assert media.retirements(s, dt.date.today()) == {"destroy": [], "consolidate": []}
