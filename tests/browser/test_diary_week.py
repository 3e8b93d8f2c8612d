"""Issue 12, in a real browser: a diary week seen by two different advisers (and a manager).

The policy: "Staff diaries are anonymised, so that others can see where appointments are booked, but
not who with. This information is only available to PPS staff via the database." alice books an
appointment for her case and bob one without a case, each in Chromium at their own desk against a
live ``pps-archive serve``; alice sees her case on hers and "booked" on bob's, bob sees both slots
booked and never alice's case, a manager sees the case. Screenshots of each person's week go to
``$PPS_ARCHIVE_SCREENSHOTS/<test name>/``.
"""

from __future__ import annotations

import datetime as dt

from tests.browser.conftest import log_in, log_out, new_person

REF = "PPS-2026-0613"


def _book(page, when: dt.date, time: str, place: str, case: str | None = None) -> None:  # noqa: ANN001
    page.goto("/diary")
    page.get_by_label("Day").fill(when.isoformat())
    page.get_by_label("Time").fill(time)
    page.get_by_label("Minutes").fill("45")
    page.get_by_label("Place").fill(place)
    if case:
        page.get_by_label("Case").fill(case)
    page.get_by_role("button", name="Book").click()
    page.wait_for_selector("p.flash")


def _week(page, monday: dt.date) -> list[dict]:  # noqa: ANN001
    """The week's rows as the person sees them: place, adviser and the case column."""
    page.goto(f"/diary?week={monday.isoformat()}")
    rows = page.locator("table.diary tr[data-appointment]")
    return [{"adviser": rows.nth(i).locator("td").nth(1).inner_text().strip(),
             "place": rows.nth(i).locator("td").nth(2).inner_text().strip(),
             "case": rows.nth(i).locator("td.case").inner_text().strip()} for i in range(rows.count())]


def test_a_diary_week_seen_by_two_advisers(office, server, chromium, shots) -> None:  # noqa: ANN001
    today = dt.date.today()
    monday = today - dt.timedelta(days=today.weekday())
    office.cli("case", "open", REF, "--consent-to-store", user="alice")

    alice = new_person(chromium, server)
    log_in(alice, "alice")
    _book(alice, monday + dt.timedelta(days=1), "10:00", "Galley Hill, interview room", REF)
    assert "for the case given" in alice.locator("p.flash").inner_text() and REF not in alice.url

    bob = new_person(chromium, server)
    log_in(bob, "bob")
    _book(bob, monday + dt.timedelta(days=3), "14:30", "School visit, Bletchley")

    seen = _week(alice, monday)
    assert seen == [{"adviser": "alice (you)", "place": "Galley Hill, interview room", "case": REF},
                    {"adviser": "bob", "place": "School visit, Bletchley", "case": "booked"}]
    assert alice.get_by_role("link", name=REF).count() == 1
    shots.take(alice, "alice's week: her case, bob's slot booked")

    seen = _week(bob, monday)
    assert seen == [{"adviser": "alice", "place": "Galley Hill, interview room", "case": "booked"},
                    {"adviser": "bob (you)", "place": "School visit, Bletchley", "case": "booked"}]
    assert REF not in bob.content()  # not in a link, an attribute or a hidden field either
    assert bob.locator("form[action$='/cancel']").count() == 1  # his own only
    shots.take(bob, "bob's week: both slots booked, no case")

    carol = new_person(chromium, server)
    log_in(carol, "carol")
    seen = _week(carol, monday)
    assert [row["case"] for row in seen] == [REF, "booked"]
    shots.take(carol, "the manager's week: the case shown")

    # the next week is empty, and the previous-week link leads back
    alice.get_by_role("link", name="Next week").click()
    alice.wait_for_url(f"**/diary?week={(monday + dt.timedelta(days=7)).isoformat()}")
    assert alice.locator("table.diary tr[data-appointment]").count() == 0
    alice.get_by_role("link", name="Previous week").click()
    alice.wait_for_url(f"**/diary?week={monday.isoformat()}")
    assert alice.locator("table.diary tr[data-appointment]").count() == 2
    for page in (alice, bob, carol):
        log_out(page)
        page.context.close()
