"""The gradebook in Chromium, measured: with the demo's nine assignments and the course components no column is
hidden at 1280 px, nothing in a cell is cut, the page never scrolls sideways, on a phone the table scrolls inside
its frame with the student column kept in view, and the histograms show their counts under the CSP.

gunicorn serves a migrated SQLite database written directly (no training): the
assignments of this repository, as `grader demo` loads them, and a class of
students with scores, some with every course component entered, some without.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from grader.config import load_settings
from grader.models import Assignment, Role, StaffScore, State
from grader.services.accounts import create_user
from grader.services.catalog import sync_assignments
from tests.databases import migrated_database
from tests.e2e.pages import PASSWORD, log_in, serve, site_environ, submission, watched_page, writing

pytestmark = pytest.mark.slow

# Long and short addresses: the student column must wrap them, not widen the table past the window.
LOCAL_PARTS = ("ada.lovelace", "bo", "charlotte.de.la.fontaine-bergstrom", "dan")
STUDENTS = 12


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[str]:
    """gunicorn with a TA, every assignment of the repository (due one a day) and twelve graded students."""
    tmp = tmp_path_factory.mktemp("gradebook-site")
    with migrated_database("sqlite", tmp) as database_url:
        with writing(database_url) as session:
            _write_course(session, load_settings(site_environ(tmp, database_url)))
        with serve(tmp, database_url) as url:
            yield url


def _write_course(session, settings) -> None:  # noqa: ANN001 - a Session and Settings
    """Load the assignments as the demo does, then students with varied scores and staff-entered components."""
    now = dt.datetime.now(dt.timezone.utc)
    ta = create_user(session, email="ta@example.org", role=Role.TA, password=PASSWORD)
    sync_assignments(session, settings)
    assignments = list(session.scalars(select(Assignment).order_by(Assignment.topic, Assignment.slug)))
    assert len(assignments) >= 9, [a.slug for a in assignments]
    for index, assignment in enumerate(assignments):
        assignment.due_at = now + dt.timedelta(days=index - 4)  # some deadlines passed, some still open
    for n in range(STUDENTS):
        email = f"{LOCAL_PARTS[n % len(LOCAL_PARTS)]}{n}@students.example.org"
        student = create_user(session, email=email, role=Role.STUDENT, password=PASSWORD)
        for index, assignment in enumerate(assignments):
            if (n + index) % 5:  # a few never submitted
                score = round((n * 7 + index * 13) % 100 / 10, 1)
                session.add(
                    submission(
                        student, assignment, state=State.SCORED, score=score, max_score=10.0, outcome="ok",
                        created_at=assignment.due_at - dt.timedelta(hours=(n + index) % 40 + 1),
                    )
                )  # fmt: skip
        entered = ("theory", "summaries", "project") if n % 3 == 0 else ("theory",) if n % 3 == 1 else ()
        for component in entered:
            session.add(StaffScore(user_id=student.id, component=component, score=40 + n * 5, entered_by_id=ta.id))


def open_gradebook(browser, url: str, width: int, height: int):
    """A watched page at this window size, the TA logged in, on the gradebook."""
    page, problems = watched_page(browser)
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, url, "ta@example.org")
    page.goto(f"{url}/staff/gradebook")
    return page, problems


GEOMETRY = """() => {
  const frame = document.querySelector('.gradebook-scroll'), table = frame.querySelector('table');
  const box = frame.getBoundingClientRect();
  const cells = [...table.querySelectorAll('th, td')];
  return {
    frame: {left: box.left, right: box.right, clientWidth: frame.clientWidth, scrollWidth: frame.scrollWidth},
    table: table.getBoundingClientRect().width,
    page: {scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth},
    headers: [...table.querySelectorAll('thead th')].map(th => {
      const r = th.getBoundingClientRect();
      return {text: th.textContent.trim(), left: r.left, right: r.right};
    }),
    cut: cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.textContent.trim()),
    columns: table.querySelectorAll('thead tr:last-child th').length,
  };
}"""


def test_at_1280_px_every_column_shows_and_nothing_is_cut(site, browser):
    page, problems = open_gradebook(browser, site, 1280, 900)
    geometry = page.evaluate(GEOMETRY)
    assert geometry["columns"] >= 9 + 5  # the nine assignments, then theory, practice, summaries, project, homework
    frame = geometry["frame"]
    assert frame["scrollWidth"] <= frame["clientWidth"], geometry  # the table fits: no column scrolled out of view
    for header in geometry["headers"]:
        assert frame["left"] - 0.5 <= header["left"] and header["right"] <= frame["right"] + 0.5, header
    assert geometry["cut"] == []  # no cell's content overflows it
    assert geometry["page"]["scrollWidth"] <= geometry["page"]["innerWidth"]  # the page never scrolls sideways
    assert problems == []


def test_on_a_phone_the_table_scrolls_in_its_frame_and_keeps_the_student_column(site, browser):
    page, problems = open_gradebook(browser, site, 390, 844)
    geometry = page.evaluate(GEOMETRY)
    frame = geometry["frame"]
    assert frame["right"] <= 390 and frame["scrollWidth"] > frame["clientWidth"]  # the frame scrolls, not the page
    assert geometry["cut"] == []
    first = page.locator("tbody tr").first.locator("th.student")
    before = first.bounding_box()
    page.locator(".gradebook-scroll").evaluate("frame => { frame.scrollLeft = frame.scrollWidth; }")
    after = first.bounding_box()
    assert after["x"] == pytest.approx(before["x"], abs=1)  # sticky: the student stays in view
    grade = page.locator("thead th.grade").bounding_box()
    assert grade["x"] + grade["width"] <= frame["right"] + 0.5  # the last column can be scrolled to
    assert grade["x"] >= before["x"] + before["width"] - 0.5  # ... and is not hidden under the student column
    assert problems == []


def test_the_histograms_show_counts_and_axes_under_the_policy(site, browser):
    from playwright.sync_api import expect

    page, problems = open_gradebook(browser, site, 1280, 900)
    chart = page.get_by_role("img", name="Final scores of digits-mlp", exact=False)
    expect(chart).to_be_visible()
    counts = [int(n) for n in chart.locator("text.count").all_text_contents()]
    bars = [int(n) for n in chart.locator("rect").evaluate_all("rs => rs.map(r => r.dataset.count)")]
    assert len(counts) == 10 and counts == bars and sum(counts) > 0  # a count written on each of the ten bins
    assert f": {sum(counts)} in all; " in chart.get_attribute("aria-label")  # and said to a screen reader
    labels = chart.locator("text").all_text_contents()
    assert "0–10" in labels and "90–100" in labels and "students" in labels
    box = chart.bounding_box()
    for text in chart.locator("text").all():  # every label inside the drawing, none cut at its edge
        inner = text.bounding_box()
        assert box["x"] - 0.5 <= inner["x"] and inner["x"] + inner["width"] <= box["x"] + box["width"] + 0.5
    assert problems == []
