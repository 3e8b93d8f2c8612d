"""Barcode readers side by side: zxing-cpp against zbar on the same factory pages, in one run.

    .venv/bin/python bench/barcodes.py [--seed N] [--repeat N]

Pages: cover sheets (QR only, Code 128 only, both) and generic separators at 200 and 300 dpi,
clean and degraded (skew, speckle, upside down, JPEG quality 10-20, blur), and ordinary pages of
every kind. They are written into image PDFs and read back as the pipeline reads them (the image
embedded in the PDF). For each reader it prints ms/page with our strategy (fast pass, then the
thorough one only for pages that look like they carry a code) and, for comparison, a naive full
page read of every symbology; hits and misses on the sheets; codes found on ordinary pages.
The default reader in config/default.toml ([barcodes] reader) is chosen from these figures.

Code 39 (paperless-ngx's PATCHT separator sheets): each reader is also timed reading only QR and
Code 128 (before issue 8) and reading Code 39 as well (now), on the same pages in the same run,
and the ratio is printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanners.barcodes import READERS, read_codes
from scanners.barcodes import SYMBOLOGIES as READ
from scanners.pages import open_input
from tests.factory import CLEAN, PAGE_KINDS, Cover, Degrade, Doc, ScanFactory, Separator

DEGRADATIONS = {
    "clean": CLEAN,
    "skew+3": Degrade(skew=3.0),
    "skew-3 speckle": Degrade(skew=-3.0, speckle=300),
    "upside-down": Degrade(upside_down=True),
    "jpeg q15": Degrade(jpeg_quality=15),
    "jpeg q10 skew speckle": Degrade(jpeg_quality=10, skew=2.5, speckle=300),
    "blur jpeg q20": Degrade(blur=1.6, jpeg_quality=20),
    # beyond what a working scanner delivers: here to show which engine gives up first
    "extreme: jpeg q5 skew blur": Degrade(jpeg_quality=5, skew=3.0, blur=2.0),
    "extreme: blur 3px jpeg q12": Degrade(blur=3.0, jpeg_quality=12),
}
SYMBOLOGIES = {"qr": ("qr",), "code128": ("code128",), "both": ("qr", "code128")}
CLASSES = ("PPS-LETTER", "SCHOOL-LETTER", "SEN-LETTER", "EHCP", "EP-REPORT", "CONSENT", "NOTE")


def build(folder: Path, seed: int) -> list[tuple[str, object, str | None]]:
    """[(description, image, expected payload or None)] for every page, loaded from image PDFs."""
    factory = ScanFactory(seed)
    pages = []
    for dpi in (200, 300):
        items, described = [], []
        n = 0
        for sym_name, symbologies in SYMBOLOGIES.items():
            for deg_name, degrade in DEGRADATIONS.items():
                n += 1
                cover = Cover(f"PPS-2024-{n:04d}", ("retain", "shred")[n % 2], CLASSES[n % 7], symbologies, degrade=degrade)
                items.append(cover)
                described.append(f"sheet {sym_name:7} {dpi} {deg_name}")
        for deg_name in ("clean", "skew-3 speckle", "jpeg q15"):
            for symbology in ("code128", "code39"):
                items.append(Separator(degrade=DEGRADATIONS[deg_name], symbology=symbology))
                described.append(f"separator {symbology} {dpi} {deg_name}")
        for kind in PAGE_KINDS:
            for deg_name, degrade in (("skew+1", Degrade(skew=1.0, speckle=100)), ("jpeg q30", Degrade(jpeg_quality=30))):
                items.append(Doc(kind, "PPS-2024-0999", degrade=degrade))
                described.append(f"page {kind} {dpi} {deg_name}")
        batch = factory.batch(folder, f"bench_{dpi}.pdf", items, dpi=dpi)
        scan = open_input(batch.path, batch.path.name)
        for text, ref, truth in zip(described, scan.pages, batch.pages, strict=True):
            pages.append((text, ref.load(), truth.payload))
    return pages


def naive(image: Image.Image, reader: str) -> list[str]:
    """A full-page read of every symbology: what a reader costs without our strategy."""
    if reader == "zxing":
        import zxingcpp

        return [b.text for b in zxingcpp.read_barcodes(image.convert("L"))]
    from pyzbar import pyzbar

    return [d.data.decode("utf-8", "replace") for d in pyzbar.decode(image.convert("L"))]


def measure(pages: list[tuple[str, Image.Image, object]], reader: str, repeat: int, symbologies: tuple[str, ...] = READ) -> dict:
    read_codes(pages[0][1], reader, symbologies=symbologies)  # warm up: imports, engine set-up
    ms_sheet, ms_page, ms_naive, misses, extra = [], [], [], [], []
    by_dpi: dict[str, list[float]] = {"200": [], "300": []}
    hits = extreme_hits = extremes = decoys = read39 = 0
    for text, image, payload in pages:
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            found = read_codes(image, reader, symbologies=symbologies)
            best = min(best, time.perf_counter() - t)
        by_dpi[next(w for w in text.split() if w in by_dpi)].append(best * 1000)
        t = time.perf_counter()
        naive(image, reader)
        ms_naive.append((time.perf_counter() - t) * 1000)
        texts = {c.text for c in found}
        read39 += "code39" in text and payload in texts
        if payload is not None and "code39" in text and "code39" not in symbologies:
            ms_sheet.append(best * 1000)  # timed, but not counted as a miss: not asked for
        elif payload is not None:
            ms_sheet.append(best * 1000)
            if "extreme" in text:
                extremes += 1
                extreme_hits += payload in texts
            elif payload in texts:
                hits += 1
            if payload not in texts:
                misses.append(text)
        else:
            ms_page.append(best * 1000)
            if "school-letter" in text and any(t.startswith("https://") for t in texts):
                decoys += 1
                texts = {t for t in texts if not t.startswith("https://")}
            if texts:
                extra.append(f"{text}: {sorted(texts)}")
    return {
        "all": statistics.fmean(ms_sheet + ms_page), "sheet": statistics.fmean(ms_sheet),
        "page": statistics.fmean(ms_page), "page_max": max(ms_page), "naive": statistics.fmean(ms_naive),
        "200": statistics.fmean(by_dpi["200"]), "300": statistics.fmean(by_dpi["300"]),
        "hits": hits, "sheets": len(ms_sheet) - extremes, "extreme_hits": extreme_hits, "extremes": extremes,
        "misses": misses, "extra": extra, "decoys": decoys, "read39": read39,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="timing: best of N reads a page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        pages = build(Path(tmp), args.seed)
        print(f"{len(pages)} pages made and loaded from image PDFs in {time.perf_counter() - t:.1f} s")
    results = {reader: measure(pages, reader, args.repeat) for reader in READERS}
    n_school = sum(1 for p in pages if "school-letter" in p[0])
    print(f"\n{'reader':8} {'ms/page':>8} {'200dpi':>7} {'300dpi':>7} {'sheets':>7} {'ordinary':>9} {'ord. max':>9}"
          f" {'naive':>7} {'sheets read':>12} {'extreme':>8} {'decoy QR':>9}")
    for reader, r in results.items():
        print(f"{reader:8} {r['all']:8.1f} {r['200']:7.1f} {r['300']:7.1f} {r['sheet']:7.1f} {r['page']:9.1f}"
              f" {r['page_max']:9.1f} {r['naive']:7.1f}"
              f" {r['hits']:>5}/{r['sheets']:<6} {r['extreme_hits']:>3}/{r['extremes']:<4} {r['decoys']:>4}/{n_school}")
    z, b = results["zxing"], results["zbar"]
    print(f"\nzbar/zxing time ratio: {b['all'] / z['all']:.2f} overall, {b['sheet'] / z['sheet']:.2f} on sheets, "
          f"{b['page'] / z['page']:.2f} on ordinary pages; naive full-page read: {b['naive'] / z['naive']:.2f}")
    for reader, r in results.items():
        for miss in r["misses"]:
            print(f"{reader} missed: {miss}")
        for extra in r["extra"]:
            print(f"{reader} found on an ordinary page: {extra}")
    print_code39_cost(pages, args.repeat)
    faster = min(results, key=lambda k: (-results[k]["hits"], results[k]["all"]))
    print(f"\nchoice: {faster} (most sheets read, then fastest; the 'extreme' sheets, degraded past what a"
          " working scanner delivers, are counted apart)")


def print_code39_cost(pages: list[tuple[str, Image.Image, object]], repeat: int) -> None:
    """Each reader without Code 39 (before) and with it (now): the two timed page by page, in turn,
    on the same pages (so machine load falls on both alike), by kind of page."""
    before = tuple(s for s in READ if s != "code39")
    kinds = {"ordinary pages": lambda t: t.startswith("page"), "cover sheets": lambda t: t.startswith("sheet"),
             "PATCHT Code 128": lambda t: t.startswith("separator code128"),
             "PATCHT Code 39": lambda t: t.startswith("separator code39")}
    print(f"\ncost of reading Code 39 (PATCHT separators): ms/page, best of {repeat}, the two timed in turn")
    print(f"{'reader':7} {'pages':16} {'n':>3} {'QR+128':>8} {'+Code 39':>9} {'ratio':>6} {'PATCHT read':>12}")
    for reader in READERS:
        for symbologies in (before, READ):
            read_codes(pages[0][1], reader, symbologies=symbologies)  # warm up
        times: dict[tuple[str, tuple], list[float]] = {}
        read: dict[tuple[str, tuple], int] = {}
        for n, (text, image, payload) in enumerate(pages):
            kind = next((k for k, is_kind in kinds.items() if is_kind(text)), None)
            order = (before, READ) if n % 2 else (READ, before)
            for symbologies in order:
                best, found = float("inf"), []
                for _ in range(repeat):
                    t = time.perf_counter()
                    found = read_codes(image, reader, symbologies=symbologies)
                    best = min(best, time.perf_counter() - t)
                times.setdefault((kind, symbologies), []).append(best * 1000)
                read[kind, symbologies] = read.get((kind, symbologies), 0) + (payload in {c.text for c in found})
        all_old = [t for (k, sy), ts in times.items() if sy == before for t in ts]
        all_new = [t for (k, sy), ts in times.items() if sy == READ for t in ts]
        for kind in (*kinds, "all"):
            old = times.get((kind, before), []) if kind != "all" else all_old
            new = times.get((kind, READ), []) if kind != "all" else all_new
            if not old:
                continue
            a, b = statistics.fmean(old), statistics.fmean(new)
            hits = f"{read[kind, before]}/{len(old)} -> {read[kind, READ]}/{len(new)}" if "PATCHT" in kind else ""
            print(f"{reader:7} {kind:16} {len(old):3} {a:8.1f} {b:9.1f} {b / a:6.2f} {hits:>12}")


if __name__ == "__main__":
    main()
