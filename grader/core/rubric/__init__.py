"""Rubrics: data that says how measured results become points and feedback.

`parse_rubric` reads a staff file into a `RubricSpec`; `score_rubric` scores
one submission's metrics against it and the reference solutions' results.
Pure: no I/O, so a rubric change rescores every stored result in seconds.
"""

from grader.core.rubric.policies import POLICIES, REFERENCES
from grader.core.rubric.scoring import CheckResult, CriterionResult, RubricResult, score_rubric
from grader.core.rubric.spec import CheckSpec, CriterionSpec, Metric, RubricSpec, parse_rubric

__all__ = [
    "POLICIES",
    "REFERENCES",
    "CheckResult",
    "CheckSpec",
    "CriterionResult",
    "CriterionSpec",
    "Metric",
    "RubricResult",
    "RubricSpec",
    "parse_rubric",
    "score_rubric",
]
