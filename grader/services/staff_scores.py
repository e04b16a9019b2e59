"""Scores staff enter for course components (theory exam, article summaries): a form, or a CSV import.

Both paths check everything before writing anything: a sheet with one bad
line imports nothing (grader.core.scores_csv lists every mistake with its
line), a form with one bad field saves nothing (each field's problem is shown
next to it). A score is 0 to 100; one row per student and component, updated
in place with who entered it and when.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.core.course import ComponentSpec, CourseSpec
from grader.core.errors import SpecError
from grader.core.scores_csv import decode_scores_file, normalize_email, parse_scores_csv
from grader.models import Role, StaffScore, User, utcnow


def staff_component(course: CourseSpec, component_id: str) -> ComponentSpec:
    """Return the staff-entered component; raise SpecError listing the ones there are."""
    try:
        return course.staff_component(component_id.strip())
    except ValueError as exc:
        raise SpecError(course.source or "course.yaml", "components", str(exc)) from None


def staff_components(course: CourseSpec) -> list[ComponentSpec]:
    """Return the components whose scores staff enter, in the file's order."""
    return [leaf for leaf in course.leaves() if leaf.source is not None and leaf.source.kind == "staff"]


@dataclasses.dataclass(frozen=True)
class SaveReport:
    """What a save or an import wrote."""

    added: int
    updated: int
    removed: int = 0

    def summary(self, component: str) -> str:
        parts = [f"{self.added} added", f"{self.updated} updated"]
        if self.removed:
            parts.append(f"{self.removed} removed")
        return f"{component}: " + ", ".join(parts) + "."


def student_emails(session: Session) -> dict[str, int]:
    """Return every student's canonical email and id."""
    rows = session.execute(select(User.email, User.id).where(User.role == Role.STUDENT))
    return {normalize_email(email): uid for email, uid in rows}


def save_scores(session: Session, component: str, scores: Mapping[int, float | None], entered_by_id: int) -> SaveReport:
    """Write these students' scores of one component (None removes a score); the caller commits."""
    for uid, score in scores.items():
        if score is not None and not (math.isfinite(score) and 0 <= score <= 100):
            raise ValueError(f"the score of student {uid} must be from 0 to 100, got {score}")
    existing = (
        {
            row.user_id: row
            for row in session.scalars(
                select(StaffScore).where(StaffScore.component == component, StaffScore.user_id.in_(list(scores)))
            )
        }
        if scores
        else {}
    )
    added = updated = removed = 0
    now = utcnow()
    for uid, score in scores.items():
        row = existing.get(uid)
        if score is None:
            if row is not None:
                session.delete(row)
                removed += 1
        elif row is None:
            session.add(
                StaffScore(user_id=uid, component=component, score=score, entered_by_id=entered_by_id, entered_at=now)
            )
            added += 1
        elif row.score != score:
            row.score, row.entered_by_id, row.entered_at = score, entered_by_id, now
            updated += 1
    session.flush()
    return SaveReport(added, updated, removed)


def import_scores(
    session: Session, course: CourseSpec, component_id: str, data: bytes, source: str, entered_by_id: int
) -> SaveReport:
    """Import a sheet (`email,score`) into one staff component: every row, or none.

    Raise SpecError for an unknown component, ScoresFileError listing every bad line.
    """
    component = staff_component(course, component_id)
    known = student_emails(session)
    rows = parse_scores_csv(decode_scores_file(data, source), source, known)
    return save_scores(session, component.id, {known[row.email]: row.score for row in rows}, entered_by_id)


def parse_form_scores(fields: Mapping[int, str]) -> tuple[dict[int, float | None], dict[int, str]]:
    """Read typed scores by student id: blank is no score; return the scores and each bad field's problem."""
    scores: dict[int, float | None] = {}
    problems: dict[int, str] = {}
    for uid, raw in fields.items():
        text = raw.strip()
        if not text:
            scores[uid] = None
            continue
        try:
            value = float(text.replace(",", "."))
        except ValueError:
            problems[uid] = f"{text[:20]!r} is not a number; write a score from 0 to 100, like 87.5"
            continue
        if not math.isfinite(value) or not 0 <= value <= 100:
            problems[uid] = f"{text[:20]} is out of range; scores go from 0 to 100"
            continue
        scores[uid] = value
    return scores, problems


def scores_of_component(session: Session, component: str) -> dict[int, float]:
    """Return every student's score of one component, by student id."""
    query = select(StaffScore.user_id, StaffScore.score).where(StaffScore.component == component)
    return {uid: score for uid, score in session.execute(query)}
