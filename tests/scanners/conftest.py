"""Shared, session-scoped scans from the factory: made once, read by many tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factory import CLEAN, Batch, Cover, Degrade, Doc, ScanFactory, Separator

SHEET_VARIANTS = {
    "clean": CLEAN,
    "skew+3": Degrade(skew=3.0),
    "skew-3-speckle": Degrade(skew=-3.0, speckle=150),
    "upside-down": Degrade(upside_down=True),
    "jpeg15": Degrade(jpeg_quality=15),
}
SYMBOLOGIES = ("qr", "code128")
DPIS = (200, 300)
CONTAINER_NAMES = {"pdf": "scan_0042.pdf", "pdf-text": "scan_0043.pdf", "tiff": "scan_0044.tif",
                   "tiff-g4": "scan_0045.tiff", "jpeg": "scan_0046", "png": "scan_0047"}
CLASS_CYCLE = ("PPS-LETTER", "SCHOOL-LETTER", "SEN-LETTER", "EHCP", "EP-REPORT", "CONSENT", "NOTE")


def sheet_cover(variant: str, symbology: str) -> Cover:
    """A distinct payload for every variant, so a page read as another's fails the test."""
    n = list(SHEET_VARIANTS).index(variant) * len(SYMBOLOGIES) + SYMBOLOGIES.index(symbology)
    return Cover(f"PPS-2024-{137 + n:04d}", ("retain", "shred")[n % 2], CLASS_CYCLE[n % len(CLASS_CYCLE)],
                 symbologies=(symbology,), degrade=SHEET_VARIANTS[variant])


@pytest.fixture(scope="session")
def scan_factory() -> ScanFactory:
    return ScanFactory(seed=2024)


@pytest.fixture(scope="session")
def scan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scans")


@pytest.fixture(scope="session")
def sheet_batches(scan_factory: ScanFactory, scan_dir: Path) -> dict[int, Batch]:
    """Per resolution, one image PDF of every cover-sheet variant (one symbology a sheet)."""
    items = [sheet_cover(v, s) for v in SHEET_VARIANTS for s in SYMBOLOGIES]
    return {dpi: scan_factory.batch(scan_dir / f"sheets{dpi}", f"sheets_{dpi}.pdf", items, dpi=dpi) for dpi in DPIS}


CONTAINER_ITEMS = [
    Cover("PPS-2024-0137", "retain", "PPS-LETTER"),
    Doc("pps-letter", "PPS-2024-0137", pages=2, degrade=Degrade(skew=1.5)),
    Cover("PPS-2024-0137", "shred", "SCHOOL-LETTER"),
    Doc("school-letter", "PPS-2024-0137"),
    Separator(),
    Doc("note", "PPS-2024-0211", degrade=Degrade(upside_down=True)),
]


@pytest.fixture(scope="session")
def container_batches(scan_factory: ScanFactory, scan_dir: Path) -> dict[str, Batch]:
    """The same seven-page batch in every container, at 200 dpi (page 5 is in colour)."""
    return {
        container: scan_factory.batch(scan_dir / container, name, CONTAINER_ITEMS, container=container, dpi=200)
        for container, name in CONTAINER_NAMES.items()
    }


@pytest.fixture(scope="session")
def bad_files(scan_factory: ScanFactory, scan_dir: Path) -> dict[str, Path]:
    return scan_factory.bad_inputs(scan_dir / "bad")
