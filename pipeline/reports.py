"""Issue reports to the Local Authority, anonymous unless the parent/carer allows otherwise.

The policy: "Where issues need to be brought to the attention of the Local Authority, this is done
in a way to protect the parent/carer's anonymity, unless they give permission to be identified."

:func:`la_issue_report` builds the report as plain data (:class:`LAIssueReport`), and
:func:`write_la_report` writes it as a PDF or as text. Without the case's recorded permission
(``cases.set_la_identify_consent``) the report names no case and carries no document: asking for
either raises :class:`IdentificationRefused`; the identifying details an adviser typed in are left
out, and every case reference, each of those details (and each word of them), e-mail addresses,
telephone numbers and postcodes found in the text are replaced with ``[withheld]``. With the
permission, the report names the case, its identifying details and the documents asked for (by
number, class and date received: the documents themselves are sent separately, restored with
``restore``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from pipeline import audit, authority
from pipeline.authority import Unlocked
from pipeline.config import Config
from pps_archive.errors import Conflict, DocumentNotFound, IdentificationRefused, InvalidValue

WITHHELD = "[withheld]"
#: e-mail addresses, UK telephone numbers and postcodes: identifying whoever they belong to
_CONTACT = (
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"(?<!\w)(?:\+44\s?|0)\d(?:[\s-]?\d){8,10}(?!\w)"),
    re.compile(r"(?<!\w)[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}(?!\w)", re.IGNORECASE),
)
#: words of an identifying detail shorter than this are not withheld on their own ("Mr", "de")
MIN_WORD = 3


@dataclass(frozen=True)
class LAIssueReport:
    """A report to the Local Authority, ready to render (no database objects in it)."""

    service: str
    written_on: dt.date
    written_by: str
    identified: bool  # the parent/carer gave permission to be identified
    case_ref: str | None
    issue: str  # the issue in the adviser's words, with identifying details withheld unless identified
    identifying: tuple[tuple[str, str], ...] = ()  # (label, value), only when identified
    documents: tuple[dict, ...] = ()  # {"id", "class", "received", "pages"}, only when identified
    withheld: int = 0  # how many details were withheld from the text

    def as_dict(self) -> dict:
        return {"service": self.service, "written_on": self.written_on.isoformat(), "written_by": self.written_by,
                "identified": self.identified, "case_ref": self.case_ref, "issue": self.issue,
                "identifying": dict(self.identifying), "documents": list(self.documents), "withheld": self.withheld}

    def as_text(self) -> str:
        out = [f"Report to the Local Authority from {self.service}", f"Date: {self.written_on.isoformat()}",
               f"Written by: {self.written_by}"]
        if self.identified:
            out.append(f"Case: {self.case_ref} (the parent/carer has given permission to be identified)")
            out.extend(f"{label}: {value}" for label, value in self.identifying)
        else:
            out.append("The parent/carer is not identified in this report (no permission to be identified).")
        out += ["", "Issue:", self.issue]
        if self.documents:
            out += ["", "Documents referred to (sent separately):"]
            out.extend(f"  document {d['id']}: {d['class']}, received {d['received']}, {d['pages']} page(s)" for d in self.documents)
        return "\n".join(out) + "\n"


def strip_identifying(text: str, cfg: Config, details: Sequence[str]) -> tuple[str, int]:
    """``text`` with case references, the ``details`` (whole, then each word of at least
    :data:`MIN_WORD` letters), e-mail addresses, telephone numbers and postcodes replaced with
    :data:`WITHHELD`; and how many were replaced."""
    count = 0

    def sub(rx: re.Pattern[str], s: str) -> str:
        nonlocal count
        s, n = rx.subn(WITHHELD, s)
        count += n
        return s

    text = sub(re.compile(rf"(?<![A-Za-z0-9])(?:{cfg.raw['cases']['reference_pattern']})(?![0-9])", re.IGNORECASE), text)
    for rx in _CONTACT:
        text = sub(rx, text)
    wholes = sorted({" ".join(d.split()) for d in details if d.strip()}, key=len, reverse=True)
    words = sorted({w for d in wholes for w in re.findall(r"[^\W\d_][\w'-]*", d) if len(w) >= MIN_WORD}, key=len, reverse=True)
    spaces = r"\s+"
    for value in (*wholes, *words):
        text = sub(re.compile(rf"(?<!\w){spaces.join(map(re.escape, value.split()))}(?!\w)", re.IGNORECASE), text)
    return text, count


def la_issue_report(
    s: Session, cfg: Config, auth: Unlocked, *, issue: str, today: dt.date, ref: str | None = None,
    identifying: Mapping[str, str] | None = None, documents: Sequence[int] = (),
) -> LAIssueReport:
    """Build a report of ``issue`` to the Local Authority, by the member of staff logged in.

    ``ref`` names the case and ``documents`` (ids filed to it) go with the report only if the
    case's permission to be identified is recorded, else :class:`IdentificationRefused`;
    ``identifying`` (label -> value, e.g. ``{"Parent/carer": "..."}``; the register holds no names,
    the adviser types them) is included only then, and otherwise withheld from the text too.
    Audited (``report.la_issue``, naming the case only when identified). Runs in the caller's
    transaction."""
    from pipeline.cases import get_case
    from pipeline.models import Document

    how = authority.require(s, auth, "writing a report to the Local Authority", role=authority.STAFF)
    if not issue.strip():
        raise InvalidValue("a report to the Local Authority needs the issue, in words")
    details = {" ".join(k.split()): " ".join(v.split()) for k, v in (identifying or {}).items() if v.strip()}
    if documents and ref is None:
        raise InvalidValue("documents go with a report only for a named case: give the case as well")
    case = None
    if ref is not None:
        case = get_case(s, ref)
        if case.disposed_on is not None:
            raise Conflict(f"case {case.ref} was disposed of on {case.disposed_on}: its records no longer exist.")
        if not case.la_identify:
            what = "including its documents" if documents else "naming the case"
            raise IdentificationRefused(ref=case.ref, what=what)
    docs = []
    for doc_id in dict.fromkeys(documents):
        doc = s.get(Document, doc_id)
        if doc is None or case is None or doc.case_id != case.id or doc.state not in ("filed", "shred-only"):
            raise DocumentNotFound(document=doc_id) if doc is None else InvalidValue(
                f"document {doc_id} is not filed to case {case.ref if case else ref}: only the case's own documents go with its report")
        docs.append({"id": doc.id, "class": doc.doc_class or "unclassified", "received": doc.created_at.date().isoformat(),
                     "pages": doc.pages})
    identified = case is not None
    text = " ".join(issue.split()) if "\n" not in issue else issue.strip()
    withheld = 0
    if not identified:
        text, withheld = strip_identifying(text, cfg, list(details.values()))
        withheld += len(details)
    report = LAIssueReport(
        service=cfg.section("service")["name"], written_on=today, written_by=auth.actor, identified=identified,
        case_ref=case.ref if case else None, issue=text,
        identifying=tuple(details.items()) if identified else (), documents=tuple(docs), withheld=withheld,
    )
    audit.record(s, auth.actor, "report.la_issue", case_ref=report.case_ref, identified=identified,
                 documents=[d["id"] for d in docs], withheld=withheld, on=today, **how)
    return report


def la_report_pdf(report: LAIssueReport) -> bytes:
    """The report as a printable A4 PDF (reportlab)."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
    from xml.sax.saxutils import escape

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm,
                            bottomMargin=20 * mm, title="Report to the Local Authority", author=report.service,
                            invariant=1)
    styles = getSampleStyleSheet()
    lines = report.as_text().splitlines()
    story = [Paragraph(escape(lines[0]), styles["Title"])]
    for line in lines[1:]:
        story.append(Spacer(1, 3 * mm) if not line.strip() else Paragraph(escape(line), styles["Normal"]))
    doc.build(story)
    return buf.getvalue()


def write_la_report(report: LAIssueReport, out: Path) -> Path:
    """Write the report to ``out`` (atomically, readable by its owner only): a PDF when the name
    ends in ``.pdf``, else text."""
    from pps_archive.atomic import atomic_write_bytes

    data = la_report_pdf(report) if out.suffix.lower() == ".pdf" else report.as_text().encode("utf-8")
    atomic_write_bytes(out, data, mode=0o600)
    return out
