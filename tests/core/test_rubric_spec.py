"""Rubric files: the example, the references they need, and every kind of mistake."""

import copy
import dataclasses

import pytest
import yaml

from grader.core.errors import SpecError
from grader.core.kinds.classification import CLASSIFICATION
from grader.core.rubric import POLICIES, parse_rubric
from grader.core.rubric.policies import Absolute, Bands, Linear, Relative, Threshold
from grader.core.rubric.spec import Metric

# These tests score the parameter count as a lower-is-better count grader measured itself. The real one is
# reported by the run, so real rubrics may only check it (see the tests of reported metrics below).
METRICS = {
    **CLASSIFICATION.metrics,
    "parameters": dataclasses.replace(CLASSIFICATION.metrics["parameters"], reported=False),
}

SOURCE = "rubrics/digits-mlp.yaml"
EXAMPLE = yaml.safe_load(
    """
assignment: digits-mlp
criteria:
  - id: accuracy
    title: Test accuracy
    metric: accuracy
    points: 60
    policy: linear
    zero_at: 0.5
    full_at: {relative_to: best, ratio: 0.98}
  - id: matches-keras
    title: Matches the Keras reference
    metric: accuracy
    points: 20
    policy: threshold
    at_least: {relative_to: keras, ratio: 0.97}
  - id: macro-f1
    title: Balanced across classes
    metric: macro_f1
    points: 10
    policy: bands
    bands:
      - {at_least: 0.95, points: 10}
      - {at_least: 0.90, points: 7}
      - {at_least: 0.80, points: 4}
  - id: size
    title: Parameter budget
    metric: parameters
    points: 10
    policy: threshold
    at_most: 50000
"""
)


def with_criterion(index: int, yaml_text: str, drop: tuple[str, ...] = ()) -> dict:
    """Return the example with one criterion's keys dropped and a YAML fragment merged in."""
    data = copy.deepcopy(EXAMPLE)
    for key in drop:
        del data["criteria"][index][key]
    data["criteria"][index].update(yaml.safe_load(yaml_text) or {})
    return data


def error(data: object) -> str:
    with pytest.raises(SpecError) as caught:
        parse_rubric(data, SOURCE, METRICS)
    return str(caught.value)


def test_example_parses_into_registered_policies():
    rubric = parse_rubric(EXAMPLE, SOURCE, METRICS)
    assert rubric.assignment == "digits-mlp"
    assert [c.id for c in rubric.criteria] == ["accuracy", "matches-keras", "macro-f1", "size"]
    assert rubric.max_points == 100
    linear, threshold, bands, size = (c.policy for c in rubric.criteria)
    assert linear == Linear(Absolute(0.5), Relative("best", 0.98))
    assert (
        isinstance(threshold, Threshold)
        and threshold.bound.at_least
        and threshold.bound.level == Relative("keras", 0.97)
    )
    assert isinstance(bands, Bands) and [band.points for band in bands.bands] == [10, 7, 4]
    assert not size.bound.at_least and size.bound.level == Absolute(50000)


def test_policies_are_registered_by_name():
    assert POLICIES == {"threshold": Threshold, "linear": Linear, "bands": Bands}


def test_levels_remember_where_they_were_written():
    linear = parse_rubric(EXAMPLE, SOURCE, METRICS).criteria[0].policy
    assert linear.full_at.field == "criteria[0].full_at"


def test_references_needed():
    assert parse_rubric(EXAMPLE, SOURCE, METRICS).references_needed() == {"keras", "torch"}
    only_keras = copy.deepcopy(EXAMPLE)
    del only_keras["criteria"][0]
    assert parse_rubric(only_keras, SOURCE, METRICS).references_needed() == {"keras"}
    absolute = with_criterion(1, "at_least: 0.9")
    del absolute["criteria"][0]
    assert parse_rubric(absolute, SOURCE, METRICS).references_needed() == set()


