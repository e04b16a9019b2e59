"""The gradebook: its table and CSV as staff read them, and the data behind its charts."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

from grader.db import transaction
from grader.models import Assignment, Role, StaffScore, State
from grader.services.gradebook import bar_chart, histogram, hourly_counts, hourly_labels
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


def test_bar_chart_maps_the_largest_count_to_the_full_height():
    bars = bar_chart([0, 5, 10], ["a", "b", "c"], width=300, height=100)
    assert [b.height for b in bars] == [0, 50, 100]
    assert [b.y for b in bars] == [100, 50, 0]  # SVG's y grows downwards: bars stand on the baseline
    assert [b.x for b in bars] == [1, 101, 201] and all(b.width == 98 for b in bars)
    assert [b.height for b in bar_chart([0, 0], ["a", "b"])] == [0, 0]
    with pytest.raises(ValueError, match="2 counts but 1 labels"):
        bar_chart([1, 2], ["a"])


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


def test_the_gradebook_has_a_row_per_student_and_a_column_per_assignment_and_component(
    app, client, auth, graded_course
):
    auth.login("ta@example.org")
    page = client.get("/staff/gradebook")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = {
        email: re.sub(r"<[^>]+>", "|", body)
        for email, body in re.findall(r'<tr data-student="([^"]+)">(.*?)</tr>', html, re.S)
    }
    assert set(rows) == {"ada@example.org", "bob@example.org"}  # students only, not the TA
    for key in ("digits-mlp", "theory", "practice", "summaries", "project", "homework"):
        assert f">{key}" in html
    # 0.3 x 90 + 0.7 x (0.2 x 70 + 0.8 x 60) = 70.4
    assert "70.4" in rows["ada@example.org"] and "80" in rows["ada@example.org"]
    assert "missing theory, summaries, project" in rows["bob@example.org"]
    bars = re.findall(r'<rect [^>]*data-count="(\d+)"', html)
    assert len(bars) == 10 + 72  # the score histogram and the hours around the deadline
    histogram_counts = [int(n) for n in bars[:10]]
    assert histogram_counts[5] == 1 and histogram_counts[8] == 1  # 50% and 80%
    assert [int(n) for n in bars[10:]][47] == 2  # both uploads came in the last hour before the due date
    assert "<script" not in html.split("<main>")[1].split("</main>")[0]  # charts are inline SVG, no script


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
