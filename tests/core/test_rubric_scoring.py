"""Scoring a submission's metrics against a rubric and the reference results."""

import dataclasses

import pytest

from grader.core.errors import SpecError
from grader.core.kinds.classification import CLASSIFICATION
from grader.core.rubric import parse_rubric, score_rubric
from grader.core.rubric.spec import Metric

# These tests score the parameter count as a lower-is-better count grader measured itself. The real one is
# reported by the run, so real rubrics may only check it (see the tests of reported metrics below).
METRICS = {
    **CLASSIFICATION.metrics,
    "parameters": dataclasses.replace(CLASSIFICATION.metrics["parameters"], reported=False),
}

SOURCE = "rubrics/digits-mlp.yaml"
REFERENCES = {
    "keras": {"accuracy": 0.97, "macro_f1": 0.97, "parameters": 4810},
    "torch": {"accuracy": 0.974, "macro_f1": 0.96, "parameters": 9000},
}


def rubric(*criteria: dict):
    """Parse a rubric made of the given criteria (id, title and points filled in)."""
    items = [{"id": f"c{i}", "title": f"Criterion {i}", "points": 10, **c} for i, c in enumerate(criteria)]
    return parse_rubric({"assignment": "digits-mlp", "criteria": items}, SOURCE, METRICS)


def feedback(criterion: dict, metrics: dict, references=REFERENCES) -> tuple[float, str]:
    result = score_rubric(rubric(criterion), metrics, references).criteria[0]
    return result.points, result.feedback


def test_full_example_from_the_course():
    spec = rubric(
        {
            "metric": "accuracy",
            "points": 60,
            "policy": "linear",
            "zero_at": 0.5,
            "full_at": {"relative_to": "best", "ratio": 0.98},
        },
        {
            "metric": "accuracy",
            "points": 20,
            "policy": "threshold",
            "at_least": {"relative_to": "keras", "ratio": 0.97},
        },
        {
            "metric": "macro_f1",
            "policy": "bands",
            "bands": [{"at_least": 0.95, "points": 10}, {"at_least": 0.9, "points": 7}],
        },
        {"metric": "parameters", "policy": "threshold", "at_most": 50000},
    )
    result = score_rubric(spec, {"accuracy": 0.731, "macro_f1": 0.92, "parameters": 48120}, REFERENCES)
    assert [c.points for c in result.criteria] == [30.49, 0.0, 7.0, 10.0]
    assert result.score == 47.49
    assert result.max_score == 100
    assert result.criteria[0].feedback == (
        "Accuracy 0.731 is between 0.500 (no points) and 0.955 (full points; 98% of the best reference, 0.974): 30.49/60."
    )
    assert (
        result.as_dict()["criteria"][3]["feedback"]
        == "Parameter count 48,120 meets the requirement of at most 50,000: 10/10."
    )


def test_full_marks_feedback_names_value_level_and_origin():
    criterion = {
        "metric": "accuracy",
        "points": 60,
        "policy": "linear",
        "zero_at": 0.5,
        "full_at": {"relative_to": "best", "ratio": 0.98},
    }
    assert feedback(criterion, {"accuracy": 0.962}) == (
        60,
        "Accuracy 0.962 reached the full-marks level 0.955 (98% of the best reference, 0.974): 60/60.",
    )


@pytest.mark.parametrize(
    ("relative_to", "level", "origin"),
    [
        ("keras", 0.97, "the Keras reference, 0.970"),
        ("torch", 0.974, "the PyTorch reference, 0.974"),
        ("best", 0.974, "the best reference, 0.974"),
    ],
)
def test_relative_thresholds_for_higher_is_better(relative_to, level, origin):
    criterion = {"metric": "accuracy", "policy": "threshold", "at_least": {"relative_to": relative_to, "ratio": 1.0}}
    assert feedback(criterion, {"accuracy": level})[0] == 10
    assert feedback(criterion, {"accuracy": level - 0.001})[0] == 0
    assert feedback(criterion, {"accuracy": level})[1].endswith(f"at least {level:.3f} (100% of {origin}): 10/10.")


def test_best_for_parameters_is_the_smaller_reference():
    criterion = {"metric": "parameters", "policy": "threshold", "at_most": {"relative_to": "best", "ratio": 2}}
    assert feedback(criterion, {"parameters": 9620}) == (
        10,
        "Parameter count 9,620 meets the requirement of at most 9,620 (200% of the best reference, 4,810): 10/10.",
    )
    assert feedback(criterion, {"parameters": 9621})[0] == 0