@pytest.mark.parametrize(
    ("index", "change", "expected"),
    [
        (0, "policy: sigmoid", 'criteria[0].policy: expected one of threshold, linear, bands, got "sigmoid"'),
        (
            0,
            "metric: precision",
            'criteria[0].metric: expected one of accuracy, macro_f1, train_accuracy, generalization_gap, parameters, got "precision"',
        ),
        (0, "points: 0", "criteria[0].points: expected a number > 0, got 0"),
        (0, "points: yes", "criteria[0].points: expected a number > 0, got true (a yes/no value)"),
        (0, "id: Test Accuracy", "criteria[0].id: expected a name made of lowercase letters and digits"),
        (1, "id: accuracy", 'criteria[1].id: "accuracy" is already the id of criteria[0]; ids must be unique'),
        (
            0,
            "zero_at: {relative_to: best, ratio: 0.98}",
            "criteria[0]: zero_at and full_at are the same level; they must differ",
        ),
        (0, "full_at: 0.5", "criteria[0]: zero_at and full_at are the same level; they must differ"),
        (
            0,
            "full_at: high",
            'criteria[0].full_at: expected a number or {relative_to: keras|torch|best, ratio: a number > 0}, got "high"',
        ),
        (
            0,
            "full_at: {relative_to: sklearn, ratio: 1}",
            'criteria[0].full_at.relative_to: expected one of keras, torch, best, got "sklearn"',
        ),
        (0, "full_at: {relative_to: best, ratio: 0}", "criteria[0].full_at.ratio: expected a number > 0, got 0"),
        (
            0,
            "full_at: {relative_to: best}",
            "criteria[0].full_at: needs exactly one of ratio (of the reference result) or fraction (of the way to it)",
        ),
        (
            0,
            "full_at: {relative_to: best, ratio: 1, of: x}",
            'criteria[0].full_at: unknown key "of"; allowed keys: fraction, ratio, relative_to',
        ),
        (
            0,
            "at_least: 0.9",
            'criteria[0]: unknown key "at_least"; allowed keys for a linear criterion: full_at, id, metric, points, policy, title, zero_at',
        ),
        (1, "at_most: 0.99", "criteria[1]: needs exactly one of at_least or at_most, not both"),
        (1, "at_leats: 0.9", 'criteria[1]: unknown key "at_leats" (did you mean "at_least"?)'),
        (2, "bands: []", "criteria[2].bands: expected a non-empty list, got a list"),
        (
            2,
            "bands: [{at_least: 0.9, points: 11}]",
            "criteria[2].bands[0].points: expected a number from 0 to 10 (the criterion's points), got 11",
        ),
        (2, "bands: [{at_least: 0.9, points: -1}]", "criteria[2].bands[0].points: expected a number from 0 to 10"),
        (2, "bands: [{points: 5}]", "criteria[2].bands[0]: needs exactly one of at_least or at_most"),
        (2, "bands: [0.9]", "criteria[2].bands[0]: expected a mapping (key: value lines), got 0.9"),
    ],
)
def test_mistakes_name_the_file_the_field_and_the_expectation(index, change, expected):
    assert error(with_criterion(index, change)).startswith(f"{SOURCE}: {expected}")


def test_missing_linear_level():
    assert error(with_criterion(0, "", drop=("zero_at",))).startswith(
        f"{SOURCE}: criteria[0].zero_at: missing; expected a number or"
    )


def test_threshold_needs_a_level():
    assert (
        error(with_criterion(3, "", drop=("at_most",)))
        == f"{SOURCE}: criteria[3]: needs exactly one of at_least or at_most"
    )


