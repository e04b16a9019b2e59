"""digits-mlp results stored before task kinds still rescore under today's rubric.

The kinds refactor kept every point (the stored scores); the rubric then moved the parameter budget's 10 points
to accuracy, since the parameter count is reported by the run and can be forged (a check now, never points).
"""

from __future__ import annotations

import json

import pytest

from grader.assignments import load_assignment
from grader.config import PROJECT_ROOT, load_settings
from grader.core.grading import Evaluation, grade

STORED = json.loads((PROJECT_ROOT / "tests/fixtures/stored/digits-mlp-before-task-kinds.json").read_text())
EVALUATION_FIELDS = ("outcome", "metrics", "student_message", "staff_detail", "log", "resources", "environment")


# name -> (score today, the reported parameter count the check shows)
TODAY = {"reference_torch.py": (100.0, 4810), "partial_credit.py": (41.27, 650)}


@pytest.mark.parametrize("name", sorted(STORED["results"]))
def test_a_stored_result_rescores_under_today_s_rubric(name):
    stored = STORED["results"][name]
    evaluation = Evaluation.from_json({field: stored[field] for field in EVALUATION_FIELDS})  # no curve back then
    rubric = load_assignment("digits-mlp", load_settings({})).rubric
    again = grade(evaluation, rubric, STORED["references"])
    score, parameters = TODAY[name]
    assert again.score == score and again.max_score == stored["max_score"] == 100
    then = {c["id"]: c for c in stored["criteria"]}
    for criterion in again.criteria:  # every criterion but accuracy gives what it gave then
        if criterion["id"] != "accuracy":
            assert (criterion["points"], criterion["feedback"]) == (
                then[criterion["id"]]["points"],
                then[criterion["id"]]["feedback"],
            )
    accuracy = next(c["points"] for c in again.criteria if c["id"] == "accuracy")
    assert accuracy == pytest.approx(then["accuracy"]["points"] * 70 / 60, abs=0.01)  # both rounded to 2 places
    assert [(c["id"], c["value"], c["flagged"]) for c in again.checks] == [("parameter-budget", parameters, False)]
    assert evaluation.curve == []
