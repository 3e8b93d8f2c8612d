"""The reasons given for refusing an input: each says what happened and what to do."""

from __future__ import annotations

from pps_archive.errors import BadInput

TRUNCATED = "is truncated or damaged (a transfer that did not finish?): scan it again"
PASSWORD = "is password-protected: remove the password and scan/drop it in again"
NO_PAGES = "has no pages: scan it again"


def damaged(display_name: str, what: str = "") -> BadInput:
    reason = TRUNCATED if not what else f"is truncated or damaged ({what}): scan it again"
    return BadInput(file=display_name, reason=reason)


def too_many_pixels(display_name: str, size: tuple[int, int], limit: int, page: int | None = None) -> BadInput:
    where = f"page {page} is" if page else "has a page of"
    w, h = size
    return BadInput(
        file=display_name,
        reason=f"{where} {w}x{h} pixels, over the limit of {limit:,} pixels a page (an A4 page at 300 dpi is about "
        f"8.7 million); scan at 300 dpi",
    )


def too_many_pages(display_name: str, count: int, limit: int) -> BadInput:
    return BadInput(file=display_name, reason=f"has {count} pages, over the limit of {limit}: scan the batch in smaller parts")


def too_big(display_name: str, size: int, limit: int) -> BadInput:
    return BadInput(
        file=display_name,
        reason=f"is {size / 1e6:.1f} MB, over the limit of {limit / 1e6:.1f} MB: scan the batch in smaller parts",
    )


#: a page narrower or shorter than this many pixels cannot be a scanned page (A6 at 100 dpi is 413 wide)
MIN_PAGE_PIXELS = 200


def too_small(display_name: str, size: tuple[int, int]) -> BadInput:
    w, h = size
    return BadInput(
        file=display_name,
        reason=f"has a page of only {w}x{h} pixels, too small to be a scanned page: scan the paper at 200-300 dpi",
    )
