"""The policy pages of the web app (issue 12): the anonymised diary, reports to the Local Authority,
statistics over time and telephone messages. Each page is a thin view over the library
(:mod:`pipeline.diary`, :mod:`pipeline.reports`, :mod:`pipeline.trends`, :mod:`pipeline.messages`):
these tests show what each person sees and that every refusal of the library reaches the page."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import func, select

from tests.web.life_helpers import REF, filed, flash, open_case

TODAY = dt.date.today()
MONDAY = TODAY - dt.timedelta(days=TODAY.weekday())
OTHER = "PPS-2026-0777"
PHONE = "01908 000000"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _events(ws, action: str) -> int:  # noqa: ANN001
    from pipeline.models import AuditEvent

    with ws.reader() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def _appointments(ws) -> int:  # noqa: ANN001
    from pipeline.models import Appointment

    with ws.reader() as s:
        return s.scalar(select(func.count()).select_from(Appointment).where(Appointment.cancelled_at.is_(None)))


def _rows(page: str) -> dict[str, str]:
    """The diary's rows by appointment id: the row's text, tags stripped."""
    rows = re.findall(r'<tr data-appointment="(\d+)"[^>]*>(.*?)</tr>', page, re.S)
    return {n: " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split()) for n, body in rows}


def _cases(page: str) -> list[str]:
    """The diary's case column, row by row."""
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r'<td class="case">(.*?)</td>', page, re.S)]


def _error(page: str) -> str:
    m = re.search(r'<p class="error" role="alert"[^>]*>(.*?)</p>', page, re.S)
    return html.unescape(m.group(1)) if m else ""


def _book(b, when: dt.date, time: str, place: str, case: str = "", **more):  # noqa: ANN001, ANN003, ANN202
    b.get("/diary")
    return b.post("/diary", {"date": when.isoformat(), "time": time, "minutes": "60", "place": place, "case": case, **more},
                  follow_redirects=False)


def test_no_policy_page_or_form_without_a_login(browser) -> None:  # noqa: ANN001
    for url in ("/diary", "/reports", "/reports/trends", "/reports/trends.csv", "/reports/trends.pdf", "/message"):
        r = browser.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url
    for url in ("/diary", "/diary/1/cancel", "/reports/la-issue", "/message", f"/cases/{REF}/la-identify"):
        assert browser.post(url, {"csrf": "x", "place": "Office", "issue": "x"}).status_code in (401, 403), url


def test_policy_forms_without_their_csrf_token_do_nothing(browser, office) -> None:  # noqa: ANN001
    open_case(office, REF, TODAY)
    office.config.raw["messages"]["phone"] = PHONE
    browser.login("alice")
    for url, data in (("/diary", {"date": TODAY.isoformat(), "time": "10:00", "minutes": "60", "place": "Office"}),
                      (f"/cases/{REF}/la-identify", {"identify": "yes"}),
                      ("/reports/la-issue", {"issue": "transport is late"}),
                      ("/message", {"recipient": "Mrs Ash", "caller": "Jo"})):
        browser.get("/diary")
        assert browser.post(url, data, csrf=False).status_code == 403, url
        assert browser.post(url, {**data, "csrf": "forged"}).status_code == 403, url
    assert _appointments(office) == 0
    assert _events(office, "consent.la_identify") == 0 and _events(office, "report.la_issue") == 0
    assert _events(office, "message.built") == 0


