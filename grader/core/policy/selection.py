"""Which of a student's submissions counts for the assignment's grade.

Only graded, accepted submissions are candidates: a submission that failed on
our side (status error) or is still being graded never counts, and one made
after the last accepted moment was refused. A submission that failed by its
own fault is a candidate with its zero.

- best: the highest score after its late penalty, among all candidates, on
  time or late. A late submission counts only if it beats every other one
  after its penalty, so trying again never lowers a grade. Ties go to the
  earliest.
- last: the last submission made by the due date (grace included) counts.
  Late submissions count only when there is no on-time one; then the last
  late one counts, with its penalty. So a late upload never replaces work
  handed in on time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from grader.core.outcomes import Status
from grader.core.policy.late import UTC, Deadlines, LatePenalty, LatePolicy, check_acceptance, late_penalty
from grader.core.policy.timing import aware, format_moment

COUNTS = ("best", "last")
_GRADED = (Status.SCORED, Status.FAILED)


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One submission as the policy sees it: when it came and what it scored."""

    id: int | str
    submitted_at: dt.datetime
    status: Status | None  # None: not graded yet (queued or running)
    score: float | None  # None unless graded
    max_score: float

    def label(self, tz: dt.tzinfo = UTC) -> str:
        return f"submission #{self.id} ({format_moment(self.submitted_at, tz)})"


@dataclasses.dataclass(frozen=True)
class Candidate:
    """An accepted, graded attempt with its late penalty applied."""

    attempt: Attempt
    penalty: LatePenalty
    on_time: bool

    @property
    def score_after_penalty(self) -> float:
        return round((self.attempt.score or 0.0) * (1 - self.penalty.percent / 100), 2)


@dataclasses.dataclass(frozen=True)
class Selection:
    """The submission that counts (if any), its penalty, and why it was chosen."""

    counted: Candidate | None
    explanation: str
    pending: int  # accepted submissions still being graded: the choice may still change
    refused: tuple[int | str, ...]  # ids of submissions made after the last accepted moment


def select_counting(
    attempts: Sequence[Attempt], deadlines: Deadlines, policy: LatePolicy, counts: str, tz: dt.tzinfo = UTC
) -> Selection:
    """Return which attempt counts under the rule counts ("best" or "last"), and why."""
    if counts not in COUNTS:
        raise ValueError(f"counts must be one of {', '.join(COUNTS)}, got {counts!r}")
    ordered = sorted(attempts, key=lambda a: (aware(a.submitted_at), str(a.id)))
    accepted = [a for a in ordered if check_acceptance(a.submitted_at, deadlines, tz).accepted]
    refused = tuple(a.id for a in ordered if not any(a is b for b in accepted))
    pending = sum(1 for a in accepted if a.status is None)
    candidates = [_candidate(a, deadlines, policy, tz) for a in accepted if a.status in _GRADED]
    note = f"; {pending} submission{'s are' if pending > 1 else ' is'} still being graded" if pending else ""
    if refused:
        ids = ", ".join(f"#{attempt_id}" for attempt_id in refused)
        note += f"; {ids} came after the last accepted moment and {'do' if len(refused) > 1 else 'does'} not count"
    if not candidates:
        return Selection(None, f"no graded submission yet{note}", pending, refused)
    chosen, why = _best(candidates, tz) if counts == "best" else _last(candidates, deadlines, tz)
    return Selection(chosen, why + note, pending, refused)


def _candidate(attempt: Attempt, deadlines: Deadlines, policy: LatePolicy, tz: dt.tzinfo) -> Candidate:
    penalty = late_penalty(attempt.submitted_at, deadlines, policy, tz)
    return Candidate(attempt, penalty, aware(attempt.submitted_at) <= deadlines.grace_until)


def _best(candidates: list[Candidate], tz: dt.tzinfo) -> tuple[Candidate, str]:
    top = max(c.score_after_penalty for c in candidates)
    chosen = next(c for c in candidates if c.score_after_penalty == top)  # candidates are in time order
    if len(candidates) == 1:
        return chosen, f"{chosen.attempt.label(tz)} counts: it is your only graded submission"
    return chosen, (
        f"{chosen.attempt.label(tz)} counts: the best of your {len(candidates)} graded submissions after late penalties"
    )


def _last(candidates: list[Candidate], deadlines: Deadlines, tz: dt.tzinfo) -> tuple[Candidate, str]:
    on_time = [c for c in candidates if c.on_time]
    if on_time:
        chosen = on_time[-1]
        why = f"{chosen.attempt.label(tz)} counts: your last submission by {deadlines.due_words}"
        late = len(candidates) - len(on_time)
        if late:
            why += f" (your {late} late one{'s do' if late > 1 else ' does'} not count while an on-time one exists)"
        return chosen, why
    chosen = candidates[-1]
    return chosen, (
        f"{chosen.attempt.label(tz)} counts: no submission came by {deadlines.due_words}, "
        "so your last late one counts, with its penalty"
    )
