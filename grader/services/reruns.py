"""Re-run submissions: train an earlier upload again, at low priority, without losing its first result.

A re-run is a new Submission row pointing at the first row of its chain
(`rerun_of_id`), with the same student, assignment, file and blob, and the
upload's own `created_at`, so deadlines still judge when the student handed
it in. The newest row of a chain is the one in force; earlier rows are its
history and are never overwritten. Rows are committed first, then sent to
the `rerun` queue, which workers consume after first runs, so a re-run of a
whole class never delays a student's fresh upload.

A chain whose newest row is still queued or running is not queued again:
clicking twice, or two TAs at once, asks for one run.

An override belongs to the upload and stays in force across re-runs
(grader.services.overrides), so a re-run never makes one stop counting
silently: for a chain with an override in force the TA chooses to keep it
(the re-run's score is shown to staff, the override counts) or to withdraw
it (the re-run's score will count; the withdrawal is written in the same
transaction as the re-run row). Without a choice the request is refused and
nothing is queued.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from grader.db import transaction
from grader.models import Override, State, Submission, User, utcnow
from grader.services.overrides import (
    MAX_REASON_CHARS,
    ActionRefused,
    OverrideView,
    add_withdrawal,
    display_name,
    override_in_force,
    view,
)
from grader.services.queue import GradingQueue

MAX_PER_REQUEST = 1000
KEEP_TEXT = "keep the override in force (the re-run's score is shown to staff but the override counts)"
WITHDRAW_TEXT = "withdraw the override (the re-run's score will count)"


class OverrideChoice(enum.Enum):
    """What a re-run does to the upload's override in force."""

    KEEP = "keep"
    WITHDRAW = "withdraw"


def parse_override_choice(raw: object) -> OverrideChoice | None:
    """Read the choice of a form or JSON body; None when none was made; ActionRefused when it is not one."""
    text = str(raw or "").strip().lower()
    if not text:
        return None
    try:
        return OverrideChoice(text)
    except ValueError:
        raise ActionRefused(
            f"Choose 'keep' or 'withdraw' for the override; got {text[:20]!r}.", "override_choice"
        ) from None


class OverrideChoiceNeeded(ActionRefused):
    """A re-run of uploads with an override in force, asked without saying what happens to the override.

    `overridden` maps each asked id to the override in force of its upload, for the page to show.
    """

    def __init__(self, overridden: dict[int, OverrideView]):
        self.overridden = overridden
        which = ", ".join(f"#{sid} ({o.points:g} by {o.by})" for sid, o in overridden.items())
        many = len(overridden) > 1
        super().__init__(
            f"{'Submissions' if many else 'Submission'} {which} {'have' if many else 'has'} an override in force."
            f" Choose: {KEEP_TEXT}, or {WITHDRAW_TEXT}. Nothing was queued.",
            "override_choice",
        )


@dataclasses.dataclass(frozen=True)
class RerunReport:
    """What a re-run request did: new rows (asked id -> new id) and what it skipped, with why."""

    queued: dict[int, int]
    skipped: dict[int, str]
    kept: tuple[int, ...] = ()  # asked ids whose upload's override stays in force
    withdrawn: tuple[int, ...] = ()  # asked ids whose upload's override was withdrawn

    def summary(self) -> str:
        parts = []
        if self.queued:
            new = ", ".join(f"#{new}" for new in self.queued.values())
            parts.append(f"Queued {len(self.queued)} re-run(s) at low priority: {new}.")
        if self.kept:
            ids = ", ".join(f"#{sid}" for sid in self.kept)
            parts.append(f"Override of {ids} kept in force: it counts, whatever the re-run scores.")
        if self.withdrawn:
            ids = ", ".join(f"#{sid}" for sid in self.withdrawn)
            parts.append(f"Override of {ids} withdrawn: the re-run's score will count.")
        for sid, why in self.skipped.items():
            parts.append(f"#{sid}: {why}")
        return " ".join(parts) or "Nothing to re-run."


def chain_root(sub: Submission) -> int:
    """The id of the first row of a submission's chain (the upload itself)."""
    return sub.rerun_of_id or sub.id


def chain_rows(session: Session, root_id: int) -> list[Submission]:
    """Return every row of a chain, the upload first and the row in force last."""
    query = (
        select(Submission)
        .where(or_(Submission.id == root_id, Submission.rerun_of_id == root_id))
        .order_by(Submission.id)
    )
    return list(session.scalars(query))


def row_in_force(session: Session, sub: Submission) -> int:
    """The id of the row that counts in this submission's chain (its newest)."""
    root = chain_root(sub)
    query = select(func.max(Submission.id)).where(or_(Submission.id == root, Submission.rerun_of_id == root))
    return session.scalar(query) or sub.id


