"""What goes on a disc, and the text of its small files (manifest, index, audit head, README).

One spelling for every name in every tree: upper-case ISO 9660 8.3 names, the same in the ISO 9660,
Joliet and Rock Ridge trees, so a manifest written with one reader's names checks under any other.
The layout is described in docs/formats.md; the README on the disc repeats the essentials.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

from pps_archive.errors import IntegrityError, InvalidValue, UnsupportedFormat

README = "README.TXT"
MANIFEST = "MANIFEST.TXT"
INDEX = "INDEX.JSN"
SIGNATURE = "INDEX.SIG"
PUBKEY = "PUBKEY.TXT"
AUDIT = "AUDIT.TXT"
ITEMS_DIR = "ITEMS"
METADATA = (README, MANIFEST, INDEX, SIGNATURE, PUBKEY, AUDIT)

INDEX_FORMAT = "pps-archive/disc-index"
INDEX_VERSION = 2  # 2: the index carries README.TXT's SHA-256, so the signature covers the README too
INDEX_VERSIONS = (1, 2)  # version 1 discs (made before) are still read; their README is not covered

NAME_83 = re.compile(r"[A-Z0-9_]{1,8}(\.[A-Z0-9_]{1,3})?")
_LABEL = re.compile(r"[A-Z0-9_-]{1,32}")
_ITEM_ID = re.compile(r"[0-9a-f]{32}")
_CASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TOKEN = re.compile(r"[A-Za-z0-9:_+/=.-]{1,200}")
_MANIFEST_LINE = re.compile(r"([0-9a-f]{64})  ([A-Z0-9_./]{1,40})")


@dataclass(frozen=True)
class DiscItem:
    """One vault blob to put on a disc (all values from the database; no names of people)."""

    item_id: str
    blob_path: Path
    case_ref: str
    dispose_after: str  # ISO date, YYYY-MM-DD
    ciphertext_sha256: str


@dataclass(frozen=True)
class DiscContent:
    label: str  # upper case, digits, '_' and '-', at most 32: e.g. "PPS-2031-001"
    archive_id: str
    service_name: str
    audit_head: str
    items: tuple[DiscItem, ...]
    created: str | None = None  # ISO date the caller's clock gives; None leaves it out


def item_file(number: int) -> str:
    return f"{ITEMS_DIR}/{number:08d}.AGE"


def volume_id(label: str) -> str:
    """The ISO 9660 volume id: the label with '-' turned into '_' (d-characters only)."""
    return label.replace("-", "_")


def _printable(text: str, what: str) -> None:
    if not text or not all(32 <= ord(c) < 127 for c in text) or len(text) > 120:
        raise InvalidValue(f"{what} must be 1-120 printable ASCII characters")


def validate(content: DiscContent) -> None:
    if not _LABEL.fullmatch(content.label):
        raise InvalidValue(f"disc label {content.label!r}: use 1-32 of A-Z, 0-9, '_' and '-'")
    _printable(content.archive_id, "the archive id")
    _printable(content.service_name, "the service name")
    if not _TOKEN.fullmatch(content.audit_head):
        raise InvalidValue("the audit head must be a hash (letters, digits, ':' '-' '_' '+' '/' '=' '.')")
    if content.created is not None:
        dt.date.fromisoformat(content.created)
    if not content.items:
        raise InvalidValue(f"disc {content.label} has no items")
    seen: set[str] = set()
    for item in content.items:
        if not _ITEM_ID.fullmatch(item.item_id) or item.item_id in seen:
            raise InvalidValue(f"item id {item.item_id!r} is not a unique vault id")
        seen.add(item.item_id)
        if not _CASE.fullmatch(item.case_ref):
            raise InvalidValue(f"case reference {item.case_ref!r} cannot go on a disc")
        try:
            dt.date.fromisoformat(item.dispose_after)
        except (TypeError, ValueError):
            raise InvalidValue(f"dispose_after {item.dispose_after!r} of item {item.item_id} is not a date") from None
        if not _HEX64.fullmatch(item.ciphertext_sha256):
            raise InvalidValue(f"item {item.item_id}: ciphertext_sha256 is not 64 lower-case hex digits")


def index_bytes(content: DiscContent, sizes: list[int], signer: str, readme_sha256: str) -> bytes:
    """INDEX.JSN: the disposal schedule. Item file, id, case, dispose-after, size, SHA-256; no names.
    It also carries the README's SHA-256, so the index signature covers the README's instructions."""
    doc = {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "readme_sha256": readme_sha256,
        "label": content.label,
        "archive": content.archive_id,
        "service": content.service_name,
        "created": content.created,
        "audit_head": content.audit_head,
        "signing_key": signer,
        "items": [
            {
                "file": item_file(n),
                "item": item.item_id,
                "case": item.case_ref,
                "dispose_after": item.dispose_after,
                "size": size,
                "sha256": item.ciphertext_sha256,
            }
            for n, (item, size) in enumerate(zip(content.items, sizes, strict=True), start=1)
        ],
    }
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


def parse_index(data: bytes) -> dict:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(what=INDEX, problem=f"it is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT:
        raise IntegrityError(what=INDEX, problem="it is not a pps-archive disc index")
    if doc.get("version") not in INDEX_VERSIONS:
        raise UnsupportedFormat(what="the disc index", version=doc.get("version"))
    if doc["version"] >= 2 and not (isinstance(doc.get("readme_sha256"), str) and _HEX64.fullmatch(doc["readme_sha256"])):
        raise IntegrityError(what=INDEX, problem="it does not carry the README's SHA-256")
    items = doc.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise IntegrityError(what=INDEX, problem="its item list is malformed")
    return doc


def manifest_text(hashes: dict[str, str]) -> bytes:
    """sha256sum format (two spaces, relative path), sorted: ``sha256sum -c MANIFEST.TXT`` checks it."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(hashes.items())).encode("ascii")


def parse_manifest(data: bytes) -> dict[str, str]:
    hashes: dict[str, str] = {}
    try:
        lines = data.decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise IntegrityError(what=MANIFEST, problem="it is not ASCII text") from None
    for number, line in enumerate(lines, start=1):
        m = _MANIFEST_LINE.fullmatch(line)
        if not m or m.group(2) in hashes:
            raise IntegrityError(what=MANIFEST, problem=f"line {number} is not a unique '<sha256>  <NAME>' line")
        hashes[m.group(2)] = m.group(1)
    return hashes


def audit_text(audit_head: str) -> bytes:
    return f"pps-archive audit chain head: {audit_head}\n".encode("ascii")


def parse_audit(data: bytes) -> str:
    text = data.decode("ascii", "replace").strip()
    prefix = "pps-archive audit chain head: "
    if not text.startswith(prefix):
        raise IntegrityError(what=AUDIT, problem="it does not hold an audit chain head")
    return text[len(prefix) :]
