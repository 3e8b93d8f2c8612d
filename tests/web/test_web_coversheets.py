"""Cover sheets in the web app: one, or a batch for a case file as one PDF (issue 11)."""

from __future__ import annotations

import io
import re

REF = "PPS-2026-0042"


def _pages(pdf: bytes) -> list[str]:
    """The payload printed on each page of a cover-sheet PDF (its text layer)."""
    from pipeline.previews import page_texts

    return [m.group(0) for t in page_texts(pdf) for m in [re.search(r"PPS-\d{4}-\d{4}\|(RETAIN|SHRED)\|[A-Z-]+", t)] if m]


def test_print_one_sheet(browser) -> None:  # noqa: ANN001
    browser.login("alice")
    html = browser.get("/coversheets").text
    assert '<option value="PPS-LETTER">PPS-LETTER: Letter written by the service (retain)</option>' in html
    assert 'name="class_4"' in html and 'name="class_5"' not in html  # five rows by default
    assert browser.post("/coversheets/one", {"ref": REF, "class": "EHCP", "decision": "shred"}, csrf=False).status_code == 403
    r = browser.post("/coversheets/one", {"ref": REF, "class": "EHCP", "decision": "shred"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == 'inline; filename="cover-sheet.pdf"'
    assert _pages(r.content) == [f"{REF}|SHRED|EHCP"]


def test_print_a_batch_for_a_case_file(browser) -> None:  # noqa: ANN001
    import pikepdf

    browser.login("bob")
    html = browser.get(f"/coversheets?ref={REF}&count=4").text
    assert 'name="class_3"' in html and 'name="class_4"' not in html and f'value="{REF}"' in html
    form = {"ref": REF, "class_0": "PPS-LETTER", "decision_0": "retain", "class_1": "", "decision_1": "retain",
            "class_2": "EHCP", "decision_2": "shred", "class_3": "SCHOOL-LETTER", "decision_3": ""}
    r = browser.post("/coversheets/batch", form)
    assert r.status_code == 200 and len(pikepdf.open(io.BytesIO(r.content)).pages) == 3  # the empty row is no sheet
    # the last row's decision is its class's rule (a school letter: the school holds the original)
    assert _pages(r.content) == [f"{REF}|RETAIN|PPS-LETTER", f"{REF}|SHRED|EHCP", f"{REF}|SHRED|SCHOOL-LETTER"]


def test_a_sheet_the_pipeline_would_misread_is_refused(browser) -> None:  # noqa: ANN001
    browser.login("alice")
    browser.get("/coversheets")
    r = browser.post("/coversheets/one", {"ref": REF, "class": "<b>NOPE</b>", "decision": "retain"})
    assert r.status_code == 422 and "is not a document class" in r.text and "<b>NOPE</b>" not in r.text
    r = browser.post("/coversheets/one", {"ref": "not a reference", "class": "EHCP", "decision": "retain"})
    assert r.status_code == 422
    r = browser.post("/coversheets/batch", {"ref": REF, "class_0": ""})
    assert r.status_code == 422 and "at least one document" in r.text


def test_cover_sheets_need_a_login(browser) -> None:  # noqa: ANN001
    assert browser.get("/coversheets", follow_redirects=False).status_code == 303
    browser.get("/login")
    r = browser.post("/coversheets/one", {"ref": REF, "class": "EHCP", "decision": "shred"})
    assert r.status_code in (401, 403) and r.headers["content-type"].startswith("text/html")
