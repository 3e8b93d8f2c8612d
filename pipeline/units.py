"""Small parsers shared by the configuration and the CLI."""

from __future__ import annotations

import re

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def parse_size(text: str) -> int:
    """``"580MiB"`` -> bytes. Decimal (MB) and binary (MiB) units; a bare number is bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise ValueError(f"{text!r} is not a size: write it like 580MiB or 700MB")
    number, unit = m.groups()
    size = int(float(number) * _UNITS[(unit or "").upper()])
    if size <= 0:
        raise ValueError(f"{text!r} must be larger than zero")
    return size