@pytest.mark.parametrize("key", ["id", "title", "metric", "points", "policy"])
def test_criterion_keys_are_required(key):
    assert error(with_criterion(1, "", drop=(key,))).startswith(f"{SOURCE}: criteria[1].{key}: missing; expected ")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, "expected a mapping (key: value lines), got nothing"),
        ({"assignment": "digits-mlp"}, "criteria: missing; expected a non-empty list"),
        ({"assignment": "digits-mlp", "criteria": {"id": "x"}}, "criteria: expected a non-empty list, got a mapping"),
        (
            {"assignment": "digits-mlp", "criteria": ["x"]},
            'criteria[0]: expected a mapping (key: value lines), got "x"',
        ),
        ({"criteria": EXAMPLE["criteria"]}, "assignment: missing; expected a name made of"),
        ({**EXAMPLE, "weight": 1}, 'unknown key "weight"; allowed keys: assignment, checks, criteria'),
    ],
)
def test_rubric_level_mistakes(data, expected):
    assert error(data).startswith(f"{SOURCE}: {expected}")


def test_a_metric_without_a_meaningful_reference_refuses_relative_thresholds():
    data = {
        "assignment": "digits-overfit",
        "criteria": [
            {
                "id": "gap",
                "title": "Generalization",
                "metric": "generalization_gap",
                "points": 10,
                "policy": "threshold",
                "at_most": {"relative_to": "best", "ratio": 1.5},
            }
        ],
    }
    with pytest.raises(SpecError) as caught:
        parse_rubric(data, SOURCE, METRICS)
    assert str(caught.value) == (
        f"{SOURCE}: criteria[0].at_most: generalization_gap cannot be relative to a reference result "
        "(generalization gap is compared with fixed numbers only); write a number instead"
    )


def test_metrics_are_those_of_the_kind_given():
    only_accuracy = {"accuracy": METRICS["accuracy"]}
    with pytest.raises(SpecError, match=r"criteria\[2\].metric: expected one of accuracy, got \"macro_f1\""):
        parse_rubric(EXAMPLE, SOURCE, only_accuracy)


# direction: a rubric never rewards a worse value of its metric

LOWER = {"perplexity": Metric("perplexity", "Perplexity", False, "{:.2f}")}


def lower_rubric(criterion: dict) -> dict:
    return {
        "assignment": "char-lm",
        "criteria": [{"id": "ppl", "title": "Perplexity", "metric": "perplexity", "points": 10, **criterion}],
    }


@pytest.mark.parametrize(
    ("criterion", "message"),
    [
        (
            {"policy": "threshold", "at_least": 5},
            "criteria[0].at_least: perplexity is better when lower, so at least would reward worse results; write at_most",
        ),
        (
            {"policy": "bands", "bands": [{"at_most": 5, "points": 10}, {"at_least": 9, "points": 5}]},
            "criteria[0].bands[1].at_least: perplexity is better when lower",
        ),
        (
            {"policy": "linear", "zero_at": 4, "full_at": 9},
            "criteria[0].full_at: full_at must be lower than zero_at, since perplexity is better when lower; here full_at is 9 and zero_at 4",
        ),
        (
            {
                "policy": "linear",
                "zero_at": {"relative_to": "best", "ratio": 1.1},
                "full_at": {"relative_to": "best", "ratio": 2},
            },
            "criteria[0].full_at: full_at must be lower than zero_at, since perplexity is better when lower; here full_at is ratio 2 and zero_at ratio 1.1",
        ),
    ],
)
def test_levels_that_reward_worse_results_are_refused(criterion, message):
    with pytest.raises(SpecError) as caught:
        parse_rubric(lower_rubric(criterion), "rubrics/char-lm.yaml", LOWER)
    assert message in str(caught.value)


def test_lower_is_better_rubric_relative_to_the_best_reference_parses():
    rubric = parse_rubric(
        lower_rubric({"policy": "linear", "zero_at": 12, "full_at": {"relative_to": "best", "ratio": 1.1}}),
        "rubrics/char-lm.yaml",
        LOWER,
    )
    assert rubric.references_needed() == {"keras", "torch"}


RETURNS = {"mean_return": Metric("mean_return", "Mean return", True, "{:.1f}", baseline="random")}


