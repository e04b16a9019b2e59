"""Rescoring from stored evaluations: equal to fresh scoring, and moved by every rule that changes."""

import copy
import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from grader.core.errors import SpecError
from grader.core.grading import Evaluation, grade
from grader.core.kinds.classification import CLASSIFICATION
from grader.core.outcomes import Outcome, Status
from grader.core.policy import Extension, LatePolicy, Override, parse_policy
from grader.core.rescoring import StoredSubmission, regrade, rescore_assignment
from grader.core.rubric import parse_rubric

METRICS = CLASSIFICATION.metrics

UTC = dt.timezone.utc
RUBRIC_FILE = Path(__file__).resolve().parents[2] / "rubrics" / "digits-mlp.yaml"
RUBRIC_DATA = yaml.safe_load(RUBRIC_FILE.read_text())
RUBRIC = parse_rubric(RUBRIC_DATA, "rubrics/digits-mlp.yaml", METRICS)
REFERENCES = {
    "keras": {"accuracy": 0.97, "macro_f1": 0.97, "parameters": 4810},
    "torch": {"accuracy": 0.974, "macro_f1": 0.96, "parameters": 9000},
}
DUE = dt.datetime(2025, 2, 13, 23, 59, tzinfo=UTC)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
POLICY = parse_policy(
    {"due_at": DUE, "late": {"penalty_percent": 10, "per": "hour", "grace": "15m", "last_accepted": "2d"}},
    "policy",
    UTC,
)


def evaluation(outcome: Outcome = Outcome.OK, accuracy: float = 0.731, macro_f1: float = 0.92) -> Evaluation:
    metrics = (
        {"accuracy": accuracy, "macro_f1": macro_f1, "parameters": 48120, "confusion_matrix": [[3, 1], [0, 4]]}
        if outcome is Outcome.OK
        else {}
    )
    return Evaluation(
        outcome,
        metrics,
        "ok" if outcome is Outcome.OK else outcome.describe(),
        "staff detail",
        "epoch 1/30 ...",
        {"wall_s": 12.5, "cpu_s": 20.1, "peak_memory_bytes": 512 * 2**20},
        {"framework": "keras", "seed": 1234},
    )


def stored(ev: Evaluation) -> dict:
    """What the database gives back: the JSON written at grading time, read again."""
    return json.loads(json.dumps(ev.to_json()))


@pytest.mark.parametrize("outcome", [Outcome.OK, Outcome.TIMEOUT, Outcome.BAD_OUTPUT, Outcome.SANDBOX_ERROR])
def test_rescoring_equals_fresh_scoring(outcome):
    ev = evaluation(outcome)
    fresh = grade(ev, RUBRIC, REFERENCES)
    assert regrade(stored(ev), RUBRIC, REFERENCES).to_json() == fresh.to_json()
    result = rescore_assignment([StoredSubmission(1, "ada", DUE, stored(ev))], RUBRIC, REFERENCES, POLICY)
    assert result.results[1].to_json() == fresh.to_json()
    assert result.grades["ada"].raw.value == (fresh.score if fresh.status is not Status.ERROR else None)


def test_a_rubric_change_rescores_every_submission():
    submissions = [
        StoredSubmission(1, "ada", DUE - DAY, stored(evaluation(accuracy=0.731)), previous_score=50.0),
        StoredSubmission(2, "alan", DUE - DAY, stored(evaluation(accuracy=0.99, macro_f1=0.99)), previous_score=100),
    ]
    before = rescore_assignment(submissions, RUBRIC, REFERENCES, POLICY)
    assert before.changed == (1,)  # stored as 50 under an older rubric; alan's 100 stays
    assert before.results[1].score == 42.58  # 35.58 + 0 + 0 + 7 (the parameter budget is a check: no points)
    easier = copy.deepcopy(RUBRIC_DATA)
    easier["criteria"][0]["zero_at"] = 0.3
    after = rescore_assignment(
        submissions, parse_rubric(easier, "rubrics/digits-mlp.yaml", METRICS), REFERENCES, POLICY
    )
    assert after.results[1].score > before.results[1].score
    assert after.results[2].score == before.results[2].score == 100
    assert after.grades["ada"].final.value == after.results[1].score


def test_deadline_extension_and_override_changes_are_applied_per_student():
    late = DUE + 2 * HOUR + 10 * dt.timedelta(minutes=1)
    submissions = [
        StoredSubmission(1, "ada", late, stored(evaluation(accuracy=0.99, macro_f1=0.99))),
        StoredSubmission(2, "alan", late, stored(evaluation(accuracy=0.99, macro_f1=0.99))),
        StoredSubmission(3, "grace", late, stored(evaluation(accuracy=0.99, macro_f1=0.99))),
    ]
    result = rescore_assignment(
        submissions,
        RUBRIC,
        REFERENCES,
        POLICY,
        extensions={"alan": Extension(DUE + DAY, None, "illness", "prof@example.org")},
        overrides={"grace": Override(95, "ta@example.org", "regraded by hand")},
    )
    assert [result.grades[s].final.value for s in ("ada", "alan", "grace")] == [70, 100, 95]
    assert result.grades["ada"].late_penalty.explanation.endswith("10% per started hour → −30%")
    moved = dataclasses.replace(POLICY, due_at=DUE + 3 * HOUR)
    assert rescore_assignment(submissions, RUBRIC, REFERENCES, moved).grades["ada"].final.value == 100


def test_students_without_submissions_get_zero_after_the_cutoff_only():
    args = ([], RUBRIC, REFERENCES, POLICY)
    before = rescore_assignment(*args, students=["ada"], now=DUE + DAY)
    assert before.grades["ada"].final.value is None
    after = rescore_assignment(*args, students=["ada"], now=DUE + 3 * DAY)
    assert after.grades["ada"].final.value == 0


def test_pending_and_unreadable_evaluations():
    good = stored(evaluation())
    broken = {**good, "outcome": "exploded"}
    submissions = [
        StoredSubmission(1, "ada", DUE - DAY, good),
        StoredSubmission(2, "ada", DUE - HOUR, broken),
        StoredSubmission(3, "alan", DUE - HOUR, None),
    ]
    result = rescore_assignment(submissions, RUBRIC, REFERENCES, POLICY)
    assert result.problems == {
        2: "the stored evaluation cannot be read (ValueError: 'exploded' is not a valid Outcome); run it again"
    }
    assert result.grades["ada"].submission_id == 1
    assert result.grades["alan"].final.explanation == "not known yet: a submission is still being graded"


def test_a_rubric_that_cannot_score_raises_for_staff():
    with pytest.raises(SpecError, match="needs the torch reference results"):
        rescore_assignment(
            [StoredSubmission(1, "ada", DUE, stored(evaluation()))],
            RUBRIC,
            {"keras": REFERENCES["keras"]},
            POLICY,
        )


def test_policy_defaults_do_not_accept_late_work():
    hard = dataclasses.replace(POLICY, late=LatePolicy())
    result = rescore_assignment(
        [StoredSubmission(1, "ada", DUE + HOUR, stored(evaluation()))], RUBRIC, REFERENCES, hard
    )
    assert result.grades["ada"].submission_id is None
    assert result.grades["ada"].raw.explanation == (
        "no graded submission yet; #1 came after the last accepted moment and does not count"
    )
