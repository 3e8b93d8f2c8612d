"""The factory's scans and ground truth agree with each other and are reproducible."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from scanners.coversheet import GENERIC_SEPARATOR, parse_payload
from tests.factory import CLASSES, CLASS_RULES, KIND_CLASS, REF_PATTERN, Cover, Doc, ScanFactory, Separator
from tests.scanners.conftest import CONTAINER_NAMES


@pytest.mark.parametrize("container", list(CONTAINER_NAMES))
def test_ground_truth_is_consistent(container_batches, container: str) -> None:
    batch = container_batches[container]
    labels = [p.label for p in batch.pages]
    assert len(set(labels)) == len(labels)
    assert {label.split("#")[0] for label in labels} == {f.name for f in batch.files}
    for page in batch.pages:
        assert page.words, page.label
        if page.kind == "coversheet":
            sheet = parse_payload(page.payload, REF_PATTERN, CLASSES)
            assert sheet is not None and sheet.case_ref == page.case_ref
        elif page.kind == "separator":
            assert page.payload == GENERIC_SEPARATOR
        else:
            assert page.payload is None and page.kind in KIND_CLASS
    in_documents = [label for doc in batch.documents for label in doc.source_pages]
    assert len(in_documents) == len(set(in_documents))
    assert set(in_documents) == {p.label for p in batch.pages if p.kind in KIND_CLASS}


def test_documents_follow_the_cover_sheet_format(container_batches) -> None:
    docs = container_batches["pdf"].documents
    assert [(d.case_ref, d.doc_class, d.decision, d.matched_by, d.source_pages) for d in docs] == [
        ("PPS-2024-0137", "PPS-LETTER", "retain", "barcode", ("scan_0042.pdf#2", "scan_0042.pdf#3")),
        ("PPS-2024-0137", "SCHOOL-LETTER", "shred", "barcode", ("scan_0042.pdf#5",)),
        ("PPS-2024-0211", "NOTE", None, "ocr_text", ("scan_0042.pdf#7",)),
    ]
    assert docs[2].rule_decision == CLASS_RULES["NOTE"] == "retain"


def test_reference_printed_only_where_truth_says(tmp_path: Path) -> None:
    batch = ScanFactory(seed=5).batch(tmp_path, "scan_0050.pdf", [
        Doc("ep-report", "PPS-2024-0400", pages=2),  # not ours: no reference printed
        Separator(),
        Doc("consent", "PPS-2024-0401"),
        Cover("PPS-2024-0402", "retain", "NOTE", blot=True),
        Doc("note", "PPS-2024-0402", ref_in_text=False),
    ], dpi=150)
    refs = {p.label: {w for w in p.words if re.fullmatch(REF_PATTERN, w.strip(".,"))} for p in batch.pages}
    assert refs == {"scan_0050.pdf#1": set(), "scan_0050.pdf#2": set(), "scan_0050.pdf#3": set(),
                    "scan_0050.pdf#4": {"PPS-2024-0401"}, "scan_0050.pdf#5": {"PPS-2024-0402"},
                    "scan_0050.pdf#6": set()}
    assert [(d.case_ref, d.matched_by) for d in batch.documents] == [
        (None, None), ("PPS-2024-0401", "ocr_text"), ("PPS-2024-0402", "ocr_text")]


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    items = [Cover("PPS-2024-0001", "shred", "EHCP"), Doc("ehcp", "PPS-2024-0001")]
    one = ScanFactory(seed=9).batch(tmp_path / "a", "s.tif", items, container="tiff-g4", dpi=150)
    two = ScanFactory(seed=9).batch(tmp_path / "b", "s.tif", items, container="tiff-g4", dpi=150)
    other = ScanFactory(seed=10).batch(tmp_path / "c", "s.tif", items, container="tiff-g4", dpi=150)
    assert one.path.read_bytes() == two.path.read_bytes() != other.path.read_bytes()
    assert one.pages == two.pages


def test_no_real_looking_names_leak_into_file_names(container_batches, bad_files) -> None:
    from tests.factory._content import CHILDREN, PARENTS

    names = {n.split()[-1] for n in PARENTS} | set(CHILDREN)
    files = [f.name for b in container_batches.values() for f in b.files] + [p.name for p in bad_files.values()]
    assert not [f for f in files if any(n in f for n in names)]


# --- the scans issue 8 needs ------------------------------------------------------------------------

def test_duplex_backs_follow_every_page_and_belong_where_their_front_does(tmp_path: Path) -> None:
    batch = ScanFactory(seed=6).batch(tmp_path, "d.pdf", [
        Cover("PPS-2024-0410", "retain", "NOTE"), Doc("note", "PPS-2024-0410", pages=2),
        Separator(symbology="code39"), Doc("consent", "PPS-2024-0411"),
    ], dpi=100, duplex=True)
    assert [p.kind for p in batch.pages] == ["coversheet", "sheet-back", "note", "blank", "note", "blank",
                                             "separator", "sheet-back", "consent", "blank"]
    assert [(d.case_ref, d.source_pages) for d in batch.documents] == [
        ("PPS-2024-0410", ("d.pdf#3", "d.pdf#4", "d.pdf#5", "d.pdf#6")), ("PPS-2024-0411", ("d.pdf#9", "d.pdf#10"))]
    assert batch.page("d.pdf#4").case_ref == "PPS-2024-0410" and batch.page("d.pdf#2").case_ref is None


def test_two_cases_without_a_sheet_are_two_expected_documents(tmp_path: Path) -> None:
    batch = ScanFactory(seed=7).batch(tmp_path, "two.pdf", [
        Doc("pps-letter", "PPS-2024-0420", pages=2, ref_every_page=True),
        Doc("pps-letter", "PPS-2024-0421", ref_every_page=True),
    ], dpi=100)
    assert [(d.case_ref, d.source_pages) for d in batch.documents] == [
        ("PPS-2024-0420", ("two.pdf#1", "two.pdf#2")), ("PPS-2024-0421", ("two.pdf#3",))]
    assert all("PPS-2024-0420" in p.words for p in batch.pages[:2])


@pytest.mark.parametrize(("style", "printed"), [
    ("spaced", ["PPS-", "2024-0430"]), ("lower", ["pps", "2024", "0430"]), ("broken", ["PPS-2024-", "0430"]),
])
def test_references_are_printed_as_people_write_them(tmp_path: Path, style: str, printed: list[str]) -> None:
    batch = ScanFactory(seed=8).batch(tmp_path, "w.pdf", [Doc("pps-letter", "PPS-2024-0430", ref_style=style)],
                                      container="pdf-text", dpi=100)
    words = list(batch.pages[0].words)
    assert "PPS-2024-0430" not in words
    i = words.index(printed[0])
    assert words[i:i + len(printed)] == printed
    if style == "broken":  # the text layer breaks the line where the page does
        text = subprocess.run(["pdftotext", "-raw", str(batch.path), "-"], capture_output=True, text=True).stdout
        assert "PPS-2024-\n0430" in text