def returns_rubric(level: dict) -> dict:
    criterion = {"id": "ret", "title": "Return", "metric": "mean_return", "points": 10, "policy": "threshold"}
    return {"assignment": "cartpole", "criteria": [{**criterion, "at_least": level}]}


def test_a_ratio_of_returns_is_refused_with_the_fraction_to_write_instead():
    with pytest.raises(SpecError) as caught:
        parse_rubric(returns_rubric({"relative_to": "best", "ratio": 0.9}), "rubrics/cartpole.yaml", RETURNS)
    assert str(caught.value) == (
        "rubrics/cartpole.yaml: criteria[0].at_least: mean_return can be negative, so a ratio of a reference result "
        "means nothing; write {relative_to: best, fraction: 0.9} (90% of the way from the random baseline to the "
        "reference) or a number"
    )


def test_a_fraction_of_the_way_needs_a_metric_with_a_baseline():
    with pytest.raises(SpecError) as caught:
        parse_rubric(
            lower_rubric({"policy": "threshold", "at_most": {"relative_to": "keras", "fraction": 0.5}}), "r.yaml", LOWER
        )
    assert (
        "perplexity has no baseline to measure a fraction of the way from; write {relative_to: keras, ratio: 0.5}"
        in str(caught.value)
    )


def test_a_fraction_of_the_way_from_the_baseline_parses_and_needs_the_references():
    rubric = parse_rubric(returns_rubric({"relative_to": "torch", "fraction": 0.9}), "rubrics/cartpole.yaml", RETURNS)
    assert rubric.references_needed() == {"torch"}


# Reported metrics: the parameter count is counted inside the sandbox, where the student's code can rewrite
# the report (an atexit hook claimed 1 parameter for a 331,530-parameter model), so it never earns points.
REAL_METRICS = CLASSIFICATION.metrics


def test_a_criterion_on_a_reported_metric_is_refused_and_says_to_write_a_check():
    with pytest.raises(SpecError) as caught:
        parse_rubric(EXAMPLE, SOURCE, REAL_METRICS)
    assert str(caught.value).startswith(
        f"{SOURCE}: criteria[3].metric: parameters is reported by the submission's own run, which can forge it"
    )
    assert "under `checks:`" in str(caught.value)


def test_checks_parse_and_earn_nothing():
    data = copy.deepcopy(EXAMPLE)
    data["criteria"].pop()
    data["checks"] = [{"id": "size", "title": "Parameter budget", "metric": "parameters", "at_most": 50000}]
    rubric = parse_rubric(data, SOURCE, REAL_METRICS)
    (check,) = rubric.checks
    assert (check.id, check.metric, check.bound, check.limit) == ("size", "parameters", "at_most", 50000)
    assert rubric.max_points == 90  # the check's limit is no points


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (
            {"metric": "accuracy", "at_least": 0.9},
            "checks[0].metric: accuracy is measured by grader itself, so it can earn points: score it as a "
            "criterion instead; checks are for what the run reports about itself",
        ),
        (
            {"metric": "parameters"},
            "checks[0]: a check needs exactly one of at_most or at_least (the limit the reported value must keep)",
        ),
        (
            {"metric": "parameters", "at_most": 5, "at_least": 1},
            "checks[0]: a check needs exactly one of at_most or at_least (the limit the reported value must keep)",
        ),
        (
            {"id": "accuracy", "metric": "parameters", "at_most": 5},
            'checks[0].id: "accuracy" is already the id of criteria[0]; ids must be unique',
        ),
        ({"metric": "parameters", "at_most": 5, "points": 10}, 'checks[0]: unknown key "points"'),
    ],
)
def test_check_mistakes_are_named(check, message):
    data = copy.deepcopy(EXAMPLE)
    data["criteria"].pop()
    data["checks"] = [{"id": "size", "title": "Budget", **check}]
    with pytest.raises(SpecError) as caught:
        parse_rubric(data, SOURCE, REAL_METRICS)
    assert str(caught.value).startswith(f"{SOURCE}: {message}")
