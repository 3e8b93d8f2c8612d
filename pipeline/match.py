"""Matching a document to a case and deciding retain / shred / review, with the reason.

A wrong case or a wrong retain/shred decision is far worse than a question to staff, so anything
not clearly decided goes to the review queue:

- a cover sheet names the case, class and decision (its RETAIN/SHRED may differ from the class's
  default: a document of special significance); if the OCR'd text names other case references
  but not the sheet's, the document goes to review;
- without a cover sheet, the text must name exactly one case reference, and exactly one class's
  letterhead phrases must be found near the top of the first page;
- the case must exist, not be disposed of, and have consent to store information recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


def find_refs(texts: Sequence[str], cfg: Config) -> list[str]:
    pattern = re.compile(rf"(?<![A-Za-z0-9]){cfg.reference_pattern.pattern}(?![A-Za-z0-9])")
    seen: dict[str, None] = {}
    for text in texts:
        for m in pattern.finditer(text):
            seen[m.group(0).upper()] = None
    return list(seen)


def classify(texts: Sequence[str], cfg: Config) -> tuple[str | None, str]:
    """The class whose letterhead is found at the top of the first page, else (None, why)."""
    first = texts[0] if texts else ""
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
    sheet: SheetFacts | None, texts: Sequence[str] | None, cfg: Config, lookup: Callable[[str], CaseFacts | None]
) -> Decision:
    if sheet is not None:
        return _decide_by_sheet(sheet, texts, cfg, lookup)
    return _decide_by_text(texts or (), cfg, lookup)


def _decide_by_sheet(sheet: SheetFacts, texts: Sequence[str] | None, cfg: Config, lookup: Callable[[str], CaseFacts | None]) -> Decision:
    how = "cover sheet barcode" if sheet.read_by == "barcode" else "cover sheet (barcode unreadable, read by OCR)"
    source = "barcode" if sheet.read_by == "barcode" else "ocr_text"
    gate = _case_gate(lookup(sheet.case_ref), sheet.case_ref)
    if gate:
        return Decision(None, sheet.doc_class, "review", f"{how} names {sheet.case_ref}, but {gate}", source, sheet.case_ref)
    if texts:
        mentioned = find_refs(texts, cfg)
        others = [r for r in mentioned if r != sheet.case_ref]
        if others and sheet.case_ref not in mentioned:
            return Decision(
                None, sheet.doc_class, "review",
                f"{how} says {sheet.case_ref} but the document mentions {', '.join(others)}: check which case it belongs to",
                source, sheet.case_ref,
            )
    default = cfg.classes[sheet.doc_class].rule
    reason = f"{how}: {sheet.decision.upper()} {sheet.doc_class}"
    if sheet.decision != default:
        reason += f" (class default is {default}: marked on the sheet)"
    return Decision(sheet.case_ref, sheet.doc_class, sheet.decision, reason, source)


def _decide_by_text(texts: Sequence[str], cfg: Config, lookup: Callable[[str], CaseFacts | None]) -> Decision:
    refs = find_refs(texts, cfg)
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
