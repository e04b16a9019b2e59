"""A grade that explains itself: raw score, late penalty, extension, override and final, each with its rule.

    raw       the counted submission's rubric score, and why that submission counts
    late      the points its late penalty takes, and the rule ("... 10% per started hour → −30%")
    extension the student's own due date, who granted it and why (nothing when none)
    override  points a member of staff set instead, by whom and why (nothing when none)
    final     what goes into the course grade

An override replaces the final points outright (the raw score and penalty stay
shown, so the student sees what it replaced). Without any counted submission
the final is None while work can still come, and 0 once the last accepted
moment has passed with nothing graded and nothing pending.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from grader.core.outcomes import Status
from grader.core.policy.late import UTC, Deadlines, Extension, LatePolicy
from grader.core.policy.selection import Attempt, select_counting
from grader.core.policy.timing import aware, format_moment


@dataclasses.dataclass(frozen=True)
class Override:
    """Points a member of staff set for one student's assignment, and why."""

    points: float
    by: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Line:
    """One line of a breakdown: a value (None: nothing to show) and the rule that produced it."""

    value: float | None
    explanation: str


@dataclasses.dataclass(frozen=True)
class AssignmentGrade:
    """One student's grade for one assignment, line by line."""

    assignment: str
    max_score: float
    submission_id: int | str | None
    raw: Line
    late_penalty: Line  # value: points taken (>= 0)
    late_percent: float
    extension: Line  # value always None; the explanation says what was granted
    override: Line
    final: Line

    @property
    def percent(self) -> float | None:
        """Return the final as a percentage of the assignment's points (what the course grade uses)."""
        if self.final.value is None or not self.max_score:
            return None
        return round(100 * self.final.value / self.max_score, 2)

    def to_json(self) -> dict[str, Any]:
        lines = ("raw", "late_penalty", "extension", "override", "final")
        data: dict[str, Any] = {name: dataclasses.asdict(getattr(self, name)) for name in lines}
        return {
            "assignment": self.assignment,
            "max_score": self.max_score,
            "submission_id": self.submission_id,
            "late_percent": self.late_percent,
            "percent": self.percent,
            **data,
        }


def grade_assignment(
    assignment: str,
    max_score: float,
    attempts: Sequence[Attempt],
    deadlines: Deadlines,
    policy: LatePolicy,
    counts: str,
    *,
    override: Override | None = None,
    now: dt.datetime | None = None,
    tz: dt.tzinfo = UTC,
) -> AssignmentGrade:
    """Return a student's grade for one assignment from their attempts and the rules that apply to them."""
    if override is not None and not 0 <= override.points <= max_score:
        raise ValueError(f"an override must be from 0 to {max_score:g} points, got {override.points:g}")
    selection = select_counting(attempts, deadlines, policy, counts, tz)
    extension = Line(None, _extension_text(deadlines.extension, tz))
    override_line = Line(None, "no override")
    if override is not None:
        override_line = Line(override.points, f"set to {_pts(override.points)} by {override.by}: {override.reason}")
    chosen = selection.counted
    if chosen is None:
        raw = Line(None, selection.explanation)
        penalty, percent = Line(None, "no late penalty: nothing counted yet"), 0.0
        computed, why = _nothing_counted(deadlines, selection.pending, now, tz)
    else:
        score = chosen.attempt.score or 0.0
        outcome = "failed and scored" if chosen.attempt.status is Status.FAILED else "scored"
        raw = Line(score, f"{selection.explanation}; it {outcome} {_pts(score)}/{_pts(max_score)}")
        percent = chosen.penalty.percent
        taken = round(score - chosen.score_after_penalty, 2)
        penalty = Line(taken, chosen.penalty.explanation)
        computed = chosen.score_after_penalty
        why = (
            f"{_pts(score)} − {_pts(taken)} ({percent:g}% late penalty) = {_pts(computed)}"
            if taken
            else f"{_pts(computed)}, the counted submission's score"
        )
        why += f" out of {_pts(max_score)}"
    if override is not None:
        replaced = f"; it replaces {_pts(computed)}" if computed is not None else ""
        final = Line(override.points, f"{_pts(override.points)} out of {_pts(max_score)}, set by override{replaced}")
    else:
        final = Line(computed, why)
    return AssignmentGrade(
        assignment=assignment,
        max_score=max_score,
        submission_id=chosen.attempt.id if chosen else None,
        raw=raw,
        late_penalty=penalty,
        late_percent=percent,
        extension=extension,
        override=override_line,
        final=final,
    )


def _nothing_counted(
    deadlines: Deadlines, pending: int, now: dt.datetime | None, tz: dt.tzinfo
) -> tuple[float | None, str]:
    """Return the final without a counted submission: None while work can come, 0 once it cannot."""
    cutoff = deadlines.last_accepted
    closed = now is not None and cutoff is not None and aware(now) > cutoff
    if closed and not pending:
        return 0.0, f"0: nothing was graded by the last accepted moment ({format_moment(cutoff, tz)})"
    if pending:
        return None, "not known yet: a submission is still being graded"
    return None, "not known yet: nothing submitted"


def _extension_text(extension: Extension | None, tz: dt.tzinfo) -> str:
    return f"due date {extension.describe(tz)}" if extension else "no extension"


def _pts(points: float) -> str:
    """Return points with at most 2 decimals and no trailing zeros: 60, 31.4, 7.25."""
    return f"{points:.2f}".rstrip("0").rstrip(".")
