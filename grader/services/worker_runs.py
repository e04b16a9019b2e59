"""What a worker does with a submission id: claim it, grade it, record exactly one result.

The submission row is the source of truth, not the message. A worker claims a
row in one UPDATE (queued, or running with a stale heartbeat) and increments
`attempts`; the attempt number it got is its fencing token: it writes the final
result only while the row is still running under that attempt. So a message
delivered twice, or a worker thought dead that wakes up, never grades twice.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import logging
import math
import os
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.assignments import Assignment as LoadedAssignment
from grader.assignments import load_assignment
from grader.config import Settings
from grader.core.errors import GraderError, InfrastructureError
from grader.core.grading import Evaluation, GradeResult, grade
from grader.core.outcomes import Outcome, Status
from grader.db import transaction
from grader.models import Assignment, RubricRevision, State, Submission, utcnow
from grader.services.dispatch import dispatch_idle_students, dispatch_next
from grader.services.queue import GradingQueue
from grader.services.references import record_references
from grader.storage import BlobStore

log = logging.getLogger("grader.worker")

GAVE_UP = (
    "Grading failed on our side several times, so this submission was not graded. "
    "This is not your fault and does not count against you; staff have been told, or upload it again."
)


class Grader(Protocol):
    def grade_upload(self, name: str, data: bytes, assignment: Any) -> GradeResult: ...


@dataclasses.dataclass(frozen=True)
class Claim:
    """One attempt at one submission; `attempt` is the fencing token."""

    submission_id: int
    attempt: int
    slug: str
    filename: str
    blob_sha256: str
    user_id: int


def worker_name() -> str:
    """Name this process the way rows record it: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_submission(
    submission_id: int,
    *,
    sessions: sessionmaker[Session],
    store: BlobStore,
    grader: Grader | Callable[[], Grader],
    settings: Settings,
    worker: str | None = None,
    queue: GradingQueue | None = None,
) -> State | None:
    """Grade the submission if this worker wins its claim; return the final state written, or None.

    Once it is final, the student's next waiting upload is dispatched on
    `queue` (None: leave that to the sweep). InfrastructureError (after putting
    the row back in the queue) means: retry later.
    """
    claim = claim_submission(sessions, submission_id, worker or worker_name(), settings)
    if claim is None:
        log.info("submission %s: not claimable (final, or running elsewhere); skipped", submission_id)
        return None
    log.info("submission %s: attempt %s started", submission_id, claim.attempt)
    if claim.attempt > settings.max_attempts:
        detail = f"attempt {claim.attempt} > max_attempts {settings.max_attempts}"
        return _dispatch_after(sessions, queue, claim, give_up(sessions, claim, settings, detail))
    with Heartbeat(sessions, claim, settings.heartbeat_seconds) as heartbeat:
        try:
            service = grader() if callable(grader) else grader
            heartbeat.progress = _progress_of(service)
            assignment = assignment_in_force(sessions, claim.slug, settings)
            with _announcing_references(service, heartbeat):
                result = _grade(claim, store, service, assignment)
        except Exception as exc:  # ours, staff's (a broken assignment) or a time limit: never a graded zero
            detail = exc.staff_detail if isinstance(exc, GraderError) else f"{type(exc).__name__}: {exc}"
            release(sessions, claim, detail)
            raise InfrastructureError(detail) from exc
    state = _dispatch_after(sessions, queue, claim, record_result(sessions, claim, result))
    if state is State.SCORED:
        store_references(sessions, claim.slug, service, assignment)
    return state


def _dispatch_after(
    sessions: sessionmaker[Session], queue: GradingQueue | None, claim: Claim, state: State | None
) -> State | None:
    """Now that this submission is final, send the student's next waiting one; return `state` unchanged.

    A failure here costs nothing but time: the sweep dispatches any student
    left with waiting uploads and nothing in flight.
    """
    if state is None or queue is None:
        return state
    try:
        dispatch_next(sessions, queue, claim.user_id)
    except Exception:  # the grade is already written; never turn a dispatch hiccup into a retry of it
        log.exception("submission %s: dispatching the student's next upload failed", claim.submission_id)
    return state


def _progress_of(service: Grader) -> Callable[[], dict[str, Any]] | None:
    """The service's report of the grading in progress (its run's own, without one: the evaluator's)."""
    evaluator = getattr(service, "evaluator", None)
    return getattr(service, "live_progress", None) or getattr(evaluator, "live_progress", None)


@contextlib.contextmanager
def _announcing_references(service: Grader, heartbeat: Heartbeat) -> Iterator[None]:
    """Beat at once when the grading must build or wait for references, so its status says so (phase "references")."""
    references = getattr(service, "references", None)
    if references is None or not hasattr(references, "on_wait"):
        yield
        return
    references.on_wait = heartbeat.beat
    try:
        yield
    finally:
        references.on_wait = None


