"""Splitting a batch at cover sheets and PATCHT separators, pages never lost or duplicated."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.match import SheetFacts
from pipeline.process import resplit, split

S = SheetFacts("PPS-2024-0001", "retain", "NOTE", "barcode")


def test_pages_before_the_first_sheet_are_their_own_document() -> None:
    pages = list("abcde")
    marks = [("page", None), ("sheet", S), ("page", None), ("separator", None), ("page", None)]
    segments = split(pages, marks)
    assert [(s.sheet, s.pages) for s in segments] == [(None, ["a"]), (S, ["c"]), (None, ["e"])]


def test_a_sheet_with_nothing_after_it_is_kept_as_an_empty_segment() -> None:
    segments = split(["a", "b"], [("sheet", S), ("sheet", S)])
    assert [s.pages for s in segments] == [[], []]


@given(st.lists(st.sampled_from(["page", "sheet", "separator"]), max_size=40))
def test_every_content_page_lands_in_exactly_one_document(kinds: list[str]) -> None:
    pages = list(range(len(kinds)))
    marks = [(k, S if k == "sheet" else None) for k in kinds]
    segments = split(pages, marks)
    content = [p for p, k in zip(pages, kinds, strict=True) if k == "page"]
    assert [p for s in segments for p in s.pages] == content
    # nothing is empty unless a cover sheet stands for it (reported as a sheet with no pages)
    assert all(seg.pages or seg.sheet is not None for seg in segments)
    assert sum(seg.sheet is not None for seg in segments) == kinds.count("sheet")


def test_resplit_at_a_page_read_as_a_sheet() -> None:
    from pipeline.process import Segment

    seg = Segment(sheet=None, pages=["a", "b", "c"])
    out = resplit(seg, [None, S, None])
    assert [(s.sheet, s.pages) for s in out] == [(None, ["a"]), (S, ["c"])]


# --- unreadable sheets, blank backs, a change of case (issue 8) ------------------------------------

from pipeline.match import UnreadableSheet  # noqa: E402
from pipeline.process import Segment, split_by_reference  # noqa: E402

U = UnreadableSheet("scan.pdf#2")


def test_a_page_read_as_an_unreadable_sheet_splits_and_is_in_no_document() -> None:
    seg = Segment(sheet=None, pages=["a", "u", "b", "c"])
    out = resplit(seg, [None, U, None, None])
    assert [(s.sheet, s.pages) for s in out] == [(None, ["a"]), (U, ["b", "c"])]


def test_blank_backs_of_sheets_are_dropped_with_them_and_others_stay_in_their_document() -> None:
    pages = ["s", "s-back", "a1", "a1-back", "sep", "sep-back", "b1", "b1-back"]
    marks = [("sheet", S), ("blank", None), ("page", None), ("blank", None), ("separator", None), ("blank", None),
             ("page", None), ("blank", None)]
    out = split(pages, marks)
    assert [(s.sheet, s.pages, s.backs) for s in out] == [(S, ["a1", "a1-back"], 1), (None, ["b1", "b1-back"], 1)]
    assert out[0].blank == {"a1-back"} and out[0].content() == ["a1"]


def test_blank_pages_alone_are_no_document() -> None:
    # a lone separator scanned duplex; blank pages in front of a cover sheet
    assert split(["sep", "back"], [("separator", None), ("blank", None)]) == []
    out = split(["x", "y", "s", "back"], [("blank", None), ("blank", None), ("sheet", S), ("blank", None)])
    assert [(s.sheet, s.pages) for s in out] == [(S, [])]  # the sheet with nothing behind it, as before


@given(st.lists(st.sampled_from(["page", "sheet", "separator", "blank"]), max_size=40))
def test_every_content_page_lands_in_exactly_one_document_with_blanks(kinds: list[str]) -> None:
    pages = list(range(len(kinds)))
    segments = split(pages, [(k, S if k == "sheet" else None) for k in kinds])
    content = [p for p, k in zip(pages, kinds, strict=True) if k == "page"]
    assert [p for s in segments for p in s.content()] == content
    placed = [p for s in segments for p in s.pages]
    assert len(placed) == len(set(placed))
    # a blank page is left out only as a sheet's back or where no document is
    assert all(s.content() or s.sheet is not None for s in segments)


REFS = {"a": ["PPS-2024-0001"], "b": ["PPS-2024-0002"], "n": [], "ab": ["PPS-2024-0001", "PPS-2024-0002"]}


def by_ref(names: list[str], blank: set[int] = frozenset()) -> list[list[str]]:
    pages = [f"{n}{i}" for i, n in enumerate(names)]
    seg = Segment(sheet=None, pages=pages, blank={pages[i] for i in blank})
    return [[p for p in s.pages] for s in split_by_reference(seg, [REFS[n] for n in names])]


def test_a_batch_of_two_cases_splits_where_the_reference_changes() -> None:
    assert by_ref(["a", "a", "b", "b"]) == [["a0", "a1"], ["b2", "b3"]]
    assert by_ref(["a", "b", "a"]) == [["a0"], ["b1"], ["a2"]]


def test_pages_without_a_reference_between_two_cases_are_a_document_of_their_own() -> None:
    assert by_ref(["a", "n", "b", "n"]) == [["a0"], ["n1"], ["b2", "n3"]]
    seg = Segment(sheet=None, pages=["a0", "n1", "b2"])
    assert "between pages of PPS-2024-0001 and PPS-2024-0002" in split_by_reference(seg, [REFS["a"], [], REFS["b"]])[1].hint
    assert by_ref(["n", "a", "n", "a", "n"]) == [["n0", "a1", "n2", "a3", "n4"]]  # one case: as before


def test_blank_backs_follow_their_front_and_never_split() -> None:
    assert by_ref(["a", "n", "b", "n"], blank={1, 3}) == [["a0", "n1"], ["b2", "n3"]]


def test_a_page_naming_two_cases_stands_alone() -> None:
    assert by_ref(["a", "ab", "b"]) == [["a0"], ["ab1"], ["b2"]]


def test_a_segment_behind_a_cover_sheet_is_not_split_by_reference() -> None:
    seg = Segment(sheet=S, pages=["a", "b"])
    assert split_by_reference(seg, [REFS["a"], REFS["b"]]) == [seg]


@given(st.lists(st.sampled_from(["a", "b", "n", "ab"]), min_size=1, max_size=30))
def test_split_by_reference_never_puts_two_cases_in_one_document(names: list[str]) -> None:
    parts = by_ref(names)
    assert [p for part in parts for p in part] == [f"{n}{i}" for i, n in enumerate(names)]
    for part in parts:
        kinds = {p.rstrip("0123456789") for p in part}
        assert not {"a", "b"} <= kinds  # never a page of one case with a page of the other
        assert "ab" not in kinds or not kinds & {"a", "b"}  # a page naming both goes to review apart
