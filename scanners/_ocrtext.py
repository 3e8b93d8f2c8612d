"""What OCR does to printed text, and how to read through it without guessing.

OCR confuses some characters with others of the same shape (O and 0, I, l, | and 1, S and 5,
B and 8), changes letter case, and breaks a token with spaces, dashes or a line break. A
*skeleton* maps every character of such a group to one representative and drops the separators, so
``PPS-2O24-Ol37``, ``pps 2024 0137`` and ``PPS-2024-\\n0137`` all have the skeleton of
``PPS-2024-0137``. A skeleton is only ever compared with the skeleton of a known word (a title, a
decision, a class, a case reference in the register): it never invents one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

#: separators people and OCR put inside a token: whitespace (line breaks too), dashes, underscore
SOFT = "\t\n\r\f\v -_\u00a0\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_SOFT_SET = frozenset(SOFT)
#: characters of one shape, mapped to one representative (applied after upper-casing)
_SHAPES = str.maketrans({"O": "0", "Q": "0", "I": "1", "L": "1", "|": "1", "!": "1", "S": "5", "B": "8"})
#: for a tolerant regex: every character that may stand for a given one
_GROUPS = ("0OoQ", "1IlL|!i", "5Ss", "8B")


def skeleton(text: str) -> str:
    """``text`` upper-cased, separators dropped, look-alike characters made one."""
    return "".join(c.upper()[:1] for c in text if c not in _SOFT_SET).translate(_SHAPES)


def _char_class(c: str) -> str:
    if c in SOFT:
        return r"[\s\-_\u2010-\u2015\u2212]{0,3}"
    group = next((g for g in _GROUPS if c in g or c.upper() in g), None)
    chars = set(group) if group else set()
    chars.update({c, c.upper(), c.lower()})
    return "[" + "".join(re.escape(x) for x in sorted(chars)) + "]"


def tolerant(word: str) -> str:
    """A regex matching ``word`` as OCR may render it (any case, look-alikes, broken separators).

    Each character may be followed by a stray space (OCR splits words); the caller anchors it.
    """
    return r"\s?".join(_char_class(c) for c in word)


def skeleton_index(words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """skeleton -> the words that have it (two words with one skeleton cannot be told apart)."""
    out: dict[str, tuple[str, ...]] = {}
    for w in dict.fromkeys(words):
        out[skeleton(w)] = (*out.get(skeleton(w), ()), w)
    return out


def find_known(text: str, index: Mapping[str, tuple[str, ...]]) -> list[tuple[int, tuple[str, ...]]]:
    """Every known word of ``index`` found in ``text`` through its skeleton, in reading order, as
    (offset in ``text``, words).

    A hit must start and end at a token boundary of the original text (so ``XPPS-2024-01371``
    does not hold ``PPS-2024-0137``). Each hit gives the tuple of words with that skeleton: one word
    when it is unambiguous, several when look-alike words compete.
    """
    if not index or not text:
        return []
    stream, where = [], []
    for i, c in enumerate(text):
        if c in _SOFT_SET:
            continue
        stream.append(c.upper()[:1].translate(_SHAPES))
        where.append(i)
    flat = "".join(stream)
    hits: list[tuple[int, tuple[str, ...]]] = []
    for key, words in index.items():
        if not key:
            continue
        start = flat.find(key)
        while start != -1:
            first, last = where[start], where[start + len(key) - 1]
            before = text[first - 1] if first > 0 else " "
            after = text[last + 1] if last + 1 < len(text) else " "
            if not before.isalnum() and not after.isalnum():
                hits.append((first, words))
            start = flat.find(key, start + 1)
    hits.sort(key=lambda h: h[0])
    return hits
