"""Reading cover sheets, separators and decoys with both engines, from the image in the PDF."""

from __future__ import annotations

import pytest

from scanners import _looks
from scanners.barcodes import READERS, Code, read_codes
from scanners.coversheet import GENERIC_SEPARATOR, format_payload, parse_payload
from scanners.pages import open_input
from tests.factory import CLASSES, PAGE_KINDS, REF_PATTERN, Cover, Degrade
from tests.scanners.conftest import DPIS, SHEET_VARIANTS, SYMBOLOGIES, sheet_cover


@pytest.fixture(scope="module")
def sheet_pages(sheet_batches):
    """(dpi, variant, symbology) -> the page image as loaded from the PDF."""
    out = {}
    for dpi, batch in sheet_batches.items():
        scan = open_input(batch.path, batch.path.name)
        images = iter(page.load() for page in scan.pages)
        for variant in SHEET_VARIANTS:
            for symbology in SYMBOLOGIES:
                out[dpi, variant, symbology] = next(images)
    return out


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("symbology", SYMBOLOGIES)
@pytest.mark.parametrize("variant", list(SHEET_VARIANTS))
@pytest.mark.parametrize("dpi", DPIS)
def test_every_cover_sheet_variant_is_read(sheet_pages, reader: str, symbology: str, variant: str, dpi: int) -> None:
    image = sheet_pages[dpi, variant, symbology]
    assert image.info["dpi"] == pytest.approx((dpi, dpi), rel=0.01)
    found = read_codes(image, reader)
    cover = sheet_cover(variant, symbology)
    assert [parse_payload(c.text, REF_PATTERN, CLASSES) for c in found] == [cover.sheet]
    assert [c.symbology for c in found] == [symbology]


@pytest.mark.parametrize("reader", READERS)
def test_thorough_reading_finds_both_codes_of_a_real_sheet(scan_factory, reader: str) -> None:
    page = scan_factory.coversheet(Cover("PPS-2024-0555", "retain", "NOTE"), dpi=300, degrade=Degrade(skew=2.0))
    page.image.info["dpi"] = (300, 300)
    found = read_codes(page.image, reader, thorough=True)
    assert sorted(c.symbology for c in found) == ["code128", "qr"]
    assert {c.text for c in found} == {"PPS-2024-0555|RETAIN|NOTE"}


@pytest.mark.parametrize("reader", READERS)
def test_bilevel_g4_cover_sheet_is_read(container_batches, reader: str) -> None:
    batch = container_batches["tiff-g4"]
    scan = open_input(batch.path, batch.path.name)
    image = scan.pages[0].load()
    assert image.mode == "1"
    assert {c.text for c in read_codes(image, reader)} == {"PPS-2024-0137|RETAIN|PPS-LETTER"}


@pytest.mark.parametrize("reader", READERS)
def test_generic_separator_is_read(container_batches, reader: str) -> None:
    batch = container_batches["pdf"]
    label = next(p.label for p in batch.pages if p.kind == "separator")
    scan = open_input(batch.path, batch.path.name)
    page = next(p for p in scan.pages if p.label == label)
    assert read_codes(page.load(), reader) == [Code("code128", GENERIC_SEPARATOR)]


@pytest.mark.parametrize("reader", READERS)
def test_decoy_url_on_a_school_letter_is_read_and_ignored(scan_factory, reader: str) -> None:
    page = scan_factory.page("school-letter", "PPS-2024-0137", dpi=300, degrade=Degrade(skew=1.0))
    page.image.info["dpi"] = (300, 300)
    found = read_codes(page.image, reader)
    assert [c.symbology for c in found] == ["qr"]
    assert found[0].text.startswith("https://")
    assert parse_payload(found[0].text, REF_PATTERN, CLASSES) is None


@pytest.mark.parametrize("dpi", DPIS)
@pytest.mark.parametrize("kind", [k for k in PAGE_KINDS if k != "school-letter"])
def test_ordinary_pages_have_no_codes_and_skip_the_expensive_pass(scan_factory, kind: str, dpi: int) -> None:
    page = scan_factory.page(kind, "PPS-2024-0137", dpi=dpi, degrade=Degrade(skew=1.5, speckle=200, jpeg_quality=30))
    page.image.info["dpi"] = (dpi, dpi)
    small = _looks.scaled_to(page.image, 150)
    assert not _looks.barcode_like(small, _looks.dpi_of(small))
    assert read_codes(page.image, "zxing") == []


def test_cover_sheets_look_like_they_carry_a_code(sheet_pages) -> None:
    for image in sheet_pages.values():
        small = _looks.scaled_to(image, 150)
        assert _looks.barcode_like(small, _looks.dpi_of(small))