def assignment_in_force(sessions: sessionmaker[Session], slug: str, settings: Settings) -> LoadedAssignment:
    """Load the assignment folder with the rubric in force: the newest revision staff saved, else the file."""
    from grader.services.rubrics import parse_rubric_text

    assignment = load_assignment(slug, settings)
    with sessions() as session:
        text = session.scalars(
            select(RubricRevision.yaml_text)
            .join(Assignment, Assignment.id == RubricRevision.assignment_id)
            .where(Assignment.slug == slug)
            .order_by(RubricRevision.id.desc())
            .limit(1)
        ).first()
    if text is None:
        return assignment
    rubric = parse_rubric_text(text, slug, f"the saved rubric of {slug}", assignment.spec.kind.metrics)
    return dataclasses.replace(assignment, rubric=rubric)


def store_references(sessions: sessionmaker[Session], slug: str, service: Grader, assignment: LoadedAssignment) -> None:
    """Keep the reference metrics this grading used on the assignment row, for rescoring on the web side.

    Whatever the worker has computed for the assignment as it is now (its
    cache) is stored, so relative thresholds a rubric adds later can be
    rescored too. A grader without reference results (a test double) stores nothing.
    """
    references = getattr(service, "references", None)
    cached = getattr(references, "cached", None)
    if cached is None:
        return
    try:
        found = cached(assignment)
    except (OSError, ValueError, GraderError) as exc:  # the cache is a convenience; grading already succeeded
        log.warning("%s: reference results not stored: %s", slug, exc)
        return
    if found:
        record_references(sessions, slug, found)


def _grade(claim: Claim, store: BlobStore, grader: Grader, assignment: LoadedAssignment) -> GradeResult:
    """Read the blob and grade it; infrastructure problems raise."""
    try:
        data = store.read(claim.blob_sha256)
    except OSError as exc:
        raise InfrastructureError(f"blob {claim.blob_sha256} of submission {claim.submission_id}: {exc}") from exc
    result = grader.grade_upload(claim.filename, data, assignment)
    if result.status is Status.ERROR:
        raise InfrastructureError(f"grading ended in {result.outcome.value}: {result.evaluation.staff_detail}")
    return result


