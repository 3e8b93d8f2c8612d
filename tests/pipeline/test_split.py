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
