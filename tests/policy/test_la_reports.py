"""Reports to the Local Authority: anonymous unless the parent/carer gave permission to be identified."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from pipeline import cases
from pipeline.models import AuditEvent, Document, Input
from pipeline.reports import WITHHELD, la_issue_report, write_la_report
from pps_archive.errors import ExitCode, IdentificationRefused
from tests.policy.conftest import login

REF = "PPS-2025-0311"
D = dt.date(2025, 6, 2)
ISSUE = ("Mrs Olwen Prydderch (PPS-2025-0311, olwen.p@example.org, 07700 900123, MK9 3XS) says her son Tomos "
         "waited 30 weeks for an EHC needs assessment.")
DETAILS = {"Parent/carer": "Olwen Prydderch", "Child": "Tomos"}


def _doc(s, case) -> int:  # noqa: ANN001
    row = Input(sha256="2" * 64, display_name="a.pdf", profile="office", size=1, received_at=dt.datetime(2025, 5, 1), state="done")
    s.add(row)
    s.flush()
    doc = Document(input_id=row.id, case_id=case.id, doc_class="SEN-LETTER", decision="shred", reason="r", source="barcode",
                   pages=2, source_pages=json.dumps(["a.pdf#1", "a.pdf#2"]), state="shred-only", created_at=dt.datetime(2025, 5, 1))
    s.add(doc)
    s.flush()
    return doc.id


def test_without_permission_the_report_is_anonymous_and_refuses_the_case_and_its_documents(office) -> None:  # noqa: ANN001
    """Policy: "Where issues need to be brought to the attention of the Local Authority, this is done in
    a way to protect the parent/carer's anonymity, unless they give permission to be identified."
    Without the recorded permission: no case reference and no document may go in (refused), and the
    identifying details, the case reference, e-mail, telephone and postcode are withheld from the text."""
    auth = login(office, "alice")
    with office.transaction() as s:
        case = cases.open_case(s, office.config, REF, today=D, actor="alice", consent_to_store=True)
        doc_id = _doc(s, case)
        with pytest.raises(IdentificationRefused) as refused:
            la_issue_report(s, office.config, auth, issue=ISSUE, today=D, ref=REF)
        assert refused.value.exit_code == ExitCode.IDENTIFICATION_REFUSED == 94 and refused.value.http_status == 403
        with pytest.raises(IdentificationRefused, match="including its documents"):
            la_issue_report(s, office.config, auth, issue=ISSUE, today=D, ref=REF, documents=[doc_id])
        rep = la_issue_report(s, office.config, auth, issue=ISSUE, today=D, identifying=DETAILS)
    text = rep.as_text()
    assert not rep.identified and rep.case_ref is None and rep.documents == () and rep.identifying == ()
    for secret in ("Olwen", "Prydderch", "Tomos", REF, "example.org", "07700", "MK9"):
        assert secret.lower() not in text.lower(), secret
    assert "waited 30 weeks for an EHC needs assessment" in text and WITHHELD in text
    assert rep.withheld == 2 + 6  # the two details left out; their three words, the reference, e-mail, phone, postcode
    with office.reader() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "report.la_issue")).all()
    assert event.case_ref is None and json.loads(event.details)["identified"] is False


def test_with_permission_the_report_names_the_case_its_details_and_documents(office, tmp_path) -> None:  # noqa: ANN001
    """Policy: "... unless they give permission to be identified": with the consent "may be identified to
    the LA" recorded, the report names the case, its details and documents; the PDF is written."""
    auth = login(office, "alice")
    with office.transaction() as s:
        case = cases.open_case(s, office.config, REF, today=D, actor="alice", consent_to_store=True)
        doc_id = _doc(s, case)
        cases.set_la_identify_consent(s, REF, True, today=D, actor="alice")
        rep = la_issue_report(s, office.config, auth, issue=ISSUE, today=D, ref=REF, identifying=DETAILS, documents=[doc_id])
        assert cases.list_cases(s, office.config, D)[0]["may_identify_to_la"] is True
        cases.set_la_identify_consent(s, REF, False, today=D, actor="alice")  # withdrawn: refused again
        with pytest.raises(IdentificationRefused):
            la_issue_report(s, office.config, auth, issue=ISSUE, today=D, ref=REF)
    assert rep.identified and rep.case_ref == REF and rep.issue == ISSUE and rep.withheld == 0
    assert rep.documents == ({"id": doc_id, "class": "SEN-LETTER", "received": "2025-05-01", "pages": 2},)
    assert "Parent/carer: Olwen Prydderch" in rep.as_text()
    pdf = write_la_report(rep, tmp_path / "la.pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and oct(pdf.stat().st_mode & 0o777) == "0o600"
