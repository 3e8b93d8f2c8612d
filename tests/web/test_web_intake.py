"""The dashboard and the intake page over a real scan taken in (issue 11)."""

from __future__ import annotations

from tests.web.conftest import HOSTILE_BAD, HOSTILE_SCAN, REF_A


def _queue_one(ws, tmp_path) -> int:  # noqa: ANN001
    """A file taken into the spool and queued, not processed (no worker runs)."""
    import datetime as dt

    from pipeline import spool
    from tests.factory import Doc, ScanFactory

    f = ScanFactory(seed=9).batch(tmp_path / "later", "later.pdf", [Doc("note", REF_A)], container="pdf-text", dpi=100)
    taken = spool.take_in(ws, f.files, ["later.pdf"], "ingest", now=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    return taken.input_id


def test_the_dashboard_says_what_needs_doing(intake_browser, intake_office, tmp_path) -> None:  # noqa: ANN001
    queued = _queue_one(intake_office, tmp_path)
    intake_browser.login("alice")
    r = intake_browser.get("/")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    html = r.text
    assert 'data-live="review">2<' in html  # REF_B's and REF_C's documents
    assert 'data-live="quarantine">1<' in html
    assert 'data-live="queued">1<' in html and "later.pdf" in html and f"<td>{queued}</td>" in html
    assert "To build: <strong>1</strong> disc(s), 1 document(s)" in html  # REF_A's NOTE is on no disc yet
    assert "intact" in html and "seals checked with the key" in html
    assert '<script src="/static/live.js" defer></script>' in html


def test_live_json_has_counts_and_needs_a_login(intake_browser, intake_office, tmp_path) -> None:  # noqa: ANN001
    assert intake_browser.get("/live.json", follow_redirects=False).status_code == 303
    _queue_one(intake_office, tmp_path)
    intake_browser.login("bob")
    r = intake_browser.get("/live.json")
    data = r.json()
    assert r.headers["cache-control"] == "no-store"
    assert {k: data[k] for k in ("queued", "processing", "review", "quarantine")} == {
        "queued": 1, "processing": 0, "review": 2, "quarantine": 1}
    assert 0 <= data["progress"] <= 100 and data["finished_recently"] == 2
    assert REF_A not in r.text and "later.pdf" not in r.text  # counts only


def test_the_intake_page_shows_each_input_and_what_it_produced(intake_browser, intake_office) -> None:  # noqa: ANN001
    from tests.web.conftest import review_items

    items = review_items(intake_office)
    intake_browser.login("alice")
    html = intake_browser.get("/intake").text
    assert "state-done" in html and "state-quarantined" in html
    assert f"RETAIN NOTE for {REF_A}" in html
    for row in items.values():
        assert f'href="/review/{row["id"]}"' in html
    assert "is a .docx file" in html  # the quarantine reason, with what to do
    # the names files had in the drop folder are shown, escaped
    assert HOSTILE_SCAN not in html and HOSTILE_BAD not in html and "<script>" not in html.replace(
        '<script src="/static/live.js" defer></script>', "")
    assert "scan &lt;img src=x onerror=alert(1)&gt;.pdf" in html and "&lt;script&gt;alert(1)&lt;script&gt;.docx" in html


def test_intake_and_dashboard_need_a_login(intake_browser) -> None:  # noqa: ANN001
    for url in ("/", "/intake"):
        r = intake_browser.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={url}"


def test_the_dashboard_lists_cases_due_for_archiving_and_disposal(intake_browser, intake_office) -> None:  # noqa: ANN001
    import datetime as dt

    from pipeline import cases
    from tests.auth_helpers import backdate, unlocked
    from tests.web.conftest import REF_B

    today = dt.date.today()
    with intake_office.transaction() as s:
        backdate(s, today - dt.timedelta(days=230), [REF_A])  # inactive for 7 months or so: archive due
        backdate(s, dt.date(today.year - 7, 1, 10), [REF_B])  # 7 years: due for disposal
        cases.place_hold(s, REF_B, "sar", "subject access request received", today=today, auth=unlocked(s, None, "carol"))
    intake_browser.login("alice")
    html = intake_browser.get("/").text
    row = html.split("<h2>Cases due for archiving</h2>")[1]
    assert f"<td>{REF_A}</td>" in row  # its NOTE is on no verified disc, its paper not shredded
    assert '>1 <span class="unit">case(s) due</span>' in html and f"Held: {REF_B}" in html
