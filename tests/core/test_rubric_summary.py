"""The rubric as students read it before submitting: each criterion's rule and points, relative levels in words."""

from __future__ import annotations

from grader.core.kinds.classification import CLASSIFICATION
from grader.core.rubric import parse_rubric
from grader.core.rubric.summary import summarise_rubric

RUBRIC = {
    "assignment": "digits-mlp",
    "criteria": [
        {
            "id": "accuracy",
            "title": "Test accuracy",
            "metric": "accuracy",
            "points": 70,
            "policy": "linear",
            "zero_at": 0.5,
            "full_at": {"relative_to": "best", "ratio": 0.95},
        },
        {
            "id": "keras",
            "title": "Matches Keras",
            "metric": "accuracy",
            "points": 10,
            "policy": "threshold",
            "at_least": {"relative_to": "keras", "ratio": 0.97},
        },
        {
            "id": "balanced",
            "title": "Balanced",
            "metric": "macro_f1",
            "points": 20,
            "policy": "bands",
            "bands": [{"at_least": 0.8, "points": 8}, {"at_least": 0.95, "points": 20}],
        },
    ],
    "checks": [{"id": "budget", "title": "Parameter budget", "metric": "parameters", "at_most": 50000}],
}


def summary(references=None):
    return summarise_rubric(parse_rubric(RUBRIC, "rubric.yaml", CLASSIFICATION.metrics), references)


def test_each_criterion_says_how_its_points_are_earned_relative_levels_included():
    lines = summary().lines
    assert [(line.title, line.points) for line in lines] == [
        ("Test accuracy", 70),
        ("Matches Keras", 10),
        ("Balanced", 20),
        ("Parameter budget", None),
    ]
    assert lines[0].rule == (
        "All 70 points for accuracy at 95% of the best reference (the better of the Keras and PyTorch ones) "
        "or above; none at 0.500 or below; in proportion between."
    )
    assert lines[1].rule == "Accuracy at least 97% of the Keras reference: all 10 points, otherwise none."
    assert lines[2].rule.startswith("20 points for macro F1 at least 0.950; 8 points for macro F1 at least 0.800")
    assert "Not scored" in lines[3].rule and "50,000" in lines[3].rule
    assert summary().max_points == 100


def test_todays_reference_values_are_shown_once_measured():
    references = {"keras": {"accuracy": 0.96}, "torch": {"accuracy": 0.98}}
    lines = summary(references).lines
    assert "95% of the best reference (the better of the Keras and PyTorch ones) (now 0.931)" in lines[0].rule
    assert "97% of the Keras reference (now 0.931)" in lines[1].rule
