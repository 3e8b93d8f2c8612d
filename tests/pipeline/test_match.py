"""Matching and deciding without OCR: the rules that keep a document off the wrong case."""

from __future__ import annotations

import pytest

from pipeline.config import load_config
from pipeline.match import CaseFacts, SheetFacts, classify, decide, find_refs

CFG = load_config(None, {})
PPS_TOP = "Parent Partnership Service\n12 Example Road\nExampleton\n"
REGISTER = {
    "PPS-2024-0001": CaseFacts("PPS-2024-0001", store_consent=True, disposed=False),
    "PPS-2024-0002": CaseFacts("PPS-2024-0002", store_consent=False, disposed=False),
    "PPS-2024-0003": CaseFacts("PPS-2024-0003", store_consent=True, disposed=True),
}
lookup = REGISTER.get


def sheet(ref: str = "PPS-2024-0001", decision: str = "retain", cls: str = "PPS-LETTER", by: str = "barcode") -> SheetFacts:
    return SheetFacts(ref, decision, cls, by)


def test_cover_sheet_decides_case_class_and_decision() -> None:
    d = decide(sheet(), [PPS_TOP + "Our reference: PPS-2024-0001"], CFG, lookup)
    assert (d.case_ref, d.doc_class, d.decision, d.source) == ("PPS-2024-0001", "PPS-LETTER", "retain", "barcode")


def test_sheet_may_override_the_class_default_and_says_so() -> None:
    d = decide(sheet(decision="retain", cls="SCHOOL-LETTER"), ["Brookfield Primary School"], CFG, lookup)
    assert d.decision == "retain"
    assert "class default is shred" in d.reason


def test_shred_sheet_needs_no_text() -> None:
    d = decide(sheet(decision="shred", cls="EHCP"), None, CFG, lookup)
    assert d.decision == "shred" and d.case_ref == "PPS-2024-0001"


@pytest.mark.parametrize(
    ("ref", "words"),
    [("PPS-2024-0002", "no recorded consent"), ("PPS-2024-0003", "disposed of"), ("PPS-2024-0999", "not in the register")],
)
def test_sheet_for_a_case_that_cannot_take_documents_goes_to_review(ref: str, words: str) -> None:
    d = decide(sheet(ref=ref), [PPS_TOP], CFG, lookup)
    assert d.decision == "review" and d.case_ref is None and d.suggested_ref == ref
    assert words in d.reason


def test_sheet_contradicted_by_the_text_goes_to_review() -> None:
    d = decide(sheet(ref="PPS-2024-0001"), [PPS_TOP + "Our reference: PPS-2024-0005"], CFG, lookup)
    assert d.decision == "review"
    assert "mentions PPS-2024-0005" in d.reason


def test_text_match_needs_exactly_one_reference_and_one_class() -> None:
    ok = decide(None, [PPS_TOP + "Our reference: PPS-2024-0001\nDear parent"], CFG, lookup)
    assert (ok.case_ref, ok.doc_class, ok.decision, ok.source) == ("PPS-2024-0001", "PPS-LETTER", "retain", "ocr_text")
    none = decide(None, [PPS_TOP + "Dear parent"], CFG, lookup)
    assert none.decision == "review" and "no case reference" in none.reason
    two = decide(None, [PPS_TOP + "PPS-2024-0001 and PPS-2024-0003"], CFG, lookup)
    assert two.decision == "review" and "several case references" in two.reason
    unclear = decide(None, ["A letter\nRef PPS-2024-0001"], CFG, lookup)
    assert unclear.decision == "review" and "class is unclear" in unclear.reason


def test_letterhead_must_be_near_the_top_and_excludes_apply() -> None:
    body = "\n".join(["Brookfield Primary School"] + ["line"] * 30 + ["we spoke to the Parent Partnership Service"])
    assert classify([body], CFG)[0] == "SCHOOL-LETTER"
    consent = PPS_TOP + "Consent form\nCase reference: PPS-2024-0001"
    assert classify([consent], CFG)[0] == "CONSENT"  # not also PPS-LETTER: its exclude list says so


def test_reference_must_stand_alone() -> None:
    assert find_refs(["XPPS-2024-00011 PPS-2024-0001."], CFG) == ["PPS-2024-0001"]
    assert find_refs(["pps-2024-0001"], CFG) == []  # the pattern is exact; lower case is not a reference
