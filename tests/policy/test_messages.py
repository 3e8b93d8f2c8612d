"""Telephone messages: who it is for, who called, the number; no detail of the child or the case."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pipeline import cases
from pipeline.config import load_config
from pipeline.messages import build_message, case_names_list
from pipeline.models import Document, Input
from pps_archive.errors import ConfigInvalid, ExitCode, InvalidValue, WouldIdentify
from tests.policy.conftest import login

REF = "PPS-2025-0420"
PHONE = "01908 000000"


@pytest.fixture
def phoned(office, monkeypatch):  # noqa: ANN001, ANN201
    """The office with the call-back number configured (the default leaves it empty)."""
    import dataclasses

    office.config.raw["messages"]["phone"] = PHONE
    return dataclasses.replace(office.config)


def _filed_as(s, case, name: str) -> None:  # noqa: ANN001
    row = Input(sha256=str(abs(hash(name))).ljust(64, "0")[:64], display_name=name, profile="office", size=1,
                received_at=dt.datetime(2025, 5, 1), state="done")
    s.add(row)
    s.flush()
    s.add(Document(input_id=row.id, case_id=case.id, doc_class="NOTE", decision="retain", reason="r", source="barcode", pages=1,
                   source_pages=json.dumps([f"{name}#1"]), state="filed", created_at=dt.datetime(2025, 5, 1)))
    s.flush()


def test_the_message_says_who_it_is_for_who_called_and_the_number_only(office, phoned) -> None:  # noqa: ANN001
    """Policy: "If a message is left for a parent/carer, it will say who the message is for, who has made
    the call, and the PPS telephone number. Details of the child/case are not left on the message."
    The text comes from the configured template and the three fields alone; a case reference, a name
    from the case's names list (its documents' file names, names typed in) or a forbidden word is refused."""
    cfg = phoned
    auth = login(office, "alice")
    with office.transaction() as s:
        case = cases.open_case(s, cfg, REF, today=dt.date(2025, 5, 1), actor="alice", consent_to_store=True)
        _filed_as(s, case, "Letter about Gwenllian Ferch.pdf")
        _filed_as(s, case, "scan_0042.pdf")
        _filed_as(s, case, "EHCP Draft Report for Annual Review.pdf")
        assert case_names_list(s, REF) == ["Ferch", "Gwenllian"]  # capitalised words that are not document words
        msg = build_message(s, cfg, auth, recipient="Mrs Ferch", caller="Jo", ref=REF)
        assert msg.text == f"This is a message for Mrs Ferch. Jo called and would like you to call back on {PHONE}. Thank you."
        assert REF not in msg.text
        refused = [
            dict(recipient="Mrs Ferch about pps-2025-0420", caller="Jo"),  # a case reference, any letter case
            dict(recipient="Mrs Ferch", caller="Jo about Gwenllian"),  # a name from the documents' file names
            dict(recipient="Mrs Ferch, Gwenllian's mum", caller="Jo", avoid=["Gwenllian"]),  # a name typed in
            dict(recipient="Mrs Ferch", caller="Jo re the EHCP"),  # a forbidden word
        ]
        for fields in refused:
            with pytest.raises(WouldIdentify) as caught:
                build_message(s, cfg, auth, ref=REF, **fields)
            assert caught.value.exit_code == ExitCode.WOULD_IDENTIFY == 95
        with pytest.raises(WouldIdentify, match="the message template"):
            build_message(s, cfg, auth, recipient="Mrs Ferch", caller="Jo", ref=REF,
                          template="Message for {recipient} from {caller} about Gwenllian: call {phone}.")
        with pytest.raises(InvalidValue, match="only the fields"):
            build_message(s, cfg, auth, recipient="Mrs Ferch", caller="Jo", template="{recipient} {caller} {phone} {child}")


def test_the_template_is_checked_when_the_configuration_loads(tmp_path) -> None:  # noqa: ANN001
    """A template with another field, without one of the three, or with a case reference stops the
    program at start; so does a telephone number that is not one."""
    for bad, problem in (
        ('template = "For {recipient} from {caller} about {child}, call {phone}"', "only the fields"),
        ('template = "For {recipient}, call {phone}"', "must say {caller}"),
        ('template = "For {recipient} from {caller} re PPS-2024-0137, call {phone}"', "case reference"),
        ('phone = "call us"', "telephone number"),
    ):
        f = tmp_path / "c.toml"
        f.write_text(f"[messages]\n{bad}\n")
        with pytest.raises(ConfigInvalid, match=problem):
            load_config(f, environ={})
    assert load_config(None, environ={}).section("messages")["phone"] == ""
