"""Matching a document to a case and deciding retain / shred / review, with the reason.

A wrong case or a wrong retain/shred decision is far worse than a question to staff, so anything
not clearly decided goes to the review queue:

- a cover sheet names the case, class and decision (its RETAIN/SHRED may differ from the class's
  default: a document of special significance); if a page of the document names other case
  references but not the sheet's (another case's paper behind a missing sheet), it goes to review;
- a page that carries the cover sheet's title but whose payload cannot be read stands in front of a
  document that goes to review (its case is never guessed);
- without a cover sheet, the text must name exactly one case reference, and exactly one class's
  letterhead phrases must be found near the top of the first page;
- a case reference is found as printed (the configured pattern), or as people write it and OCR
  reads it (spaces, lower case, a line break, look-alike characters) when, so normalised, it is the
  reference of exactly one case in the register; a reference that is not in the register is never
  found that way;
- the case must exist, not be disposed of, and have consent to store information recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pipeline.config import Config

TOP_LINES = 15


@dataclass(frozen=True)
class CaseFacts:
    ref: str
    store_consent: bool
    disposed: bool


@dataclass(frozen=True)
class Decision:
    case_ref: str | None
    doc_class: str | None
    decision: str  # retain | shred | review
    reason: str
    source: str  # barcode | ocr_text
    suggested_ref: str | None = None


@dataclass(frozen=True)
class SheetFacts:
    case_ref: str
    decision: str
    doc_class: str
    read_by: str  # "barcode" | "ocr" (a sheet whose barcode could not be read)
    archiving: bool = False  # an archiving sheet (fourth field ARCHIVE): not new activity on the case


@dataclass(frozen=True)
class UnreadableSheet:
    """A page with the cover sheet's title whose payload could not be read (barcode and words)."""

    label: str  # the page, "<input file name>#<page>"
    case_ref: None = None


@dataclass(frozen=True)
class RefIndex:
    """The register's case references by skeleton (``scanners._ocrtext``), to find them as written."""

    by_skeleton: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, refs: Iterable[str]) -> RefIndex:
        from scanners._ocrtext import skeleton_index

        return cls(skeleton_index(refs))

    def find(self, text: str) -> list[tuple[int, tuple[str, ...]]]:
        """Registered references in ``text`` as (offset, refs): several refs when look-alikes compete."""
        from scanners._ocrtext import find_known

        return find_known(text, self.by_skeleton)

    def known(self, text: str) -> list[tuple[str, ...]]:
        """``find`` without the offsets (what ``scanners.coversheet.read_coversheet_text`` takes)."""
        return [refs for _, refs in self.find(text)]


def find_refs(texts: Sequence[str], cfg: Config, index: RefIndex | None = None) -> list[str]:
    """Case references named in ``texts``, in order: each exact match of the pattern, and (with
    ``index``) each registered reference written with spaces, in lower case, across a line break or
    with OCR's look-alike characters. Two registered references that read the same are both given."""
    pattern = re.compile(rf"(?<![A-Za-z0-9]){cfg.reference_pattern.pattern}(?![A-Za-z0-9])")
    seen: dict[str, None] = {}
    for text in texts:
        found = [(m.start(), (m.group(0).upper(),)) for m in pattern.finditer(text)]
        if index is not None:
            found += index.find(text)
        for _, refs in sorted(found, key=lambda f: f[0]):
            for ref in refs:
                seen[ref] = None
    return list(seen)


def classify(texts: Sequence[str], cfg: Config) -> tuple[str | None, str]:
    """The class whose letterhead is found at the top of the first page, else (None, why).

    The first page with any text counts (a blank back in front of a document says nothing)."""
    first = next((t for t in texts if t.strip()), "")
    top = " ".join([ln for ln in first.splitlines() if ln.strip()][:TOP_LINES]).casefold()
    top = re.sub(r"\s+", " ", top)
    hits = []
    for c in cfg.classes.values():
        phrase = next((p for p in c.match if p.casefold() in top), None)
        if phrase and not any(x.casefold() in top for x in c.exclude):
            hits.append((c.name, phrase))
    if len(hits) == 1:
        return hits[0][0], f"letterhead/heading {hits[0][1]!r} found"
    if not hits:
        return None, "no letterhead or heading of a known class found"
    return None, "looks like more than one class (" + ", ".join(n for n, _ in hits) + ")"