def claim_submission(
    sessions: sessionmaker[Session], submission_id: int, worker: str, settings: Settings
) -> Claim | None:
    """Claim the row for one attempt in one transaction; None if it is final or running elsewhere."""
    now = utcnow()
    stale = now - dt.timedelta(seconds=settings.stale_after_seconds)
    claimable = or_(
        Submission.state == State.QUEUED,
        and_(
            Submission.state == State.RUNNING, or_(Submission.heartbeat_at.is_(None), Submission.heartbeat_at < stale)
        ),
    )
    with transaction(sessions) as session:
        changed = session.execute(
            update(Submission)
            .where(Submission.id == submission_id, claimable)
            .values(
                state=State.RUNNING,
                attempts=Submission.attempts + 1,
                started_at=now,
                heartbeat_at=now,
                worker=worker[:200],
                progress=None,
                dispatched_at=func.coalesce(Submission.dispatched_at, now),  # running means in flight
            )
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:
            return None
        row = session.execute(
            select(
                Submission.attempts, Submission.filename, Submission.blob_sha256, Submission.user_id, Assignment.slug
            )
            .join(Assignment, Assignment.id == Submission.assignment_id)
            .where(Submission.id == submission_id)
        ).one()
    return Claim(submission_id, row.attempts, row.slug, row.filename, row.blob_sha256, row.user_id)


def _fenced(claim: Claim) -> ColumnElement[bool]:
    """The condition under which this attempt may still write: running, and still its attempt."""
    return and_(
        Submission.id == claim.submission_id,
        Submission.state == State.RUNNING,
        Submission.attempts == claim.attempt,
    )


def _write_fenced(sessions: sessionmaker[Session], claim: Claim, **values: Any) -> bool:
    """Update the row if this attempt still owns it; return whether it did."""
    with transaction(sessions) as session:
        changed = session.execute(
            update(Submission).where(_fenced(claim)).values(**values).execution_options(synchronize_session=False)
        )
    return changed.rowcount == 1


def record_result(sessions: sessionmaker[Session], claim: Claim, result: GradeResult) -> State | None:
    """Write the final result if this attempt still owns the row; return the state written."""
    state = State(result.status.value)
    written = _write_fenced(
        sessions,
        claim,
        state=state,
        finished_at=utcnow(),
        heartbeat_at=utcnow(),
        evaluation=result.evaluation.to_json(),
        result=result.to_json(),
        outcome=result.outcome.value,
        score=result.score,
        max_score=result.max_score,
        error_detail=None if state is State.SCORED else result.evaluation.staff_detail[:20000],
    )
    log.info(
        "submission %s: attempt %s %s", claim.submission_id, claim.attempt, state.value if written else "fenced off"
    )
    return state if written else None


def release(sessions: sessionmaker[Session], claim: Claim, detail: str) -> None:
    """Put a failed attempt back in the queue (the attempt still counts towards the cap)."""
    if _write_fenced(sessions, claim, state=State.QUEUED, queued_at=utcnow(), error_detail=detail[:20000]):
        log.warning(
            "submission %s: attempt %s failed on our side: %s", claim.submission_id, claim.attempt, detail[:500]
        )


def give_up(sessions: sessionmaker[Session], claim: Claim, settings: Settings, detail: str) -> State | None:
    """End the submission as an infrastructure error that never costs the student."""
    result = error_result(claim.slug, settings, detail)
    log.error("submission %s: giving up: %s", claim.submission_id, detail)
    return record_result(sessions, claim, result)


def error_result(slug: str, settings: Settings, detail: str) -> GradeResult:
    """A result with no grade: the rubric's criteria at zero, marked as our failure."""
    evaluation = Evaluation(Outcome.SANDBOX_ERROR, {}, GAVE_UP, detail, "", {}, {"assignment": slug})
    try:
        return grade(evaluation, load_assignment(slug, settings).rubric, {})
    except GraderError:
        return GradeResult(Status.ERROR, evaluation, None, 0.0, ())


class Heartbeat:
    """Prove, every few seconds, that this attempt's worker is alive (a thread)."""

    def __init__(self, sessions: sessionmaker[Session], claim: Claim, seconds: float):
        self.sessions, self.claim, self.seconds = sessions, claim, seconds
        self.progress: Callable[[], dict[str, Any]] | None = None  # the run's own report of its progress
        self._stop = threading.Event()
        self._thread = threading.Thread(  # in a copy of this context, so its log records carry the submission id
            target=contextvars.copy_context().run,
            args=(self._beat,),
            name=f"heartbeat-{claim.submission_id}",
            daemon=True,
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.seconds):
            self.beat()

    def beat(self) -> None:
        """Write the heartbeat and the run's progress now (the thread does so every few seconds)."""
        try:
            progress = clean_progress(self.progress()) if self.progress else None
            extra = {"progress": progress} if progress else {}
            _write_fenced(self.sessions, self.claim, heartbeat_at=utcnow(), **extra)
        except Exception:  # a missed beat is not fatal; the sweep's threshold is many beats long
            log.exception("submission %s: heartbeat failed", self.claim.submission_id)


def clean_progress(raw: dict[str, Any]) -> dict[str, Any] | None:
    """Keep only the known, bounded fields of what a sandboxed run wrote about itself."""
    phase, epoch, epochs, loss = (raw.get(k) for k in ("phase", "epoch", "epochs", "loss"))
    clean: dict[str, Any] = {}
    if isinstance(phase, str) and phase.isidentifier():
        clean["phase"] = phase[:32]
    for key, value in (("epoch", epoch), ("epochs", epochs)):
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**6:
            clean[key] = value
    if isinstance(loss, (int, float)) and not isinstance(loss, bool) and math.isfinite(loss):
        clean["loss"] = float(loss)
    return clean or None


def sweep_stuck(sessions: sessionmaker[Session], queue: GradingQueue, settings: Settings) -> list[int]:
    """Requeue submissions stuck running (stale heartbeat) or sent but not picked up for too long, and
    dispatch for students whose uploads wait with nothing in flight; return the ids sent.

    Resending a message is always safe: the claim lets only one delivery grade.
    A stuck row past its attempt cap still gets a message: its claim ends it as `error`.
    An upload waiting behind the same student's earlier one has no message yet
    and is not stuck: it is dispatched when that one ends (grader.services.dispatch).
    """
    now = utcnow()
    cutoff = now - dt.timedelta(seconds=settings.queued_stale_after_seconds)
    stale_running = and_(
        Submission.state == State.RUNNING,
        Submission.heartbeat_at < now - dt.timedelta(seconds=settings.stale_after_seconds),
    )
    sent_long_ago = or_(Submission.rerun_of_id.is_not(None), Submission.dispatched_at < cutoff)
    stale_queued = and_(Submission.state == State.QUEUED, Submission.queued_at < cutoff, sent_long_ago)
    with transaction(sessions) as session:
        rows = session.execute(select(Submission.id, Submission.rerun_of_id).where(or_(stale_running, stale_queued)))
        reruns = {row.id: row.rerun_of_id is not None for row in rows}
        ids = list(reruns)
        if ids:
            session.execute(
                update(Submission)
                .where(Submission.id.in_(ids), or_(stale_running, stale_queued))
                .values(  # a first run's new message joins the back of the queue: its position says so
                    state=State.QUEUED,
                    queued_at=now,
                    dispatched_at=case((Submission.rerun_of_id.is_(None), now), else_=Submission.dispatched_at),
                )
                .execution_options(synchronize_session=False)
            )
    for submission_id in ids:  # after the commit, like every enqueue
        log.warning("submission %s: stuck; requeued by the sweep", submission_id)
        queue.enqueue(submission_id, rerun=reruns[submission_id])  # a re-run never jumps ahead of first runs
    dispatched = dispatch_idle_students(sessions, queue)
    for submission_id in dispatched:
        log.warning("submission %s: its student had nothing in flight; dispatched by the sweep", submission_id)
    return ids + dispatched
