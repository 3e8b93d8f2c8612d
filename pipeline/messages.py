"""Telephone messages left for a parent/carer: who it is for, who called, the number. Nothing else.

The policy: "If a message is left for a parent/carer, it will say who the message is for, who has
made the call, and the PPS telephone number. Details of the child/case are not left on the message."

:func:`build_message` fills the configured template (``messages.template``, which may use only
``{recipient}``, ``{caller}`` and ``{phone}``; checked at load) from those three fields and refuses
(:class:`WouldIdentify`) a template, recipient or caller that carries

- a case reference (anything the configured reference pattern finds, in any letter case);
- a word of ``messages.forbidden_words`` (``EHCP``, ``tribunal``, ...);
- a name from the case's names list. The register holds no names of children or parents, so the
  list is (a) the names the adviser types in as not to be said (``avoid``: the child's name,
  a sibling's, the school's), checked in every field, and (b) the words of the file names the
  case's documents came in under (a scanner's or a person's naming, such as ``Letter re Ayaan.pdf``):
  the capitalised words, as names are written, without common words of documents' names
  (:data:`COMMON_WORDS`: ``Letter``, ``Report``, ``Scan``, ...), checked in the template and the
  caller but not in the recipient, whose own name may well be in a file name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pipeline import audit, authority
from pipeline.authority import Unlocked
from pipeline.config import Config
from pps_archive.errors import InvalidValue, WouldIdentify

#: capitalised words of file names that name nobody (left out of the case's names list)
COMMON_WORDS = frozenset(w.casefold() for w in (
    "Scan", "Scans", "Scanned", "Img", "Image", "Page", "Pages", "Doc", "Docs", "Document", "Documents", "Pdf",
    "Tif", "Tiff", "Jpg", "Jpeg", "Png", "File", "Copy", "Batch", "Office", "Scanner", "New", "The", "And",
    "For", "From", "About", "Re", "To", "Of", "In", "On", "With", "Letter", "Letters", "Report", "Plan", "Draft",
    "Final", "Signed", "Consent", "Form", "Note", "Notes", "Meeting", "Minutes", "Review", "Annual", "School",
    "Academy", "Team", "SEN", "EHCP", "EHC", "Needs", "Assessment", "Parent", "Carer", "Mum", "Dad", "Mother",
    "Father", "Child", "Message", "Call", "Email", "Mail", "Attachment", "Received", "Sent", "Reply", "Copy",
    "Part", "Appendix", "Version", "Council",
))
MIN_NAME = 3  # letters: shorter words of file names are not names to refuse ("re", "to")
MAX_FIELD = 80


@dataclass(frozen=True)
class Message:
    text: str
    recipient: str
    caller: str
    phone: str

    def as_dict(self) -> dict:
        return {"text": self.text, "recipient": self.recipient, "caller": self.caller, "phone": self.phone}


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_][\w'-]*", text)


def case_names_list(s: Session, ref: str) -> list[str]:
    """The capitalised words of the file names under which case ``ref``'s documents (filed, or
    waiting in review for it) came in, without :data:`COMMON_WORDS`, sorted. Reads only."""
    from pipeline.models import Case, Document, Input

    case = s.scalars(select(Case).where(Case.ref == ref)).one_or_none()
    conds = [Document.suggested_ref == ref] + ([Document.case_id == case.id] if case is not None else [])
    rows = s.execute(select(Input.display_name, Input.member_names).join(Document, Document.input_id == Input.id)
                     .where(or_(*conds))).all()
    names: set[str] = set()
    for display, members in rows:
        for name in [display, *(json.loads(members) if members else [])]:
            stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", name)
            names.update(w for w in _words(stem.replace("_", " "))
                         if len(w) >= MIN_NAME and w[0].isupper() and w.casefold() not in COMMON_WORDS)
    return sorted(names, key=str.casefold)


def _found(text: str, cfg: Config, names: Sequence[str], forbidden: Sequence[str]) -> str | None:
    """What in ``text`` would tell the child or the case: a description, or None."""
    rx = re.compile(rf"(?<![A-Za-z0-9])(?:{cfg.raw['cases']['reference_pattern']})(?![0-9])", re.IGNORECASE)
    if rx.search(text):
        return "a case reference"
    folded = " ".join(_words(text)).casefold()
    for word in forbidden:
        w = " ".join(_words(word)).casefold()
        if w and re.search(rf"(?<!\w){re.escape(w)}(?!\w)", folded):
            return f"the word {word!r}"
    for name in names:
        w = " ".join(_words(name)).casefold()
        if w and re.search(rf"(?<!\w){re.escape(w)}(?!\w)", folded):
            return "a name from the case's names list"
    return None


def check_text(text: str, what: str, cfg: Config, names: Sequence[str] = ()) -> None:
    """Raise :class:`WouldIdentify` if ``text`` carries a case reference, a forbidden word or one of ``names``."""
    found = _found(text, cfg, names, cfg.section("messages")["forbidden_words"])
    if found:
        raise WouldIdentify(what=what, found=found)


def _field(value: str, what: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise InvalidValue(f"a message needs {what}")
    if len(value) > MAX_FIELD:
        raise InvalidValue(f"{what} is at most {MAX_FIELD} characters in a message")
    return value


def build_message(
    s: Session, cfg: Config, auth: Unlocked, *, recipient: str, caller: str, ref: str | None = None,
    avoid: Sequence[str] = (), template: str | None = None,
) -> Message:
    """The message to leave for ``recipient`` from ``caller``, from the configured template (or
    ``template``, checked as the configuration is). ``ref``: the case the call is about, whose names
    list is checked (it never appears in the message); ``avoid``: names the adviser knows must not be
    said. Needs a staff login; audited (``message.built``, with the case). Runs in the caller's
    transaction."""
    from pipeline.cases import check_ref, get_case
    from pipeline.config import _message_template

    how = authority.require(s, auth, "writing a telephone message", role=authority.STAFF)
    section = cfg.section("messages")
    phone = section["phone"].strip()
    if not phone:
        raise InvalidValue("no telephone number is configured for messages: set messages.phone in the configuration")
    text = section["template"] if template is None else template
    problem = _message_template(text)
    if problem is not None:
        raise InvalidValue(f"the message template {problem}")
    recipient, caller = _field(recipient, "who the message is for"), _field(caller, "who made the call")
    typed = [n for n in (" ".join(a.split()) for a in avoid) if n]
    files: list[str] = []
    case_ref = None
    if ref is not None:
        case_ref = get_case(s, check_ref(cfg, ref)).ref
        files = case_names_list(s, case_ref)
    check_text(text, "the message template", cfg, [*typed, *files])
    check_text(recipient, "who the message is for", cfg, typed)
    check_text(caller, "who made the call", cfg, [*typed, *files])
    message = Message(text=text.format(recipient=recipient, caller=caller, phone=phone), recipient=recipient,
                      caller=caller, phone=phone)
    audit.record(s, auth.actor, "message.built", case_ref=case_ref, **how)  # never the text: it names the parent
    return message
