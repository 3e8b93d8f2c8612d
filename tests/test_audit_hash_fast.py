"""The audit check hashes every event with a written-out canonical JSON (no encoder per event):
it must give the very bytes ``json.dumps`` gives, or every old log would show as broken."""

from __future__ import annotations

import hashlib

from pipeline import audit

AWKWARD = ["", "plain", 'quote " and backslash \\', "tab\tnewline\ncr\r", "\x00\x1f\x7f", "café ñ", "日本語",
           "emoji 🗂️", "\ud800 lone surrogate", '{"document":7,"unlocked_with":"staff-password"}', "</script>"]


def _slow(seq, at, actor, action, case_ref, subject, details, prev) -> str:  # noqa: ANN001
    payload = {"seq": seq, "at": at, "actor": actor, "action": action, "case_ref": case_ref, "subject": subject,
               "details": details, "prev": prev}
    return hashlib.sha256(audit._canonical(payload)).hexdigest()  # noqa: SLF001 - the definition of the hash


def test_the_fast_event_hash_is_the_canonical_json_hash() -> None:
    for i, text in enumerate(AWKWARD):
        for case_ref in (None, text, "PPS-2024-0001"):
            args = (i + 1, text or "2026-01-01T00:00:00.000000", text, text, case_ref, None if i % 2 else text,
                    text, audit.GENESIS)
            assert audit.event_hash(*args) == _slow(*args), args
    big = (2**40, "2026-01-01T00:00:00.000000", "manager", "case.open", "PPS-2024-0001", "case:1", "{}", "f" * 64)
    assert audit.event_hash(*big) == _slow(*big)


def test_other_types_take_the_general_path() -> None:
    args = (3, "2026-01-01T00:00:00.000000", "manager", "case.open", None, 12, "{}", audit.GENESIS)  # an int subject
    assert audit.event_hash(*args) == _slow(*args)
