"""The gradebook: its table and CSV as staff read them, and the data behind its charts."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from grader.db import transaction
from grader.models import Assignment, Role, StaffScore, State
from grader.services.gradebook import histogram, hourly_counts, hourly_labels
from grader.web.charts import histogram as histogram_chart
from tests.web.helpers import add_submission

UTC = dt.timezone.utc
DUE = dt.datetime(2025, 2, 13, 23, 59, tzinfo=UTC)


def test_histogram_bins_scores_and_puts_100_in_the_top_bin():
    assert histogram([0, 9.99, 10, 55, 100, 100, -1, 101]) == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]
    assert histogram([], bins=4) == [0, 0, 0, 0]


def test_hourly_counts_around_the_deadline_at_their_boundaries():
    moments = [
        DUE - dt.timedelta(hours=48),  # the first moment of the window: first bin
        DUE - dt.timedelta(hours=48, seconds=1),  # before the window: left out
        DUE - dt.timedelta(seconds=1),  # the last hour before the due date
        DUE,  # the due moment starts the first hour after it
        (DUE + dt.timedelta(hours=24)).replace(tzinfo=None),  # naive (SQLite): UTC; the window's end, left out
        DUE + dt.timedelta(hours=23, minutes=59),
    ]
    counts = hourly_counts(moments, DUE, before_hours=48, after_hours=24)
    assert len(counts) == 72 and sum(counts) == 4
    assert counts[0] == 1 and counts[47] == 1 and counts[48] == 1 and counts[71] == 1
    assert hourly_labels(2, 1) == ["-2 h to -1 h", "-1 h to +0 h", "+0 h to +1 h"]


def texts(chart: ET.Element, kind: str | None = None) -> list[str]:
    """The chart's words: all of them, or only the written counts ("count") or the y axis labels ("tick")."""
    return [t.text for t in chart.iter("text") if kind is None or t.get("class") == kind]


def bars_of(chart: ET.Element) -> list[tuple[int, float]]:
    """Each bar's count and drawn height."""
    return [(int(rect.get("data-count")), float(rect.get("height"))) for rect in chart.iter("rect")]


def test_a_histogram_stands_its_bars_on_a_count_axis_with_their_counts_written():
    chart = ET.fromstring(
        str(histogram_chart([0, 3, 6], [(0.5, "a"), (1.5, "b"), (2.5, "c")], label="L", x_title="X", y_title="Y"))
    )
    assert chart.get("role") == "img" and chart.find("title").text == chart.get("aria-label")
    heights = dict(bars_of(chart))
    assert heights[0] == 0 and heights[6] == pytest.approx(2 * heights[3])  # counts to heights, linearly
    assert texts(chart, "count") == ["0", "3", "6"]  # each bar's count, in order
    assert texts(chart, "tick") == ["0", "2", "4", "6"]  # a count axis from 0 to the tallest bar, whole numbers
    assert {"a", "b", "c", "X", "Y"} <= set(texts(chart))  # bin names and both axis titles
    assert chart.get("aria-label") == "L: 9 in all; 1: 3; 2: 6; every other bin 0"


def test_a_histogram_of_many_bins_or_of_nothing_still_reads():
    many = ET.fromstring(str(histogram_chart([1] * 72, [(0, "start")], label="L", x_title="X", y_title="Y")))
    assert len(bars_of(many)) == 72 and texts(many, "count") == [] and texts(many, "tick") == ["0", "1"]
    empty = ET.fromstring(str(histogram_chart([0, 0], [], label="Nothing yet", x_title="X", y_title="Y")))
    assert empty.get("aria-label") == "Nothing yet: none" and [h for _, h in bars_of(empty)] == [0, 0]
    assert str(histogram_chart([], [], label="L", x_title="X", y_title="Y")) == ""
    assert str(histogram_chart([1, -1], [], label="L", x_title="X", y_title="Y")) == ""  # counts are never negative


@pytest.fixture
def graded_course(app, accounts):
    """digits-mlp due DUE; ada scored 8/10 an hour before it, bob 5/10 on time, theory entered for ada."""
    ta = accounts.add("ta@example.org", Role.TA)
    ada = accounts.add("ada@example.org")
    bob = accounts.add("bob@example.org")
    with transaction(app.extensions["grader.sessions"]) as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == "digits-mlp")).one()
        row.policy, row.due_at = {"due_at": "2025-02-13T23:59:00"}, DUE
        session.add(StaffScore(user_id=ada, component="theory", score=90, entered_by_id=ta))
        session.add(StaffScore(user_id=ada, component="summaries", score=70, entered_by_id=ta))
        session.add(StaffScore(user_id=ada, component="project", score=60, entered_by_id=ta))
    for user, score in ((ada, 8.0), (bob, 5.0)):
        add_submission(app, user, State.SCORED, created_at=DUE - dt.timedelta(minutes=30), score=score, max_score=10.0)
    return {"ta": ta, "ada": ada, "bob": bob}