def test_best_for_macro_f1_is_the_larger_reference():
    criterion = {"metric": "macro_f1", "policy": "threshold", "at_least": {"relative_to": "best", "ratio": 0.5}}
    assert feedback(criterion, {"macro_f1": 0.485})[0] == 10
    assert feedback(criterion, {"macro_f1": 0.484})[0] == 0


def test_relative_linear_rising_points_are_rounded_to_two_decimals():
    criterion = {
        "metric": "accuracy",
        "points": 7,
        "policy": "linear",
        "zero_at": 0,
        "full_at": {"relative_to": "torch", "ratio": 1},
    }
    points, text = feedback(criterion, {"accuracy": 0.5})
    assert points == round(7 * 0.5 / 0.974, 2) == 3.59
    assert text.endswith(": 3.59/7.")


def test_only_the_references_used_are_required():
    criterion = {"metric": "accuracy", "policy": "threshold", "at_least": {"relative_to": "keras", "ratio": 1}}
    assert feedback(criterion, {"accuracy": 0.99}, {"keras": {"accuracy": 0.9}})[0] == 10
    assert feedback({"metric": "accuracy", "policy": "threshold", "at_least": 0.9}, {"accuracy": 0.95}, {})[0] == 10


def staff_error(criterion: dict, metrics: dict, references) -> SpecError:
    with pytest.raises(SpecError) as caught:
        score_rubric(rubric(criterion), metrics, references)
    return caught.value


def test_missing_metric_is_a_staff_error():
    error = staff_error(
        {"metric": "macro_f1", "policy": "threshold", "at_least": 0.9}, {"accuracy": 0.9, "parameters": 10}, REFERENCES
    )
    assert (
        str(error)
        == f"{SOURCE}: criteria[0].metric: the submission's results have no macro_f1 (they have: accuracy, parameters)"
    )


def test_non_finite_metric_is_a_staff_error():
    error = staff_error(
        {"metric": "accuracy", "policy": "threshold", "at_least": 0.9}, {"accuracy": float("nan")}, REFERENCES
    )
    assert "the submission's results have accuracy = nan, which is not a finite number" in str(error)


def test_missing_reference_is_a_staff_error():
    criterion = {"metric": "accuracy", "policy": "threshold", "at_least": {"relative_to": "best", "ratio": 1}}
    error = staff_error(criterion, {"accuracy": 0.9}, {"keras": REFERENCES["keras"]})
    assert (
        str(error)
        == f"{SOURCE}: criteria[0].at_least: needs the torch reference results for accuracy, but none were given (given: keras)"
    )


def test_reference_missing_the_metric_is_a_staff_error():
    criterion = {
        "metric": "parameters",
        "policy": "linear",
        "zero_at": 100000,
        "full_at": {"relative_to": "keras", "ratio": 1},
    }
    error = staff_error(criterion, {"parameters": 5000}, {"keras": {"accuracy": 0.9}})
    assert (
        str(error)
        == f"{SOURCE}: criteria[0].full_at: the keras reference results have no parameters (they have: accuracy)"
    )


def test_numpy_numbers_are_accepted():
    import numpy as np

    criterion = {"metric": "parameters", "policy": "threshold", "at_most": 50000}
    assert feedback(criterion, {"parameters": np.int64(4000)})[0] == 10


def test_metric_with_a_non_numeric_value_is_a_staff_error():
    error = staff_error(
        {"metric": "parameters", "policy": "threshold", "at_most": 10},
        {"accuracy": 0.9, "parameters": "many"},
        REFERENCES,
    )
    assert (
        str(error)
        == f"{SOURCE}: criteria[0].metric: the submission's results have parameters = 'many', which is not a finite number"
    )


def test_a_metric_the_run_could_not_measure_gives_no_points_and_says_so():
    points, text = feedback({"metric": "parameters", "policy": "threshold", "at_most": 50000}, {"parameters": None})
    assert points == 0
    assert text == "Parameter count could not be measured for this submission: 0/10."


