"""digits-mlp results stored before task kinds rescore to the same points under the kind-checked rubric."""

from __future__ import annotations

import json

import pytest

from grader.assignments import load_assignment
from grader.config import PROJECT_ROOT, load_settings
from grader.core.grading import Evaluation, grade

STORED = json.loads((PROJECT_ROOT / "tests/fixtures/stored/digits-mlp-before-task-kinds.json").read_text())
EVALUATION_FIELDS = ("outcome", "metrics", "student_message", "staff_detail", "log", "resources", "environment")


@pytest.mark.parametrize("name", sorted(STORED["results"]))
def test_a_stored_result_rescores_to_the_same_points(name):
    stored = STORED["results"][name]
    evaluation = Evaluation.from_json({field: stored[field] for field in EVALUATION_FIELDS})  # no curve back then
    rubric = load_assignment("digits-mlp", load_settings({})).rubric
    again = grade(evaluation, rubric, STORED["references"])
    assert again.score == stored["score"] and again.max_score == stored["max_score"]
    assert [(c["id"], c["points"], c["feedback"]) for c in again.criteria] == [
        (c["id"], c["points"], c["feedback"]) for c in stored["criteria"]
    ]
    assert evaluation.curve == []
