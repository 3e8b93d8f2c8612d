"""Test data for the case, shred-list, disc and disposal pages: a case with two documents filed
from one scanned batch (a PDF with a text layer, so no OCR runs), and a job waited for."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

REF = "PPS-2024-0137"
#: opened long enough ago that its paper may be shredded (archive-due), not yet dispose-due
OPENED = dt.date(2024, 1, 10)
#: cases six years inactive on the real date: due for disposal
OLD1, OLD2, OLD_OPENED = "PPS-2018-0001", "PPS-2018-0002", dt.date(2018, 3, 1)


def recovery(ws):  # noqa: ANN001, ANN201 - a Workspace; an Unlocked
    from pipeline import authority

    return authority.recover(ws, PASSPHRASE.encode())


def pin(ws) -> None:  # noqa: ANN001
    """What 'init' does after making the master key: pin the signing key in the data directory."""
    from pipeline import keystore

    with ws.transaction() as s:
        keystore.authenticate_keys(s, keystore.unlock(s, PASSPHRASE.encode()), ws.data_dir, actor="init")


def open_case(ws, ref: str, day: dt.date, *, consent: bool = True) -> None:  # noqa: ANN001
    from pipeline import cases

    auth = recovery(ws)
    with ws.transaction() as s:
        cases.open_case(s, ws.config, ref, today=day, actor="carol", consent_to_store=consent, passphrase=auth)


def filed(ws, tmp_path: Path) -> dict[str, int]:  # noqa: ANN001
    """Case REF with a retained letter and a shredded EHCP filed to it: document ids by class."""
    from pipeline import documents, intake

    pin(ws)
    open_case(ws, REF, OPENED)
    batch = ScanFactory(seed=11).batch(tmp_path / "in", "scan_0001.pdf", [
        # archiving sheets: scanned while archiving, so the case keeps its dates (not new activity)
        Cover(REF, "retain", "PPS-LETTER", archiving=True), Doc("pps-letter", REF),
        Cover(REF, "shred", "EHCP", archiving=True), Doc("ehcp", REF),
    ], container="pdf-text", dpi=150)
    results = intake.ingest(ws, None, list(batch.files), workers=1)
    assert [r["outcome"] for r in results] == ["done"], results
    with ws.reader() as s:
        return {d["class"]: d["id"] for d in documents.list_documents(s, case_ref=REF)}


def wait_job(browser, response, timeout: float = 60.0):  # noqa: ANN001, ANN201 - a Browser, a response
    """Follow a job's page (it refreshes itself) until the job has ended; its last response."""
    url = response.headers["location"] if response.status_code == 303 else response.url.path
    assert response.status_code == 303 or url.startswith("/jobs/"), response.text[:500]
    assert url.startswith("/jobs/"), url
    end = time.monotonic() + timeout
    while True:
        r = browser.get(url)
        if 'data-state="running"' not in r.text:
            return r
        assert '<meta http-equiv="refresh"' in r.text
        assert time.monotonic() < end, "the job did not end"
        time.sleep(0.2)


def flash(html: str) -> str:
    m = re.search(r'<p class="flash" role="status">([^<]*)</p>', html)
    return m.group(1) if m else ""