def test_lower_is_better_linear_relative_to_the_best_reference():
    # full marks at no more than 1.1 times the smaller reference (4,810), none from 20,000 up
    criterion = {
        "metric": "parameters",
        "policy": "linear",
        "zero_at": 20000,
        "full_at": {"relative_to": "best", "ratio": 1.1},
    }
    assert feedback(criterion, {"parameters": 5291})[0] == 10
    assert feedback(criterion, {"parameters": 20000})[0] == 0
    points, text = feedback(criterion, {"parameters": 12645.5})
    assert points == 5
    assert text == (
        "Parameter count 12,646 is between 20,000 (no points) and 5,291 (full points; 110% of the best reference, "
        "4,810): 5/10."
    )


def test_levels_that_resolve_the_wrong_way_are_a_staff_error_not_a_reward():
    # the references are so large that 1.1 x best lies above zero_at: more parameters would earn more
    criterion = {
        "metric": "parameters",
        "policy": "linear",
        "zero_at": 5000,
        "full_at": {"relative_to": "best", "ratio": 1.1},
    }
    error = staff_error(criterion, {"parameters": 5200}, REFERENCES)
    assert str(error) == (
        f"{SOURCE}: criteria[0].full_at: full_at must be lower than zero_at, since parameter count is better when "
        "lower; here full_at is 5,291 (110% of the best reference, 4,810) and zero_at 5,000"
    )


def test_fraction_of_the_way_from_the_runs_own_random_baseline_to_the_best_reference():
    metrics = {"mean_return": Metric("mean_return", "Mean return", True, "{:.1f}", baseline="random")}
    spec = parse_rubric(
        {
            "assignment": "cartpole",
            "criteria": [
                {
                    "id": "ret",
                    "title": "Mean return",
                    "metric": "mean_return",
                    "points": 10,
                    "policy": "linear",
                    "zero_at": {"relative_to": "best", "fraction": 0},
                    "full_at": {"relative_to": "best", "fraction": 0.9},
                }
            ],
        },
        "rubrics/cartpole.yaml",
        metrics,
    )
    references = {"keras": {"mean_return": 480.0}, "torch": {"mean_return": 500.0}}
    run = {"mean_return": 214.0, "baselines": {"random": {"mean_return": -20.0}}}
    result = score_rubric(spec, run, references).criteria[0]
    # full at -20 + 0.9 * (500 - -20) = 448; 214 is half way from -20 to 448
    assert result.points == 5
    assert result.feedback == (
        "Mean return 214.0 is between -20.0 (no points; 0% of the way from the random baseline, -20.0, to the best "
        "reference, 500.0) and 448.0 (full points; 90% of the way from the random baseline, -20.0, to the best "
        "reference, 500.0): 5/10."
    )
    with pytest.raises(SpecError, match="the submission's results have no random baseline for mean_return"):
        score_rubric(spec, {"mean_return": 214.0}, references)


def checked(value: object, bound: str = "at_most"):
    """Score a rubric of one accuracy criterion and one check of the reported parameter count."""
    data = {
        "assignment": "digits-mlp",
        "criteria": [{"id": "acc", "title": "Accuracy", "metric": "accuracy", "points": 10, "policy": "threshold",
                      "at_least": 0.9}],
        "checks": [{"id": "size", "title": "Parameter budget", "metric": "parameters", bound: 50000}],
    }  # fmt: skip
    spec = parse_rubric(data, SOURCE, CLASSIFICATION.metrics)
    return score_rubric(spec, {"accuracy": 0.95, "parameters": value}, REFERENCES)


def test_a_forged_parameter_count_earns_nothing_and_an_honest_one_over_budget_is_flagged():
    forged = checked(1)  # what an atexit hook wrote over a 331,530-parameter model's report
    honest = checked(331530)
    assert forged.score == honest.score == forged.max_score == 10  # the claim moves no points either way
    assert not forged.checks[0].flagged and honest.checks[0].flagged
    assert honest.checks[0].feedback == (
        "Parameter count 331,530 as reported by your run (at most 50,000): outside the limit. "
        "Not scored: your run reports this itself, so staff check it and may adjust your score."
    )


def test_a_check_the_run_did_not_report_is_flagged():
    for value in (None, "many", float("nan"), True):
        result = checked(value).checks[0]
        assert result.flagged and result.value is None
        assert result.feedback.startswith("Parameter count was not reported by your run (limit: at most 50,000).")
