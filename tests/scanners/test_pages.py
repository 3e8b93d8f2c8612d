"""Inputs into pages: every container, every bad input, and pages back into a PDF."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from pps_archive.errors import BadInput, ExitCode
from scanners.pages import InputLimits, PageRef, open_batch, open_input, write_pdf
from tests.factory import Batch
from tests.scanners.conftest import CONTAINER_NAMES

KIND_OF = {"pdf": "pdf", "pdf-text": "pdf", "tiff": "tiff", "tiff-g4": "tiff", "jpeg": "jpeg", "png": "png"}


def open_any(batch: Batch, limits: InputLimits = InputLimits()):
    if len(batch.files) == 1:
        return open_input(batch.path, batch.path.name, limits)
    return open_batch(list(batch.files), [f.name for f in batch.files], limits)


@pytest.mark.parametrize("container", list(CONTAINER_NAMES))
def test_every_container_opens_with_its_pages_and_labels(container_batches, container: str) -> None:
    batch = container_batches[container]
    scan = open_any(batch)
    assert scan.kind == KIND_OF[container]
    assert scan.page_count == len(batch.pages) == 7
    assert [p.label for p in scan.pages] == [p.label for p in batch.pages]
    assert scan.has_text_layer == (container == "pdf-text")
    if container in ("jpeg", "png"):
        assert scan.pages[1].label == f"{CONTAINER_NAMES[container]}_p002.{'jpg' if container == 'jpeg' else 'png'}#1"
        assert scan.files == batch.files
    else:
        assert [p.number for p in scan.pages] == [1, 2, 3, 4, 5, 6, 7]
        assert scan.pages[2].label == f"{batch.path.name}#3"


@pytest.mark.parametrize("container", list(CONTAINER_NAMES))
def test_pages_load_at_native_resolution(container_batches, container: str) -> None:
    scan = open_any(container_batches[container])
    for position, ref in enumerate(scan.pages, 1):
        image = ref.load()
        assert image.size == (1654, 2339)  # A4 at 200 dpi
        assert image.info["dpi"] == pytest.approx((200, 200), rel=0.01)
        assert image.mode == ("1" if container == "tiff-g4" else "RGB" if position == 5 and container != "tiff" else "L")


def test_a_page_ref_is_plain_data(container_batches) -> None:
    import pickle

    ref = open_any(container_batches["pdf"]).pages[0]
    assert pickle.loads(pickle.dumps(ref)) == ref


# --- bad inputs ----------------------------------------------------------------------------

REASONS = {
    "empty": "is empty (0 bytes)",
    "truncated-pdf": "is truncated or damaged (a transfer that did not finish?): scan it again",
    "encrypted-pdf": "is password-protected: remove the password and scan/drop it in again",
    "bomb-png": "has a page of 50000x50000 pixels, over the limit of 150,000,000 pixels a page",
    "docx": "is a .docx file (a Word document), not a scan: save it as PDF",
    "random-pdf": "is not a PDF, TIFF, JPEG or PNG file (its contents do not match its .pdf name",
    "corrupt-jpeg": "is truncated or damaged",
    "corrupt-tiff-frame": "is truncated or damaged (the image data of a page is corrupt): scan it again",
}


@pytest.mark.parametrize("kind", list(REASONS))
def test_every_bad_input_is_refused_with_a_reason_to_act_on(bad_files, kind: str) -> None:
    path = bad_files[kind]
    with pytest.raises(BadInput) as caught:
        open_input(path, path.name)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert caught.value.fields["file"] == path.name
    assert REASONS[kind] in caught.value.fields["reason"]
    assert str(caught.value).startswith(f"{path.name}: ")
    assert str(path.parent) not in str(caught.value)  # the reason names the file, not our folders


def test_truncated_pdf_is_refused_although_a_repairing_open_accepts_it(bad_files) -> None:
    """The trap from FINDINGS.md: recovery turns the cut 3-page scan into fewer pages, exit 0."""
    with pikepdf.open(bad_files["truncated-pdf"]) as repaired:
        assert 0 < len(repaired.pages) < 3
    with pytest.raises(BadInput, match="truncated or damaged"):
        open_input(bad_files["truncated-pdf"], "scan_0101.pdf")


def test_bad_file_in_a_group_is_named(container_batches, bad_files) -> None:
    files = [*container_batches["jpeg"].files[:2], bad_files["corrupt-jpeg"]]
    with pytest.raises(BadInput) as caught:
        open_batch(files, [f.name for f in files])
    assert caught.value.fields["file"] == "scan_0105_p001.jpg"


def test_limits_on_size_pages_and_pixels(container_batches) -> None:
    batch = container_batches["pdf"]
    with pytest.raises(BadInput, match=r"is \d\.\d MB, over the limit of 0\.1 MB: scan the batch in smaller parts"):
        open_any(batch, InputLimits(max_file_bytes=100_000))
    with pytest.raises(BadInput, match="has 7 pages, over the limit of 5: scan the batch in smaller parts"):
        open_any(batch, InputLimits(max_pages=5))
    with pytest.raises(BadInput, match="page 1 is 1654x2339 pixels, over the limit of 1,000,000"):
        open_any(batch, InputLimits(max_page_pixels=1_000_000))
    with pytest.raises(BadInput, match="has a page of 1654x2339 pixels"):
        open_any(container_batches["tiff-g4"], InputLimits(max_page_pixels=1_000_000))
    with pytest.raises(BadInput, match="has 7 pages, over the limit of 5"):
        open_any(container_batches["png"], InputLimits(max_pages=5))


def test_type_comes_from_the_bytes_not_the_name(container_batches, tmp_path: Path) -> None:
    misnamed = tmp_path / "scan_0099.jpg"
    misnamed.write_bytes(container_batches["pdf"].path.read_bytes())
    scan = open_input(misnamed, misnamed.name)
    assert scan.kind == "pdf" and scan.page_count == 7


def test_a_pdf_with_a_user_password_is_refused_but_an_owner_only_one_opens(container_batches, tmp_path: Path) -> None:
    owner_only = tmp_path / "owner.pdf"
    with pikepdf.open(container_batches["pdf"].path) as pdf:
        pdf.save(owner_only, encryption=pikepdf.Encryption(user="", owner="secret", R=6))
    assert open_input(owner_only, "owner.pdf").page_count == 7


# --- writing PDFs --------------------------------------------------------------------------

def images_of(pdf_path: Path) -> list[pikepdf.Object]:
    with pikepdf.open(pdf_path) as pdf:
        return [next(iter(page.get_images().values())).read_raw_bytes() for page in pdf.pages]


def test_pdf_pages_are_copied_without_re_encoding(container_batches, tmp_path: Path) -> None:
    batch = container_batches["pdf-text"]
    scan = open_any(batch)
    out = tmp_path / "doc.pdf"
    write_pdf(scan.pages[1:3], out)
    assert images_of(out) == images_of(batch.path)[1:3]
    again = open_input(out, "doc.pdf")
    assert again.page_count == 2 and again.has_text_layer
    assert out.stat().st_mode & 0o777 == 0o600


def test_jpeg_pages_are_embedded_as_their_own_bytes(container_batches, tmp_path: Path) -> None:
    batch = container_batches["jpeg"]
    scan = open_any(batch)
    out = tmp_path / "doc.pdf"
    write_pdf(scan.pages, out)
    assert images_of(out) == [f.read_bytes() for f in batch.files]
    with pikepdf.open(out) as pdf:
        x0, y0, x1, y1 = (float(v) for v in pdf.pages[0].mediabox)
    assert (x1 - x0, y1 - y0) == pytest.approx((1654 * 72 / 200, 2339 * 72 / 200))


def test_g4_tiff_pages_stay_g4_and_keep_their_pixels(container_batches, tmp_path: Path) -> None:
    scan = open_any(container_batches["tiff-g4"])
    out = tmp_path / "doc.pdf"
    write_pdf(scan.pages, out)
    with pikepdf.open(out) as pdf:
        for page in pdf.pages:
            image = next(iter(page.get_images().values()))
            assert image.Filter == pikepdf.Name.CCITTFaxDecode and int(image.BitsPerComponent) == 1
    written = open_input(out, "doc.pdf")
    for before, after in zip(scan.pages, written.pages, strict=True):
        assert before.load().tobytes() == after.load().tobytes()


def test_g4_page_polarity_as_a_viewer_draws_it(container_batches, tmp_path: Path) -> None:
    """Ghostscript draws the written G4 page as white paper with black ink, like the TIFF."""
    from pps_archive.exec import run

    scan = open_any(container_batches["tiff-g4"])
    out = tmp_path / "doc.pdf"
    write_pdf(scan.pages[:1], out)
    png = run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pnggray", "-r50", "-sOutputFile=-", str(out)]).stdout
    drawn = Image.open(io.BytesIO(png)).convert("L")
    original = scan.pages[0].load().convert("L").resize(drawn.size, Image.Resampling.BOX)
    mean = lambda im: sum(im.tobytes()) / (im.width * im.height)  # noqa: E731
    assert mean(drawn) > 200 and abs(mean(drawn) - mean(original)) < 10


@pytest.mark.parametrize("container", ["tiff", "png"])
def test_other_images_are_embedded_losslessly(container_batches, tmp_path: Path, container: str) -> None:
    scan = open_any(container_batches[container])
    out = tmp_path / "doc.pdf"
    write_pdf(scan.pages, out)
    written = open_input(out, "doc.pdf")
    assert written.page_count == 7
    for before, after in zip(scan.pages, written.pages, strict=True):
        a, b = before.load(), after.load()
        assert (a.mode, a.size, a.tobytes()) == (b.mode, b.size, b.tobytes())
        assert b.info["dpi"] == pytest.approx((200, 200), rel=0.01)


def test_pages_from_several_inputs_in_one_pdf(container_batches, tmp_path: Path) -> None:
    pages: list[PageRef] = [*open_any(container_batches["pdf"]).pages[3:5], *open_any(container_batches["jpeg"]).pages[:1],
                            *open_any(container_batches["tiff-g4"]).pages[5:]]
    out = tmp_path / "mixed.pdf"
    write_pdf(pages, out)
    assert open_input(out, "mixed.pdf").page_count == 5


def test_a_born_digital_page_is_rendered(tmp_path: Path) -> None:
    from scanners.barcodes import read_codes
    from scanners.coversheet import CoverSheet, render_coversheet_pdf

    sheet = tmp_path / "sheet.pdf"
    render_coversheet_pdf(CoverSheet("PPS-2024-0999", "retain", "NOTE"), sheet, "Parent Partnership Service")
    scan = open_input(sheet, "sheet.pdf")
    assert scan.has_text_layer
    image = scan.pages[0].load()
    assert image.size == (2480, 3508) and image.info["dpi"] == (300.0, 300.0)
    assert {c.text for c in read_codes(image)} == {"PPS-2024-0999|RETAIN|NOTE"}


def test_rotated_page_and_orientation_tag_come_out_upright(container_batches, tmp_path: Path) -> None:
    source = container_batches["jpeg"].files[0]
    upright = Image.open(source)
    exif = Image.Exif()
    exif[0x0112] = 3  # stored upside down, display turned round
    turned = tmp_path / "turned_p001.jpg"
    upright.transpose(Image.Transpose.ROTATE_180).save(turned, "JPEG", quality=90, exif=exif, dpi=(200, 200))
    ref = open_input(turned, turned.name).pages[0]
    out = tmp_path / "turned.pdf"
    write_pdf([ref], out)
    with pikepdf.open(out) as pdf:
        assert int(pdf.pages[0].obj.Rotate) == 180
    for image in (ref.load(), open_input(out, "turned.pdf").pages[0].load()):
        diff = sum(abs(a - b) for a, b in zip(image.convert("L").resize((80, 110)).tobytes(),
                                              upright.convert("L").resize((80, 110)).tobytes()))
        assert diff / (80 * 110) < 8


def test_tiny_images_are_refused_not_crashed(tmp_path) -> None:  # noqa: ANN001
    from PIL import Image

    from pps_archive.errors import BadInput
    from scanners.pages import InputLimits, open_input

    for name, size in (("dot.png", (1, 1)), ("stamp.tif", (50, 50))):
        path = tmp_path / name
        Image.new("L", size, 255).save(path, dpi=(0, 0) if name.endswith(".tif") else (72, 72))
        with pytest.raises(BadInput, match="too small to be a scanned page"):
            open_input(path, name, InputLimits())


def test_ghostscript_messages_do_not_corrupt_a_rendered_page(tmp_path) -> None:  # noqa: ANN001
    import pikepdf

    from scanners.pages import InputLimits, open_input

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.save(tmp_path / "blank.pdf")
    scan = open_input(tmp_path / "blank.pdf", "blank.pdf", InputLimits())
    image = scan.pages[0].load()
    assert image.size[0] > 2000  # rendered at 300 dpi
