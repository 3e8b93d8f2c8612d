"""Bytes per page of bilevel (1-bit) scans on their way to the vault, before and after keeping
them CCITT G4, side by side in one run.

    .venv/bin/python bench/bilevel.py [--pages 4]

The test factory makes the service's own letters (invented names, some skew and speckle) as the
office scanner's black-and-white modes write them: a CCITT G4 multi-page TIFF at 300 and 200 dpi,
and one bilevel PNG a page at 300 dpi. Each is written into one PDF and OCR'd exactly as intake
does it (``pipeline.ocr.ocr_document``: PDF/A, rotate, deskew). Printed per input, in bytes per
page: the input, OCRmyPDF's PDF/A as it comes ("before": what the vault held before this change),
the same after ``keep_bilevel_small`` ("after": what the vault holds now), the ratios to the input,
and the pages checked to be pixel-identical after the re-encoding. The vault's age encryption
adds about 200 bytes a document on top.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.factory import Degrade, Doc, ScanFactory  # noqa: E402


def _pixels(pdf: Path) -> list[bytes]:
    import pikepdf

    with pikepdf.open(pdf) as doc:
        return [pikepdf.PdfImage(next(iter(p.get_images().values()))).as_pil_image().convert("L").tobytes() for p in doc.pages]


def measure(folder: Path, container: str, dpi: int, pages: int) -> dict:
    from pipeline.ocr import keep_bilevel_small, ocr_document
    from scanners.pages import InputLimits, open_batch, open_input, write_pdf
    from tests.factory._containers import bilevel

    factory = ScanFactory(seed=21)
    items = [Doc("pps-letter", "PPS-2024-0101", pages=pages, degrade=Degrade(skew=1.0, speckle=30))]
    work = folder / f"{container}-{dpi}"
    if container == "png-1bit":
        batch = factory.batch(work, "scan_0001", items, container="png", dpi=dpi)
        for f in batch.files:  # what a scanner's black-and-white PNG mode writes
            from PIL import Image

            with Image.open(f) as im:
                bilevel(im).save(f, dpi=(dpi, dpi), optimize=True)
        files = list(batch.files)
    else:
        files = list(factory.batch(work, "scan_0001.tif", items, container=container, dpi=dpi).files)
    limits = InputLimits(10**9, 1000, 10**9)
    scan = open_input(files[0], files[0].name, limits) if len(files) == 1 else open_batch(files, [f.name for f in files], limits)
    write_pdf(scan.pages, work / "read.pdf")
    t0 = time.monotonic()
    ocr_document(work / "read.pdf", work / "before.pdf", work / "read.txt", language="eng", rotate=True, deskew=True,
                 display=container, jobs=2)
    ocr_s = time.monotonic() - t0
    shutil.copyfile(work / "before.pdf", work / "after.pdf")
    t0 = time.monotonic()
    keep_bilevel_small(work / "after.pdf")
    g4_s = time.monotonic() - t0
    same = sum(a == b for a, b in zip(_pixels(work / "before.pdf"), _pixels(work / "after.pdf"), strict=True))
    n = len(scan.pages)
    return {"input": f"{container} {dpi} dpi", "pages": n, "in": sum(f.stat().st_size for f in files) / n,
            "before": (work / "before.pdf").stat().st_size / n, "after": (work / "after.pdf").stat().st_size / n,
            "same": same, "ocr_s": ocr_s, "g4_s": g4_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=4)
    args = ap.parse_args()
    cases = [("tiff-g4", 300), ("tiff-g4", 200), ("png-1bit", 300)]
    with tempfile.TemporaryDirectory(prefix="pps-bench-bilevel-") as tmp:
        rows = [measure(Path(tmp), c, d, args.pages) for c, d in cases]
    print(f"{'input':<18} {'pages':>5} {'in B/page':>10} {'before':>10} {'after':>10} {'before/in':>9} {'after/in':>8} "
          f"{'before/after':>12} {'identical':>9} {'G4 s/page':>9}")
    for r in rows:
        print(f"{r['input']:<18} {r['pages']:>5} {r['in']:>10.0f} {r['before']:>10.0f} {r['after']:>10.0f} "
              f"{r['before'] / r['in']:>9.2f} {r['after'] / r['in']:>8.2f} {r['before'] / r['after']:>12.2f} "
              f"{r['same']:>5}/{r['pages']:<3} {r['g4_s'] / r['pages']:>9.3f}")


if __name__ == "__main__":
    main()