def test_the_diary_week_shows_every_slot_but_the_case_only_to_its_adviser_and_managers(browser, make_browser,  # noqa: ANN001
                                                                                      office) -> None:
    """Policy: "Staff diaries are anonymised, so that others can see where appointments are booked, but
    not who with." In the web app: alice books for her case, bob a meeting; each sees both slots,
    the case only alice and a manager, bob "booked"."""
    open_case(office, REF, TODAY - dt.timedelta(days=30))
    browser.login("alice")
    r = _book(browser, MONDAY + dt.timedelta(days=1), "10:00", "Galley Hill, room 2", REF)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/diary?week={MONDAY.isoformat()}")
    assert REF not in r.headers["location"] and "for the case given" in flash(browser.get(r.headers["location"]).text)
    bob = make_browser()
    bob.login("bob")
    assert _book(bob, MONDAY + dt.timedelta(days=2), "14:30", "School visit").status_code == 303
    carol = make_browser()
    carol.login("carol")

    seen = {}
    for who, b in (("alice", browser), ("bob", bob), ("carol", carol)):
        page = b.get(f"/diary?week={(MONDAY + dt.timedelta(days=3)).isoformat()}")  # any day: its week from Monday
        assert page.status_code == 200 and f"week of {MONDAY.isoformat()}" in page.text
        seen[who] = page.text
    a_row, b_row = (row for _, row in sorted(_rows(seen["alice"]).items()))
    assert "alice (you)" in a_row and "Galley Hill, room 2" in a_row and REF in a_row
    assert "bob" in b_row and "School visit" in b_row
    assert _cases(seen["alice"]) == [REF, "booked"]
    assert _cases(seen["bob"]) == ["booked", "booked"]
    assert REF not in seen["bob"]  # nowhere on bob's page: not in a link, not in an attribute
    assert "Galley Hill, room 2" in seen["bob"] and "School visit" in seen["bob"]
    assert _cases(seen["carol"]) == [REF, "booked"]
    # the weeks either side
    nxt = browser.get(f"/diary?week={(MONDAY + dt.timedelta(days=7)).isoformat()}").text
    assert _rows(nxt) == {} and f'href="/diary?week={MONDAY.isoformat()}" rel="prev"' in nxt
    assert f'href="/diary?week={(MONDAY - dt.timedelta(days=7)).isoformat()}" rel="prev"' in seen["alice"]


def test_a_slot_is_cancelled_by_its_adviser_or_a_manager_only(browser, make_browser, office) -> None:  # noqa: ANN001
    open_case(office, REF, TODAY)
    browser.login("alice")
    _book(browser, MONDAY, "09:00", "Office", REF)
    _book(browser, MONDAY, "11:00", "Office")
    mine, other = sorted(_rows(browser.get(f"/diary?week={MONDAY.isoformat()}").text), key=int)
    bob = make_browser()
    bob.login("bob")
    page = bob.get("/diary").text
    assert f'action="/diary/{mine}/cancel"' not in page  # no button for another's slot ...
    r = bob.post(f"/diary/{mine}/cancel", {"week": MONDAY.isoformat()})  # ... and the library refuses it
    assert r.status_code == 403 and "needs a manager" in _error(r.text) and f'href="/diary?week={MONDAY.isoformat()}"' in r.text
    assert _appointments(office) == 2
    browser.get("/diary")
    assert browser.post(f"/diary/{mine}/cancel", {"week": MONDAY.isoformat()}, csrf=False).status_code == 403
    assert _appointments(office) == 2
    r = browser.post(f"/diary/{mine}/cancel", {"week": MONDAY.isoformat()}, follow_redirects=False)
    assert r.status_code == 303 and "cancelled" in flash(browser.get(r.headers["location"]).text)
    carol = make_browser()
    carol.login("carol")
    carol.get("/diary")
    assert carol.post(f"/diary/{other}/cancel", {"week": MONDAY.isoformat()}).status_code == 200
    assert _appointments(office) == 0
    r = carol.post(f"/diary/{other}/cancel", {"week": MONDAY.isoformat()})
    assert r.status_code == 404 and "no booked appointment" in _error(r.text)


def test_the_diary_refuses_what_the_library_refuses(browser, office) -> None:  # noqa: ANN001
    open_case(office, REF, TODAY)
    browser.login("alice")
    r = _book(browser, TODAY, "10:00", f"home visit {REF}")  # everyone sees the place
    assert r.status_code == 403 and "must not carry details" in _error(r.text)
    r = _book(browser, TODAY, "10:00", "Office", staff="bob")  # another's diary: a manager's
    assert r.status_code == 403 and "needs a manager" in _error(r.text)
    r = _book(browser, TODAY, "25:99", "Office")
    assert r.status_code == 422 and "HH:MM" in _error(r.text)
    r = _book(browser, TODAY + dt.timedelta(days=400), "10:00", "Office")
    assert r.status_code == 422 and "days ahead" in _error(r.text)
    r = _book(browser, TODAY, "10:00", HOSTILE)
    assert r.status_code == 303
    page = browser.get("/diary").text
    assert HOSTILE not in page and "<script>" not in page and "&lt;script&gt;alert(" in page
    assert _appointments(office) == 1


