"""Drawing the printable cover sheet with reportlab (imported only when a sheet is printed).

Layout (A4 portrait): title, service name, the payload as labelled fields, a large QR code
(error-correction level Q), the same payload as a Code 128 printed vertically along the right
edge, the payload as one line, and what to do with the sheet and the paper. The Code 128 runs
along the long side because its narrowest bar must be at least 0.5 mm wide (FINDINGS.md: thinner
bars fail at low resolution and under blur) and a 34-character payload is about 205 mm long.
No names are printed: only the case reference, the decision and the class.
"""

from __future__ import annotations

import io
from pathlib import Path

from pps_archive.atomic import atomic_write_bytes
from scanners.coversheet import TITLE, CoverSheet, format_payload

QR_SIZE_MM = 70.0
CODE128_BAR_MM = 0.5
CODE128_HEIGHT_MM = 18.0


def _instructions(sheet: CoverSheet) -> list[str]:
    lines = ["Scan this sheet in front of the document it describes.",
             "Every page after it, up to the next sheet, is that document; this sheet is not filed."]
    if sheet.archiving:
        lines.append("Archiving: old paper of the case, scanned while archiving it (not new activity).")
    if sheet.decision == "shred":
        lines.append("Paper: SHRED after scanning. The scan is used only to list the paper for shredding.")
    else:
        lines.append("The scan is kept, encrypted, for this case. Paper: shred only once the")
        lines.append("shred list shows the scan is on a verified disc.")
    return lines


def render(sheet: CoverSheet, out_path: Path, service_name: str, symbologies: frozenset[str]) -> None:
    atomic_write_bytes(out_path, render_bytes([sheet], service_name, symbologies), mode=0o644)


def render_bytes(sheets: list[CoverSheet], service_name: str, symbologies: frozenset[str]) -> bytes:
    """One PDF with a page per sheet, in memory (a batch for a case file prints as one document)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    unknown = symbologies - {"qr", "code128"}
    if unknown or not symbologies:
        raise ValueError(f"symbologies must be drawn from 'qr' and 'code128', not {sorted(symbologies)}")
    if not sheets:
        raise ValueError("no sheets to draw")
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1, invariant=1)
    c.setTitle(TITLE)
    c.setAuthor(service_name)
    for sheet in sheets:
        _page(c, sheet, service_name, symbologies)
    c.save()
    return buf.getvalue()


def _page(c, sheet: CoverSheet, service_name: str, symbologies: frozenset[str]) -> None:  # noqa: ANN001 - a reportlab canvas
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.code128 import Code128
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm

    payload = format_payload(sheet)
    width, height = A4

    c.setFont("Helvetica-Bold", 26)
    c.drawCentredString(width / 2, height - 28 * mm, TITLE)
    c.setFont("Helvetica", 14)
    c.drawCentredString(width / 2, height - 37 * mm, service_name)
    c.setLineWidth(1.5)
    c.line(18 * mm, height - 42 * mm, width - 18 * mm, height - 42 * mm)

    fields = (("Case reference:", sheet.case_ref), ("Decision:", sheet.decision.upper()),
              ("Document class:", sheet.doc_class)) + ((("Scan:", "ARCHIVE"),) if sheet.archiving else ())
    y = height - 58 * mm
    for label, value in fields:
        c.setFont("Helvetica", 16)
        c.drawString(20 * mm, y, label)
        c.setFont("Helvetica-Bold", 22)
        c.drawString(68 * mm, y, value)
        y -= 13 * mm

    if "qr" in symbologies:
        qr = QrCodeWidget(payload, barLevel="Q", barBorder=4)
        x0, y0, x1, y1 = qr.getBounds()
        size = QR_SIZE_MM * mm
        drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
        drawing.add(qr)
        renderPDF.draw(drawing, c, 22 * mm, 95 * mm)

    if "code128" in symbologies:
        bc = Code128(payload, barWidth=CODE128_BAR_MM * mm, barHeight=CODE128_HEIGHT_MM * mm,
                     quiet=1, lquiet=6 * mm, rquiet=6 * mm)
        c.saveState()
        # vertical, reading bottom to top, along the right edge
        c.translate(width - 12 * mm, 22 * mm)
        c.rotate(90)
        bc.drawOn(c, 0, 0)
        c.restoreState()

    c.setFont("Courier-Bold", 15)
    c.drawString(20 * mm, 80 * mm, payload)
    c.setFont("Helvetica", 11)
    y = 66 * mm
    for line in _instructions(sheet):
        c.drawString(20 * mm, y, line)
        y -= 6 * mm
    c.setFont("Helvetica", 8)
    c.drawString(20 * mm, 14 * mm, "Cover sheet format 1. Barcode payload: case reference|RETAIN or SHRED|class.")
    c.showPage()