def test_unknown_reader_is_refused(scan_factory) -> None:
    with pytest.raises(ValueError, match="zxing, zbar"):
        read_codes(scan_factory.separator(dpi=200).image, "quagga")


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("symbology", SYMBOLOGIES)
def test_a_sheet_fed_sideways_is_read(sheet_pages, reader: str, symbology: str) -> None:
    from PIL import Image

    image = sheet_pages[300, "skew+3", symbology].transpose(Image.Transpose.ROTATE_90)
    image.info["dpi"] = (300, 300)
    assert [c.text for c in read_codes(image, reader)] == [format_payload(sheet_cover("skew+3", symbology).sheet)]


# --- Code 39 separators, damaged cover sheets, blank backs (issue 8) ----------------------------

@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("degrade", [Degrade(), Degrade(skew=2.5, speckle=100), Degrade(upside_down=True),
                                     Degrade(jpeg_quality=20)], ids=["clean", "skew", "upside-down", "jpeg20"])
@pytest.mark.parametrize("dpi", DPIS)
def test_a_code_39_patcht_separator_is_read(scan_factory, reader: str, degrade: Degrade, dpi: int) -> None:
    """paperless-ngx's PATCHT sheets are Code 39: read by both engines, in the fast pass."""
    page = scan_factory.separator(dpi=dpi, degrade=degrade, symbology="code39")
    page.image.info["dpi"] = (dpi, dpi)
    assert read_codes(page.image, reader) == [Code("code39", GENERIC_SEPARATOR)]


def test_what_is_read_can_be_narrowed_for_measuring(scan_factory) -> None:
    page = scan_factory.separator(dpi=200, symbology="code39")
    page.image.info["dpi"] = (200, 200)
    assert read_codes(page.image, "zxing", thorough=True, symbologies=("qr", "code128")) == []
    with pytest.raises(ValueError, match="symbologies"):
        read_codes(page.image, "zxing", symbologies=("ean13",))


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("damage", ["stain", "torn"])
@pytest.mark.parametrize("dpi", DPIS)
def test_damaged_cover_sheets_defeat_both_engines(scan_factory, reader: str, damage: str, dpi: int) -> None:
    """The factory's damaged sheets really are unreadable: only their words can split the batch."""
    page = scan_factory.coversheet(Cover("PPS-2024-0601", "retain", "NOTE", damage=damage), dpi=dpi,
                                   degrade=Degrade(skew=1.0))
    page.image.info["dpi"] = (dpi, dpi)
    assert read_codes(page.image, reader, thorough=True) == []


@pytest.mark.parametrize("dpi", DPIS)
def test_blank_backs_are_blank_and_nothing_else_is(scan_factory, dpi: int) -> None:
    fronts = [scan_factory.page(kind, "PPS-2024-0602", dpi=dpi) for kind in PAGE_KINDS]
    fronts += [scan_factory.coversheet(Cover("PPS-2024-0602", "shred", "EHCP", damage=d), dpi=dpi)
               for d in (None, "stain", "torn")]
    fronts.append(scan_factory.separator(dpi=dpi, symbology="code39"))
    for n, front in enumerate(fronts):
        front.image.info["dpi"] = (dpi, dpi)
        back = scan_factory.back(front, n=n)
        back.image.info["dpi"] = (dpi, dpi)
        assert not _looks.is_blank(front.image), front.kind
        assert _looks.is_blank(back.image), front.kind


def test_a_single_short_line_is_not_blank(scan_factory) -> None:
    from PIL import ImageDraw

    from tests.factory._fonts import font, px

    back = scan_factory.back(scan_factory.page("note", None, dpi=200)).image
    back.info["dpi"] = (200, 200)
    assert _looks.is_blank(back)
    written = back.copy()
    ImageDraw.Draw(written).text((400, 900), "Rang - no answer", font=font("hand", px(15, 200)), fill=40)
    written.info["dpi"] = (200, 200)
    assert not _looks.is_blank(written)


def test_a_pencil_note_is_not_blank(scan_factory) -> None:
    from PIL import ImageDraw

    from tests.factory._fonts import font, px

    back = scan_factory.back(scan_factory.page("pps-letter", None, dpi=300)).image
    pencil = back.copy()
    ImageDraw.Draw(pencil).text((500, 1400), "phoned 3/5, left msg", font=font("hand", px(14, 300)), fill=165)
    pencil.info["dpi"] = (300, 300)
    assert not _looks.is_blank(pencil)
