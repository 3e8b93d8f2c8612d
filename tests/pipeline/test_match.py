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


# --- references as people write them (issue 8) ---------------------------------------------------

from pipeline.match import RefIndex, UnreadableSheet  # noqa: E402

INDEX = RefIndex.of(REGISTER)


@pytest.mark.parametrize("written", [
    "PPS- 2024-0001", "pps 2024 0001", "PPS-2024-\n0001", "pps-2024-0001", "PPS 2024-0001", "PPS-2O24-OOO1",
    "PPS -2024- 0001",
])
def test_a_registered_reference_is_found_as_people_write_it(written: str) -> None:
    text = f"{PPS_TOP}Our reference: {written}\nDear parent"
    assert find_refs([text], CFG) == []  # not as printed: the pattern alone does not find it
    assert find_refs([text], CFG, INDEX) == ["PPS-2024-0001"]
    d = decide(None, [text], CFG, lookup, INDEX)
    assert (d.case_ref, d.decision, d.source) == ("PPS-2024-0001", "retain", "ocr_text")


@pytest.mark.parametrize("written", ["pps 2024 0999", "PPS- 2024-0999", "PPS-2024-\n0999"])
def test_a_reference_not_in_the_register_is_never_found_by_normalising(written: str) -> None:
    d = decide(None, [f"{PPS_TOP}Our reference: {written}"], CFG, lookup, INDEX)
    assert d.decision == "review" and d.case_ref is None and d.suggested_ref is None
    assert "no case reference" in d.reason


def test_a_written_reference_must_stand_alone() -> None:
    assert find_refs(["XPPS 2024 0001", "pps 2024 00011", "pps 2024 0001x"], CFG, INDEX) == []


def test_two_registered_references_compete_and_the_document_goes_to_review() -> None:
    d = decide(None, [f"{PPS_TOP}Ref pps 2024 0001 and PPS-2024-\n0003"], CFG, lookup, INDEX)
    assert d.decision == "review" and "several case references" in d.reason
    # two registered references that normalise alike (a pattern with letters) are never told apart
    cfg = load_config(None, {"cases": {"reference_pattern": r"PPS-\w{4}-\w{4}"}})
    twins = RefIndex.of(["PPS-2024-0001", "PPS-2024-OOO1"])
    d = decide(None, [f"{PPS_TOP}Our reference: pps 2024 0001"], cfg, lambda r: CaseFacts(r, True, False), twins)
    assert d.decision == "review" and "several case references" in d.reason


def test_a_page_behind_a_cover_sheet_that_names_only_another_case_goes_to_review() -> None:
    texts = [PPS_TOP + "Our reference: PPS-2024-0001", PPS_TOP + "Our reference: pps 2024 0005"]
    index = RefIndex.of([*REGISTER, "PPS-2024-0005"])
    d = decide(sheet(), texts, CFG, lookup, index)
    assert d.decision == "review" and "page 2 of the document mentions PPS-2024-0005" in d.reason


def test_a_document_behind_an_unreadable_cover_sheet_goes_to_review() -> None:
    d = decide(UnreadableSheet("scan.pdf#3"), [PPS_TOP + "Our reference: PPS-2024-0001"], CFG, lookup, INDEX)
    assert (d.decision, d.case_ref, d.suggested_ref) == ("review", None, "PPS-2024-0001")
    assert "scan.pdf#3" in d.reason and "could not be read" in d.reason


def test_a_blank_first_page_does_not_hide_the_letterhead() -> None:
    assert classify(["", "  \n", PPS_TOP + "Dear parent"], CFG)[0] == "PPS-LETTER"


def test_another_cases_page_behind_a_cover_sheet_is_not_filed_with_it() -> None:
    """A sheet for PPS-2024-0001, its letter, then a page of PPS-2024-0005 (whose sheet was left
    out): the whole document mentions the sheet's case, but its second page names only another."""
    texts = [PPS_TOP + "Our reference: PPS-2024-0001", PPS_TOP + "Our reference: PPS-2024-0005"]
    d = decide(sheet(), texts, CFG, lookup)
    assert d.decision == "review" and "page 2 of the document mentions PPS-2024-0005" in d.reason