def test_a_report_to_the_la_is_anonymous_without_the_permission_and_names_the_case_with_it(browser, office,  # noqa: ANN001
                                                                                           tmp_path) -> None:
    """Policy: "Where issues need to be brought to the attention of the Local Authority, this is done in
    a way to protect the parent/carer's anonymity, unless they give permission to be identified." In the
    web app: the case or its documents are refused (the refusal shown on the form, what was typed
    kept) until the case page records the permission; then the report names them."""
    docs = filed(office, tmp_path)
    browser.login("alice")
    browser.get("/reports")
    issue = f"Transport for {REF} is late every day; Mrs Quillon rang from 07700 900123."
    r = browser.post("/reports/la-issue", {"issue": issue, "case": REF, "as": "page"})
    assert r.status_code == 403 and "permission to be identified" in _error(r.text)
    assert "Transport for" in r.text and f'value="{REF}"' in r.text  # the form keeps what was typed
    r = browser.post("/reports/la-issue", {"issue": issue, "case": "", "documents": str(docs["PPS-LETTER"])})
    assert r.status_code == 422 and "give the case as well" in _error(r.text)
    assert _events(office, "report.la_issue") == 0

    r = browser.post("/reports/la-issue", {"issue": issue, "details": "Parent/carer: Mrs Quillon", "as": "page"})
    assert r.status_code == 200
    report = html.unescape(re.search(r'<pre class="report-text">(.*?)</pre>', r.text, re.S).group(1))
    assert "not identified" in report and REF not in report and "Quillon" not in report and "07700" not in report
    assert "[withheld]" in report and "Transport for" in report

    page = browser.get(f"/cases/{REF}").text
    assert "Permission to be identified to the Local Authority: <strong>not given</strong>" in page
    r = browser.post(f"/cases/{REF}/la-identify", {"identify": "yes"}, follow_redirects=False)
    assert r.status_code == 303
    assert "Permission to be identified to the Local Authority: <strong>given</strong>" in browser.get(r.headers["location"]).text
    browser.get("/reports")
    data = {"issue": issue, "case": REF, "documents": str(docs["PPS-LETTER"]), "details": "Parent/carer: Mrs Quillon"}
    r = browser.post("/reports/la-issue", {**data, "as": "page"})
    report = html.unescape(re.search(r'<pre class="report-text">(.*?)</pre>', r.text, re.S).group(1))
    assert f"Case: {REF}" in report and "Parent/carer: Mrs Quillon" in report and f"document {docs['PPS-LETTER']}" in report
    pdf = browser.post("/reports/la-issue", {**data, "as": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    txt = browser.post("/reports/la-issue", {**data, "as": "text"})
    assert txt.headers["content-disposition"].startswith("attachment;") and f"Case: {REF}" in txt.text
    assert _events(office, "report.la_issue") == 4  # each report written is audited
    browser.get(f"/cases/{REF}")
    browser.post(f"/cases/{REF}/la-identify", {"identify": "no"})
    browser.get("/reports")
    assert browser.post("/reports/la-issue", {**data, "as": "pdf"}).status_code == 403  # withdrawn: refused again


def test_trend_statistics_are_drawn_inline_without_style_or_script_and_download(browser, office) -> None:  # noqa: ANN001
    """Policy: "Statistical reports produced from the database are all anonymous and are used to help
    the PPS monitor its service and identify issues and trends." The page draws the library's charts
    inline under the CSP ('self', no inline style or script) with the suppressed counts, and offers
    the CSV and the printable PDF."""
    for n in range(6):
        open_case(office, f"PPS-2026-08{n:02d}", dt.date(2026, 3, 2 + n))
    open_case(office, OTHER, dt.date(2026, 4, 1))
    browser.login("bob")
    r = browser.get("/reports/trends?from=2026-01-01&to=2026-06-30")
    assert r.status_code == 200 and "default-src 'self'" in r.headers["content-security-policy"]
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    svgs = re.findall(r"<svg.*?</svg>", r.text, re.S)
    assert len(svgs) == 3 and all("<title>" in s for s in svgs)
    assert not re.search(r"\sstyle=|<script|\son\w+=|href=", "".join(svgs))
    assert len(set(re.findall(r' id="([^"]+)"', r.text))) == len(re.findall(r' id="([^"]+)"', r.text))  # ids unique
    opened = re.search(r'<th scope="row">opened</th>(.*?)</tr>', r.text).group(1)
    assert re.findall(r"<td>([^<]*)</td>", opened) == ["0", "0", "6", "&lt;5", "0", "0"]  # one case in April: suppressed
    csv = browser.get("/reports/trends.csv?from=2026-01-01&to=2026-06-30")
    assert csv.headers["content-type"].startswith("text/csv") and csv.headers["content-disposition"].startswith("attachment;")
    assert csv.text.splitlines()[0].startswith("month,cases_opened") and "2026-04,<5" in csv.text
    assert OTHER not in csv.text and OTHER not in r.text
    pdf = browser.get("/reports/trends.pdf?from=2026-01-01&to=2026-06-30")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    r = browser.get("/reports/trends?from=2026-06-30&to=2026-01-01")
    assert r.status_code == 422 and "before it starts" in _error(r.text)


def test_a_chart_put_inline_keeps_no_script_handler_link_or_style() -> None:
    from pipeline.web.charts import inline_svg

    doc = ('<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.0//EN" "x.dtd">'
           '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" onload="alert(1)">'
           '<title>t</title><script>alert(2)</script><clipPath id="clip"><rect width="1"/></clipPath>'
           '<g style="clip-path: url(#clip); fill: red" onclick="x()"><text style="font-family: Helvetica-Bold">'
           '&lt;img src=x onerror=alert(3)&gt;</text><a xlink:href="javascript:alert(4)"><rect/></a>'
           '<foreignObject><div/></foreignObject></g></svg>')
    out = str(inline_svg(doc, "c1", title='<b>"x"</b>'))
    assert "<script" not in out and "onload" not in out and "onclick" not in out and "javascript" not in out
    assert "foreignObject" not in out and "style=" not in out and "<img" not in out
    assert 'id="c1-clip"' in out and 'clip-path="url(#c1-clip)"' in out and 'fill="red"' in out
    assert 'font-family="Helvetica" font-weight="bold"' in out and "&lt;b&gt;" in out


def test_a_message_says_who_it_is_for_who_called_and_the_number_or_is_refused(browser, office, tmp_path) -> None:  # noqa: ANN001
    """Policy: "If a message is left for a parent/carer, it will say who the message is for, who has made
    the call, and the PPS telephone number. Details of the child/case are not left on the message." In
    the web app: the text from the three fields, or the library's refusal on the form."""
    open_case(office, REF, TODAY)
    browser.login("alice")
    browser.get("/message")
    r = browser.post("/message", {"recipient": "Mrs Ash", "caller": "Jo"})
    assert r.status_code == 422 and "messages.phone" in _error(r.text)  # no number configured yet
    office.config.raw["messages"]["phone"] = PHONE
    r = browser.post("/message", {"recipient": "Mrs Ash", "caller": "Jo", "case": REF})
    assert r.status_code == 200
    text = html.unescape(re.search(r'<p class="message-text"><strong>(.*?)</strong>', r.text, re.S).group(1))
    assert text == f"This is a message for Mrs Ash. Jo called and would like you to call back on {PHONE}. Thank you."
    assert REF not in text
    for data, found in (({"recipient": "Mrs Ash", "caller": f"Jo about {REF}"}, "a case reference"),
                        ({"recipient": "Mrs Ash", "caller": "Jo about the EHCP"}, "EHCP"),
                        ({"recipient": "Mrs Ash about Ayaan", "caller": "Jo", "avoid": "Ayaan"}, "names list")):
        r = browser.post("/message", data)
        assert r.status_code == 403 and "must not carry details" in _error(r.text) and found in _error(r.text), data
        assert 'class="message-text"' not in r.text
    r = browser.post("/message", {"recipient": HOSTILE[:80], "caller": "Jo"})
    assert HOSTILE[:80] not in r.text
    assert _events(office, "message.built") == 2