def _case_gate(facts: CaseFacts | None, ref: str) -> str | None:
    if facts is None:
        return f"case {ref} is not in the register: open it, then assign this document"
    if facts.disposed:
        return f"case {ref} has been disposed of"
    if not facts.store_consent:
        return f"case {ref} has no recorded consent to store information"
    return None


def decide(
    sheet: SheetFacts | UnreadableSheet | None, texts: Sequence[str] | None, cfg: Config,
    lookup: Callable[[str], CaseFacts | None], index: RefIndex | None = None,
) -> Decision:
    """Retain, shred or review, with the reason. ``index``: the register, to find references as
    people write them (without it only exact matches of the pattern count)."""
    if isinstance(sheet, UnreadableSheet):
        refs = find_refs(texts or (), cfg, index)
        return Decision(None, None, "review",
                        f"a cover sheet ({sheet.label}) stands in front of this document, but its barcode and its printed "
                        "payload could not be read: check the sheet and assign the document", "ocr_text",
                        refs[0] if len(refs) == 1 else None)
    if sheet is not None:
        return _decide_by_sheet(sheet, texts, cfg, lookup, index)
    return _decide_by_text(texts or (), cfg, lookup, index)


def _decide_by_sheet(sheet: SheetFacts, texts: Sequence[str] | None, cfg: Config,
                     lookup: Callable[[str], CaseFacts | None], index: RefIndex | None) -> Decision:
    how = "cover sheet barcode" if sheet.read_by == "barcode" else "cover sheet (barcode unreadable, read by OCR)"
    source = "barcode" if sheet.read_by == "barcode" else "ocr_text"
    gate = _case_gate(lookup(sheet.case_ref), sheet.case_ref)
    if gate:
        return Decision(None, sheet.doc_class, "review", f"{how} names {sheet.case_ref}, but {gate}", source, sheet.case_ref)
    for n, text in enumerate(texts or (), 1):
        # a page that names other cases and not the sheet's may be another case's (a missing sheet)
        mentioned = find_refs([text], cfg, index)
        others = [r for r in mentioned if r != sheet.case_ref]
        if others and sheet.case_ref not in mentioned:
            where = f"page {n} of the document mentions" if len(texts or ()) > 1 else "the document mentions"
            return Decision(
                None, sheet.doc_class, "review",
                f"{how} says {sheet.case_ref} but {where} {', '.join(others)}: check which case it belongs to",
                source, sheet.case_ref,
            )
    default = cfg.classes[sheet.doc_class].rule
    reason = f"{how}: {sheet.decision.upper()} {sheet.doc_class}"
    if sheet.decision != default:
        reason += f" (class default is {default}: marked on the sheet)"
    return Decision(sheet.case_ref, sheet.doc_class, sheet.decision, reason, source)


def _decide_by_text(texts: Sequence[str], cfg: Config, lookup: Callable[[str], CaseFacts | None],
                    index: RefIndex | None) -> Decision:
    refs = find_refs(texts, cfg, index)
    if not refs:
        return Decision(None, None, "review", "no cover sheet and no case reference found in the text", "ocr_text")
    if len(refs) > 1:
        return Decision(None, None, "review", f"no cover sheet and several case references in the text ({', '.join(refs)})", "ocr_text")
    ref = refs[0]
    doc_class, why = classify(texts, cfg)
    gate = _case_gate(lookup(ref), ref)
    if gate:
        return Decision(None, doc_class, "review", f"case reference {ref} found in the text, but {gate}", "ocr_text", ref)
    if doc_class is None:
        return Decision(None, None, "review", f"case reference {ref} found in the text, but the class is unclear: {why}", "ocr_text", ref)
    rule = cfg.classes[doc_class].rule
    return Decision(ref, doc_class, rule, f"case reference {ref} in the text; {why}; class rule: {rule}", "ocr_text")
