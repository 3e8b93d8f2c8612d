"""What staff read in the log (issue 8): no "ERROR ... Error during processing" from Tesseract on a
good run, and one INFO line per input from the daemon's workers, with counts and no names."""

from __future__ import annotations

import logging
import re
import signal
from pathlib import Path

import pytest

from tests.factory import Cover, Doc, ScanFactory
from tests.intake._helpers import DbProbe, invented_names, kill_group, pps, pps_env, start, wait_for

REF = "PPS-2024-0137"


def _near_blank_pdf(path: Path) -> Path:
    from PIL import Image, ImageDraw

    im = Image.new("L", (1240, 1754), 255)
    ImageDraw.Draw(im).text((100, 100), "PPS", fill=0)  # too few characters to tell its orientation
    im.save(path, resolution=150)
    return path


def test_harmless_tesseract_errors_are_silenced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from pipeline.ocr import ocr_document
    from pipeline.worker import prepare_process, restore_environment

    saved = prepare_process(1)
    try:
        with caplog.at_level(logging.INFO):
            ocr_document(_near_blank_pdf(tmp_path / "blank.pdf"), tmp_path / "out.pdf", tmp_path / "out.txt",
                         language="eng", rotate=True, deskew=True, display="blank.pdf")
    finally:
        restore_environment(saved)
    assert (tmp_path / "out.pdf").exists()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_tesseract_error_that_is_not_excused_still_shows(caplog: pytest.LogCaptureFixture) -> None:
    from pipeline.worker import TESSERACT_LOGGER, silence_harmless_tesseract_noise

    silence_harmless_tesseract_noise()
    tess = logging.getLogger(TESSERACT_LOGGER)
    with caplog.at_level(logging.INFO):
        tess.info("[tesseract] Too few characters. Skipping this page")
        tess.error("[tesseract] Error during processing.")
        tess.error("[tesseract] Error during processing.")  # a second run, not excused
        tess.error("[tesseract] Error in pixReadStream: Unknown format")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "[tesseract] Error during processing.", "[tesseract] Error in pixReadStream: Unknown format"]


@pytest.mark.slow
def test_daemon_workers_log_one_line_per_input_without_names(database_url: str, tmp_path: Path) -> None:
    home, drop = tmp_path / "home", tmp_path / "drop"
    env = pps_env(home, database_url, PPS_ARCHIVE__INTAKE__STABLE_SECONDS="0.5", PPS_ARCHIVE__INTAKE__WORKERS="1")
    pps(env, "init")
    pps(env, "case", "open", REF, "--consent-to-store")
    drop.mkdir()
    factory = ScanFactory(seed=9)
    factory.batch(drop, "Jones family letter.pdf", [Cover(REF, "shred", "SCHOOL-LETTER"), Doc("school-letter", REF, pages=2),
                                                   Cover(REF, "retain", "NOTE"), Doc("note", REF)], dpi=150)
    (drop / "broken scan.pdf").write_bytes(b"%PDF-1.4 cut")
    log = tmp_path / "watch.log"
    daemon = start(env, "watch", "--folder", str(drop), log=log)
    probe = DbProbe(database_url)
    try:
        wait_for(lambda: sorted(r[0] for r in probe.rows("SELECT state FROM inputs")) == ["done", "quarantined"], 300,
                 "both inputs to be finished")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
    finally:
        kill_group(daemon)
        probe.engine.dispose()
    text = log.read_text()
    lines = [line for line in text.splitlines() if line.startswith("INFO pipeline.worker: input ")]
    assert len(lines) == 2, text
    assert any(re.fullmatch(r"INFO pipeline.worker: input \d+: done, 5 page\(s\), 2 document\(s\) \(1 retain, 1 shred\)", line)
               for line in lines), lines
    assert any(re.fullmatch(r"INFO pipeline.worker: input \d+: quarantined .*", line) for line in lines), lines
    assert "Error during processing" not in text
    for name in (*invented_names(), "Jones", "broken scan", REF):
        assert name not in text
