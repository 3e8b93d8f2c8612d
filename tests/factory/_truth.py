"""Ground truth of generated batches: what the pipeline must find, page by page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: page kind -> document class (config/default.toml)
KIND_CLASS = {
    "pps-letter": "PPS-LETTER",
    "school-letter": "SCHOOL-LETTER",
    "sen-letter": "SEN-LETTER",
    "ehcp": "EHCP",
    "ep-report": "EP-REPORT",
    "consent": "CONSENT",
    "note": "NOTE",
}
PAGE_KINDS = tuple(KIND_CLASS)

#: class -> what happens to the paper, as in config/default.toml
CLASS_RULES = {
    "PPS-LETTER": "retain",
    "SCHOOL-LETTER": "shred",
    "SEN-LETTER": "shred",
    "EHCP": "shred",
    "EP-REPORT": "shred",
    "CONSENT": "retain",
    "NOTE": "retain",
}
CLASSES = tuple(CLASS_RULES)
REF_PATTERN = r"PPS-\d{4}-\d{4}"


@dataclass(frozen=True)
class ExpectedDocument:
    """One document the pipeline must produce from a batch.

    ``case_ref``: the case it belongs to as far as the scan shows it (cover sheet, or a reference
    printed in its text); None means it can only go to review. ``doc_class``: the true class.
    ``decision``: "retain"/"shred" from the cover sheet; None without one (the pipeline may decide
    by its class rules, whose right answer is ``CLASS_RULES[doc_class]``, or ask staff).
    ``source_pages``: ``"<file name>#<page>"``, cover sheet excluded. ``matched_by``: "barcode",
    "ocr_text" (a cover sheet read from its words, or a reference in the text) or None.
    """

    case_ref: str | None
    doc_class: str
    decision: str | None
    source_pages: tuple[str, ...]
    matched_by: str | None

    @property
    def rule_decision(self) -> str:
        return CLASS_RULES[self.doc_class]


@dataclass(frozen=True)
class PageTruth:
    """One page of a generated file. ``kind`` is a page kind, "coversheet" or "separator"."""

    label: str
    kind: str
    words: tuple[str, ...]
    case_ref: str | None  # the case the page belongs to (None: unknown)
    payload: str | None  # barcode payload a reader must find (cover sheets, separators)
    dpi: int
    skew: float
    upside_down: bool
    jpeg_quality: int | None


@dataclass(frozen=True)
class Batch:
    files: tuple[Path, ...]
    documents: tuple[ExpectedDocument, ...]
    pages: tuple[PageTruth, ...]
    container: str

    @property
    def path(self) -> Path:
        """The file, for single-file containers."""
        if len(self.files) != 1:
            raise ValueError(f"batch has {len(self.files)} files")
        return self.files[0]

    def page(self, label: str) -> PageTruth:
        return next(p for p in self.pages if p.label == label)