def gradebook_rows(html: str) -> dict[str, list[str]]:
    """Each student's row as the text of its cells, by email."""
    return {
        email: [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", body, re.S)]
        for email, body in re.findall(r'<tr data-student="([^"]+)">(.*?)</tr>', html, re.S)
    }


def column_keys(html: str) -> list[str]:
    """The columns' short names (assignment slugs, component ids) in order, each a slug abbreviating its title."""
    return re.findall(r'<abbr title="[^"]+">([^<]+)</abbr>', html.split("</thead>")[0])


def test_the_gradebook_has_a_row_per_student_and_a_column_per_assignment_and_component(
    app, client, auth, graded_course
):
    auth.login("ta@example.org")
    page = client.get("/staff/gradebook")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = gradebook_rows(html)
    assert set(rows) == {"ada@example.org", "bob@example.org"}  # students only, not the TA
    keys = column_keys(html)
    assert keys == ["digits-mlp", "theory", "practice", "summaries", "project", "homework"]
    assert '<abbr title="Digits with an MLP">digits-mlp</abbr>' in html
    ada = dict(zip(["student", *keys, "grade"], rows["ada@example.org"], strict=True))
    assert ada["digits-mlp"] == "80" and ada["theory"] == "90"
    assert ada["grade"] == "70.4final"  # 0.3 x 90 + 0.7 x (0.2 x 70 + 0.8 x 60) = 70.4
    bars = re.findall(r'<rect [^>]*data-count="(\d+)"', html)
    assert len(bars) == 10 + 72  # the score histogram and the hours around the deadline
    histogram_counts = [int(n) for n in bars[:10]]
    assert histogram_counts[5] == 1 and histogram_counts[8] == 1  # 50% and 80%
    assert [int(n) for n in bars[10:]][47] == 2  # both uploads came in the last hour before the due date
    assert "<script" not in html.split("<main>")[1].split("</main>")[0]  # charts are inline SVG, no script


def test_the_course_grade_is_one_column_saying_final_or_provisional(app, client, auth, graded_course):
    """Final and provisional are the same number once nothing is missing: one column, its status, what is missing."""
    auth.login("ta@example.org")
    html = client.get("/staff/gradebook").get_data(as_text=True)
    head = html.split("</thead>")[0]
    assert "Course grade" in head and ">Final<" not in head and ">Provisional<" not in head
    keys = column_keys(html)
    rows = {
        email: dict(zip(["student", *keys, "grade"], cells, strict=True))
        for email, cells in gradebook_rows(html).items()
    }
    assert rows["ada@example.org"]["grade"] == "70.4final"
    assert list(rows["ada@example.org"].values()).count("70.4final") == 1  # shown once, not twice
    bob = rows["bob@example.org"]
    assert bob["grade"] == "0provisional"  # nothing of the counted components yet: 0 of 100 points secured
    assert [key for key in keys if bob[key] == "missing"] == ["theory", "summaries", "project"]
    assert bob["practice"] == "" and bob["homework"] == "50"  # a parent waits for its parts; homework counts 0
    legend = html.split('class="gradebook-legend"')[1].split("</p>")[0]
    assert "final = 0.3 × theory" in legend and "missing components counting 0" in legend


def test_the_score_histogram_writes_its_counts_and_names_its_bins_and_axes(app, client, auth, graded_course):
    auth.login("ta@example.org")
    html = client.get("/staff/gradebook").get_data(as_text=True)
    charts = [ET.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", html, re.S)]
    scores = next(c for c in charts if c.get("aria-label").startswith("Final scores of digits-mlp"))
    assert texts(scores, "count") == ["0", "0", "0", "0", "0", "1", "0", "0", "1", "0"]  # bob 50%, ada 80%
    assert texts(scores, "tick") == ["0", "1"]
    words = texts(scores)
    assert [f"{low}–{low + 10}" for low in range(0, 100, 10)] == [w for w in words if "–" in w]
    assert "final score (% of the points)" in words and "students" in words
    assert scores.get("aria-label").endswith(": 2 in all; 50–60%: 1; 80–90%: 1; every other bin 0")
    uploads = next(c for c in charts if c.get("aria-label").startswith("Uploads per hour"))
    assert {"-48 h", "0", "+24 h", "due date", "hours from the due date", "uploads"} <= set(texts(uploads))
    assert "-1 h to +0 h: 2" in uploads.get("aria-label")


def test_the_gradebook_csv_has_named_columns_and_one_row_per_student(app, client, auth, graded_course):
    auth.login("ta@example.org")
    response = client.get("/staff/gradebook.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["email"] for r in rows] == ["ada@example.org", "bob@example.org"]
    ada, bob = rows
    assert ada["digits-mlp (%)"] == "80" and ada["theory"] == "90" and ada["final"] == "70.4"
    assert bob["digits-mlp (%)"] == "50" and bob["theory"] == "" and bob["final"] == ""
    assert bob["missing"] == "theory summaries project"
    assert (ada["status"], bob["status"]) == ("final", "provisional")  # the last column, after the stable ones
    assert list(ada)[-4:] == ["final", "provisional", "missing", "status"] and ada["provisional"] == "70.4"


def test_the_gradebook_is_for_staff_only(app, client, accounts, auth):
    accounts.add("ada@example.org")
    assert client.get("/staff/gradebook").status_code == 302
    auth.login("ada@example.org")
    assert client.get("/staff/gradebook").status_code == 403
    assert client.get("/staff/gradebook.csv").status_code == 403


def test_a_broken_course_file_is_named_to_staff_instead_of_a_crash(app, client, accounts, auth, tmp_path, settings):
    """The course file here is a copy with a weight typo: staff read the file, the field and the sum."""
    rubrics = tmp_path / "broken-rubrics"
    rubrics.mkdir()
    text = (settings.rubrics_dir / "course.yaml").read_text().replace("weight: 30", "weight: 35")
    (rubrics / "course.yaml").write_text(text)
    app.config["GRADER_SETTINGS"] = dataclasses.replace(settings, rubrics_dir=rubrics)
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")
    page = client.get("/staff/gradebook")
    assert page.status_code == 503
    assert "add up to 105" in page.get_data(as_text=True)
    assert client.get("/staff/gradebook.csv").status_code == 503
