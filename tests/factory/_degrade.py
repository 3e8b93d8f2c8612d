"""What a real scanner and real paper do to a page: skew, speckle, blur, rotation, JPEG."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter


@dataclass(frozen=True)
class Degrade:
    skew: float = 0.0  # degrees, counter-clockwise; real feeders give about +-3
    speckle: int = 0  # dust specks per page
    upside_down: bool = False
    jpeg_quality: int | None = None  # round trip through JPEG at this quality (10-20 = heavy)
    blur: float = 0.6  # Gaussian radius in pixels at 300 dpi (scaled for the resolution)


CLEAN = Degrade()


def scanned(img: Image.Image, dpi: int, deg: Degrade, rng: random.Random) -> Image.Image:
    """Apply ``deg`` to a freshly drawn page, in the order a scanner does."""
    white = 255 if img.mode == "L" else (255, 255, 255)
    if deg.speckle:
        draw = ImageDraw.Draw(img)
        ink = 0 if img.mode == "L" else (0, 0, 0)
        for _ in range(deg.speckle):
            x, y = rng.randrange(img.width), rng.randrange(img.height)
            r = rng.choice((1, 1, 1, 2, 2, 3)) * max(1, dpi // 150)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=ink)
    if deg.skew:
        img = img.rotate(deg.skew, resample=Image.BILINEAR, expand=False, fillcolor=white)
    if deg.upside_down:
        img = img.transpose(Image.ROTATE_180)
    if deg.blur:
        img = img.filter(ImageFilter.BoxBlur(deg.blur * dpi / 300))
    # paper is not pure white and toner is not pure black
    img = img.point(lambda v: 18 + v * 222 // 255)
    if deg.jpeg_quality is not None:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=deg.jpeg_quality)
        img = Image.open(io.BytesIO(buf.getvalue()))
        img.load()
    return img
