"""A factory of realistic synthetic scans with ground truth, for tests and benchmarks.

Invented names only. Everything is deterministic for a given seed::

    f = ScanFactory(seed=1)
    batch = f.batch(tmp, "scan_0042.pdf", [
        Cover("PPS-2024-0137", "retain", "PPS-LETTER"),
        Doc("pps-letter", "PPS-2024-0137", pages=2, degrade=Degrade(skew=2.0)),
        Separator(),
        Doc("ep-report", "PPS-2024-0137"),
    ], container="pdf", dpi=300)
    batch.documents   # ExpectedDocument per document
    batch.pages       # PageTruth per page: label, words, payload, degradation

Page kinds: pps-letter, school-letter (colour crest, decoy URL QR), sen-letter, ehcp, ep-report,
consent, note (handwritten-looking). Containers: pdf (image only, JPEG pages), pdf-text (plus an
invisible text layer), tiff (greyscale LZW), tiff-g4 (bilevel CCITT G4), jpeg and png (one file a
page, ``<stem>_p001.jpg``). ``bad_inputs()`` writes the files that must be quarantined.
"""

from tests.factory._degrade import CLEAN, Degrade
from tests.factory._factory import Cover, Doc, PageImage, ScanFactory, Separator
from tests.factory._truth import (
    CLASS_RULES,
    CLASSES,
    KIND_CLASS,
    PAGE_KINDS,
    REF_PATTERN,
    Batch,
    ExpectedDocument,
    PageTruth,
)
from tests.factory._bad import BAD_KINDS
from tests.factory._containers import CONTAINERS

__all__ = [
    "BAD_KINDS", "CLASSES", "CLASS_RULES", "CLEAN", "CONTAINERS", "KIND_CLASS", "PAGE_KINDS", "REF_PATTERN",
    "Batch", "Cover", "Degrade", "Doc", "ExpectedDocument", "PageImage", "PageTruth", "ScanFactory", "Separator",
]
