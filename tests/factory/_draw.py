"""Drawing a page of blocks (see ``_content``) on an A4 canvas at a given resolution."""

from __future__ import annotations

import functools
import random

from PIL import Image, ImageDraw

from tests.factory._fonts import font, mm, px

A4_MM = (210.0, 297.0)
MARGIN_MM = 22.0
STYLES = {  # style -> (face, points)
    "body": ("serif", 11), "right": ("serif", 11), "small-center": ("sans", 8),
    "para": ("serif", 11), "heading": ("sans-bold", 13), "hand": ("hand", 15),
}


def a4_size(dpi: int) -> tuple[int, int]:
    return mm(A4_MM[0], dpi), mm(A4_MM[1], dpi)


@functools.lru_cache(maxsize=8)
def _qr_image(url: str, size_px: int) -> Image.Image:
    import qrcode

    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(url)
    img = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    return img.resize((size_px, size_px), Image.NEAREST)


class _Pen:
    def __init__(self, img: Image.Image, dpi: int, rng: random.Random) -> None:
        self.img, self.dpi, self.rng = img, dpi, rng
        self.draw = ImageDraw.Draw(img)
        self.left = mm(MARGIN_MM, dpi)
        self.right = img.width - mm(MARGIN_MM, dpi)
        self.y = mm(18, dpi)
        self.words: list[str] = []
        self.ink = 0 if img.mode == "L" else (10, 10, 10)

    def text(self, x: int, text: str, face: str, pt: float, fill=None) -> None:
        f = font(face, px(pt, self.dpi))
        self.draw.text((x, self.y), text, font=f, fill=self.ink if fill is None else fill)
        self.words.extend(text.split())

    def line(self, text: str, style: str = "body") -> None:
        face, pt = STYLES[style]
        f = font(face, px(pt, self.dpi))
        width = f.getlength(text)
        x = {"right": self.right - width, "small-center": (self.left + self.right - width) / 2}.get(style, self.left)
        self.text(round(x), text, face, pt)
        self.y += round(px(pt, self.dpi) * 1.5)

    def para(self, text: str, style: str = "para") -> None:
        face, pt = STYLES[style]
        f = font(face, px(pt, self.dpi))
        words, line = text.split(), ""
        for w in words:
            trial = f"{line} {w}".strip()
            if f.getlength(trial) > self.right - self.left and line:
                self.line(line, style)
                line = w
            else:
                line = trial
        if line:
            self.line(line, style)
        self.y += mm(3, self.dpi)

    def heading(self, text: str) -> None:
        self.y += mm(2, self.dpi)
        self.line(text, "heading")

    def gap(self, value_mm: float) -> None:
        self.y += mm(value_mm, self.dpi)

    def letterhead(self, style: str, lines: tuple[str, ...]) -> None:
        d, dpi = self.draw, self.dpi
        if style == "pps":  # logo: two interlocking rings, service name large
            r = mm(7, dpi)
            for dx in (0, r):
                d.ellipse((self.left + dx, self.y, self.left + dx + 2 * r, self.y + 2 * r), outline=self.ink, width=mm(1.2, dpi))
            x = self.left + 4 * r
        elif style == "council":  # logo: a filled square with a tower
            s = mm(14, dpi)
            d.rectangle((self.left, self.y, self.left + s, self.y + s), fill=80 if self.img.mode == "L" else (40, 60, 120))
            d.rectangle((self.left + s // 3, self.y + s // 4, self.left + 2 * s // 3, self.y + s), fill=255 if self.img.mode == "L" else (255, 255, 255))
            x = self.left + s + mm(6, dpi)
        else:
            x = self.left
        top = self.y
        self.text(x, lines[0], "sans-bold", 16)
        self.y += px(16 * 1.4, dpi)
        for extra in lines[1:]:
            self.text(x, extra, "sans", 9)
            self.y += px(9 * 1.4, dpi)
        self.y = max(self.y, top + mm(16, dpi)) + mm(3, dpi)
        d.line((self.left, self.y, self.right, self.y), fill=self.ink, width=mm(0.5, dpi))
        self.y += mm(8, dpi)

    def crest(self, name: str) -> None:
        d, dpi, s = self.draw, self.dpi, mm(20, self.dpi)
        x, y = self.left, self.y
        colour = (20, 50, 110) if self.img.mode == "RGB" else 60
        gold = (200, 160, 40) if self.img.mode == "RGB" else 170
        d.polygon([(x, y), (x + s, y), (x + s, y + s * 0.6), (x + s / 2, y + s), (x, y + s * 0.6)], fill=colour)
        d.ellipse((x + s * 0.3, y + s * 0.2, x + s * 0.7, y + s * 0.6), fill=gold)
        self.text(x + s + mm(6, dpi), name, "serif-bold", 18, fill=colour)
        self.y += px(18 * 1.5, dpi)
        self.text(x + s + mm(6, dpi), "Headteacher: Mrs P. Ardenne", "serif-italic", 10, fill=colour)
        self.y = y + s + mm(10, dpi)

    def qr(self, url: str) -> None:
        size = mm(24, self.dpi)
        img = _qr_image(url, size)
        self.img.paste(img if self.img.mode == "L" else img.convert("RGB"), (self.right - size, mm(16, self.dpi)))
        self.y = max(self.y, mm(16, self.dpi) + size + mm(4, self.dpi))

    def table(self, rows: list[tuple[str, ...]]) -> None:
        d, dpi = self.draw, self.dpi
        col = self.left + mm(55, dpi)
        for i, row in enumerate(rows):
            top = self.y
            self.y += mm(2, dpi)
            face = "sans-bold" if i == 0 else "cond"
            save_left = self.left
            self.text(self.left + mm(2, dpi), row[0], face, 10)
            self.left = col + mm(2, dpi)
            f = font(face, px(10, dpi))
            line, lines = "", []
            for w in row[1].split():
                if f.getlength(f"{line} {w}") > self.right - self.left - mm(2, dpi) and line:
                    lines.append(line)
                    line = w
                else:
                    line = f"{line} {w}".strip()
            lines.append(line)
            for text in lines:
                self.text(self.left, text, face, 10)
                self.y += px(15, dpi)
            self.left = save_left
            self.y = max(self.y, top + mm(10, dpi)) + mm(1, dpi)
            d.rectangle((self.left, top, self.right, self.y), outline=self.ink, width=max(1, mm(0.3, dpi)))
            d.line((col, top, col, self.y), fill=self.ink, width=max(1, mm(0.3, dpi)))
        self.y += mm(6, dpi)

    def check(self, text: str, ticked: bool) -> None:
        d, dpi, s = self.draw, self.dpi, mm(5, self.dpi)
        d.rectangle((self.left, self.y, self.left + s, self.y + s), outline=self.ink, width=mm(0.4, dpi))
        if ticked:
            d.line((self.left + s * 0.15, self.y + s * 0.5, self.left + s * 0.45, self.y + s * 0.9,
                    self.left + s * 1.1, self.y - s * 0.2), fill=self.ink, width=mm(0.7, dpi))
        save = self.left
        self.left += s + mm(4, dpi)
        self.line(text, "body")
        self.left = save
        self.y += mm(2, dpi)

    def signature(self, label: str) -> None:
        if label:
            self.line(label, "body")
        d, dpi, rng = self.draw, self.dpi, self.rng
        x, y = self.left + mm(4, dpi), self.y + mm(6, dpi)
        pts = [(x, y)]
        for _ in range(14):
            x += mm(rng.uniform(2, 6), dpi)
            pts.append((x, y + mm(rng.uniform(-5, 5), dpi)))
        d.line(pts, fill=self.ink, width=mm(0.5, dpi), joint="curve")
        self.y += mm(16, dpi)

    def hand(self, text: str) -> None:
        dpi, rng = self.dpi, self.rng
        face, pt = STYLES["hand"]
        f = font(face, px(pt, dpi))
        x = self.left + mm(rng.uniform(0, 3), dpi)
        for word in text.split():
            dy = mm(rng.uniform(-0.8, 0.8), dpi)
            self.draw.text((x, self.y + dy), word, font=f, fill=30 if self.img.mode == "L" else (20, 30, 90))
            self.words.append(word)
            x += f.getlength(word + " ") + mm(rng.uniform(0, 1.5), dpi)
            if x > self.right - mm(30, dpi):
                x = self.left + mm(rng.uniform(0, 3), dpi)
                self.y += mm(9, dpi)
        self.y += mm(9, dpi)


def draw_page(blocks: list[tuple], dpi: int, rng: random.Random, mode: str = "L",
              lined: bool = False) -> tuple[Image.Image, tuple[str, ...]]:
    img = Image.new(mode, a4_size(dpi), 255 if mode == "L" else (255, 255, 255))
    pen = _Pen(img, dpi, rng)
    if lined:  # ruled paper for handwritten notes
        for y in range(mm(30, dpi), img.height - mm(15, dpi), mm(9, dpi)):
            pen.draw.line((0, y + mm(6.5, dpi), img.width, y + mm(6.5, dpi)), fill=200 if mode == "L" else (170, 190, 230), width=max(1, mm(0.2, dpi)))
        pen.y = mm(30, dpi)
    for block in blocks:
        op, *args = block
        getattr(pen, op)(*args)
    return img, tuple(pen.words)