@dataclasses.dataclass(frozen=True)
class _Plan:
    """One chain's re-run: the new row (not added yet), the run it follows, and the upload's override in force."""

    row: Submission
    previous: Submission
    override: Override | None


def _plan(session: Session, submission_id: int, staff: User) -> tuple[_Plan | None, str]:
    """Return the re-run of this submission's chain, or None and why not."""
    sub = session.get(Submission, submission_id)
    if sub is None:
        return None, "there is no such submission."
    root_id = chain_root(sub)
    # Lock the upload's row: two requests for one chain wait for each other, and the second sees the first's row.
    root = session.scalars(select(Submission).where(Submission.id == root_id).with_for_update()).one()
    newest = chain_rows(session, root_id)[-1]
    if not newest.state.is_final:
        what = "a re-run" if newest.rerun_of_id else "its first run"
        return None, f"already waiting for {what} (#{newest.id}, {newest.state.value}); not queued twice."
    row = Submission(
        user_id=root.user_id,
        assignment_id=root.assignment_id,
        filename=root.filename,
        blob_sha256=root.blob_sha256,
        size_bytes=root.size_bytes,
        state=State.QUEUED,
        created_at=root.created_at,
        queued_at=utcnow(),
        rerun_of_id=root.id,
        requested_by_id=staff.id,
        feedback=root.feedback,  # the upload's level: a re-run never uses the student's quota nor hides a shown score
    )
    return _Plan(row, newest, override_in_force(session, root_id)), ""


def _shown(override: Override) -> OverrideView:
    """The override in force as the choice shows it (an override in force always sets points)."""
    shown = view(override)
    assert shown is not None
    return shown


def _withdrawal_reason(staff: User, note: object) -> str:
    """The audit reason of an override withdrawn by a re-run; ActionRefused when the note is too long."""
    reason = f"withdrawn when {display_name(staff)} re-ran the submission"
    note_text = str(note or "").strip()
    if note_text:
        reason += f": {note_text}"
    if len(reason) > MAX_REASON_CHARS:
        raise ActionRefused(f"The note is {len(note_text)} characters long; keep it shorter.", "note")
    return reason


def request_reruns(
    sessions: sessionmaker[Session],
    queue: GradingQueue,
    *,
    submission_ids: Iterable[int],
    staff_id: int,
    override_choice: OverrideChoice | None = None,
    note: object = "",
) -> RerunReport:
    """Add a queued re-run row per chain of these submissions, commit, then enqueue each on the rerun queue.

    Raise ActionRefused when the requester is not staff or asks for nothing or too much at once, and
    OverrideChoiceNeeded (nothing written) when an upload has an override in force and `override_choice`
    is None. WITHDRAW adds each such override's withdrawal (with `note`) in the same transaction.
    """
    wanted = list(dict.fromkeys(int(sid) for sid in submission_ids))
    if not wanted:
        raise ActionRefused("Choose at least one submission to re-run.")
    if len(wanted) > MAX_PER_REQUEST:
        raise ActionRefused(f"{len(wanted)} submissions at once is too many; re-run at most {MAX_PER_REQUEST}.")
    queued: dict[int, int] = {}
    skipped: dict[int, str] = {}
    overridden: dict[int, tuple[Submission, Override]] = {}  # asked id -> (the run it follows, the override)
    with transaction(sessions) as session:
        staff = session.get(User, staff_id)
        if staff is None or not staff.role.is_staff:
            raise ActionRefused("Only TAs and instructors may re-run submissions.")
        reason = _withdrawal_reason(staff, note)
        for sid in wanted:
            plan, why = _plan(session, sid, staff)
            if plan is None:
                skipped[sid] = why
                continue
            session.add(plan.row)
            session.flush()  # the next submission of the same chain now sees this row as waiting
            queued[sid] = plan.row.id
            if plan.override is not None:
                overridden[sid] = (plan.previous, plan.override)
        if overridden and override_choice is None:  # leaving the block rolls the new rows back
            raise OverrideChoiceNeeded({sid: _shown(override) for sid, (_, override) in overridden.items()})
        if override_choice is OverrideChoice.WITHDRAW:
            for previous, override in overridden.values():
                add_withdrawal(session, run=previous, current=override, staff=staff, reason=reason)
    for new_id in queued.values():  # after the commit: a worker always finds the row
        queue.enqueue(new_id, rerun=True)
    kept = tuple(overridden) if override_choice is OverrideChoice.KEEP else ()
    withdrawn = tuple(overridden) if override_choice is OverrideChoice.WITHDRAW else ()
    return RerunReport(queued, skipped, kept, withdrawn)
