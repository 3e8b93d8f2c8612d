"""Fonts for drawing pages, cached (loading a TrueType font costs more than drawing a line)."""

from __future__ import annotations

import functools

from PIL import ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
FACES = {
    "sans": "DejaVuSans.ttf",
    "sans-bold": "DejaVuSans-Bold.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
    "serif-italic": "DejaVuSerif-Italic.ttf",
    "hand": "DejaVuSans-Oblique.ttf",
    "cond": "DejaVuSansCondensed.ttf",
    "cond-bold": "DejaVuSansCondensed-Bold.ttf",
}


@functools.lru_cache(maxsize=256)
def font(face: str, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_DIR + FACES[face], size_px)


def px(pt: float, dpi: int) -> int:
    """Points to pixels at ``dpi``."""
    return max(1, round(pt * dpi / 72))


def mm(value: float, dpi: int) -> int:
    return round(value * dpi / 25.4)
