"""Write the demo's sample scans (invented names) into a drop folder; print what they contain."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.factory import Cover, Degrade, Doc, ScanFactory, Separator


def main(folder: Path) -> None:
    f = ScanFactory(seed=2024)
    skew = Degrade(skew=1.5, speckle=30)
    f.batch(folder, "scan_0001.pdf", [
        Cover("PPS-2024-0137", "retain", "PPS-LETTER"), Doc("pps-letter", "PPS-2024-0137", pages=2, degrade=skew),
        Cover("PPS-2024-0137", "shred", "SCHOOL-LETTER"), Doc("school-letter", "PPS-2024-0137"),
        Cover("PPS-2024-0137", "shred", "EHCP"), Doc("ehcp", "PPS-2024-0137", pages=2),
        Separator(), Doc("consent", "PPS-2024-0137", ref_in_text=True),
    ], container="pdf", dpi=300)
    f.batch(folder, "scan_0002", [
        Cover("PPS-2024-0138", "retain", "NOTE"), Doc("note", "PPS-2024-0138"),
        Cover("PPS-2024-0139", "retain", "PPS-LETTER", symbologies=("code128",)), Doc("pps-letter", "PPS-2024-0139"),
    ], container="jpeg", dpi=200)
    f.batch(folder, "scan_0003.tif", [Cover("PPS-2024-0138", "shred", "EP-REPORT"), Doc("ep-report", "PPS-2024-0138", pages=2)],
            container="tiff-g4", dpi=300)
    bad = f.bad_inputs(folder / "bad")
    for kind in ("truncated-pdf", "encrypted-pdf"):  # two of the files that must go to quarantine
        bad[kind].rename(folder / bad[kind].name)
    import shutil

    shutil.rmtree(folder / "bad")
    print(f"sample scans written to {folder}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
