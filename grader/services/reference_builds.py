"""Build an assignment's references ahead of its gradings: requested on the site side, run by a worker task.

The course's reference solutions are trained in the sandbox like a student's
upload (a minute or more each), and a grading whose rubric compares with them
cannot score without them. So they are built when an assignment is added,
synced, published or replaced, or when an instructor asks, not inside the
first student's job. The state lives on the assignment's row:

    None (never asked) -> queued -> building -> ready | failed (references_detail: why, for staff)

`request_build` moves a row to `queued` in one conditional UPDATE and only
then sends the task, so a build already on its way is never sent twice
(a build older than `stale_after` is presumed lost and may be sent again).
The task (`build_references`, called by workers/tasks.py) runs the
references through grader.services.references, whose file lock makes a
grading that needs the same reference wait for this build instead of
running it again; that grading's status says it is waiting for them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.assignments import REFERENCE_FRAMEWORKS, load_assignment
from grader.config import Settings
from grader.core.errors import GraderError
from grader.core.kinds import KINDS
from grader.db import transaction
from grader.models import Assignment, utcnow

if TYPE_CHECKING:  # the web side requests builds without importing the sandbox and the evaluator
    from grader.services.references import ReferenceResults

log = logging.getLogger("grader.references")

QUEUED, BUILDING, READY, FAILED = "queued", "building", "ready", "failed"
IN_FLIGHT = (QUEUED, BUILDING)  # a button press or a sync sends nothing while one of these holds
UNLESS_BUILT = (QUEUED, BUILDING, READY)  # publishing an assignment whose references are there sends nothing
UNLESS_WAITING = (QUEUED,)  # changed files: a queued build reads them anyway; one already building does not
STALE_AFTER = dt.timedelta(hours=1)  # without settings: above the task's hard time limit (32 min by default)


class ReferenceQueue(Protocol):
    """Where reference builds wait for a worker (grader.services.queue.CeleryQueue, or the RecordingQueue)."""

    def build_references(self, assignment_id: int) -> None: ...


class Request(enum.Enum):
    """What became of one request."""

    SENT = "sent"
    SKIPPED = "skipped"  # a build is on its way already (or done, when that was enough)
    NOT_SENT = "not sent"  # the broker refused the message; the row says failed, with why


def stale_after(settings: Settings) -> dt.timedelta:
    """How long a queued or building state is trusted: past this its message is redelivered or lost."""
    return dt.timedelta(seconds=settings.visibility_timeout)


def request_build(
    sessions: sessionmaker[Session],
    queue: ReferenceQueue,
    assignment_id: int,
    *,
    unless: tuple[str, ...] = IN_FLIGHT,
    stale: dt.timedelta = STALE_AFTER,
    now: dt.datetime | None = None,
) -> Request:
    """Mark the assignment's references queued and send the build, unless its state is one of `unless`."""
    now = now or utcnow()
    allowed = or_(
        Assignment.references_state.is_(None),
        Assignment.references_state.not_in(unless),
        Assignment.references_at.is_(None),
        Assignment.references_at < now - stale,
    )
    with transaction(sessions) as session:
        changed = session.execute(
            update(Assignment)
            .where(Assignment.id == assignment_id, allowed)
            .values(references_state=QUEUED, references_detail=None, references_at=now)
            .execution_options(synchronize_session=False)
        )
    if changed.rowcount != 1:
        return Request.SKIPPED
    try:
        queue.build_references(assignment_id)  # after the commit, like every enqueue
    except Exception as exc:  # the broker is down: say so on the row rather than claim a build is queued
        log.warning("assignment %s: reference build not sent: %s", assignment_id, exc)
        _finish(sessions, assignment_id, FAILED, f"the build could not be queued: {type(exc).__name__}: {exc}", QUEUED)
        return Request.NOT_SENT
    log.info("assignment %s: reference build queued", assignment_id)
    return Request.SENT


def request_builds(
    sessions: sessionmaker[Session],
    queue: ReferenceQueue,
    slugs: Iterable[str],
    *,
    unless: tuple[str, ...] = IN_FLIGHT,
    stale: dt.timedelta = STALE_AFTER,
) -> dict[str, Request]:
    """Request builds for these assignments, in order; once the broker refuses one, ask for no more."""
    wanted = list(slugs)
    with sessions() as session:
        ids = dict(session.execute(select(Assignment.slug, Assignment.id).where(Assignment.slug.in_(wanted))).all())
    done: dict[str, Request] = {}
    for slug in (s for s in wanted if s in ids):
        done[slug] = request_build(sessions, queue, ids[slug], unless=unless, stale=stale)
        if done[slug] is Request.NOT_SENT:
            break
    return done


def describe_requests(done: dict[str, Request], slugs: Iterable[str]) -> list[tuple[str, bool]]:
    """Lines saying what became of the requests for these slugs, each with whether it reports trouble."""
    sent = [slug for slug, request in done.items() if request is Request.SENT]
    skipped = [slug for slug, request in done.items() if request is Request.SKIPPED]
    unsent = [slug for slug in slugs if done.get(slug, Request.NOT_SENT) is Request.NOT_SENT]
    lines = []
    if sent:
        lines.append((f"references: build queued for {', '.join(sent)} (a worker builds or checks them)", False))
    if skipped:
        lines.append((f"references: already queued or building: {', '.join(skipped)}", False))
    if unsent:
        problem = f"references: not queued (the broker is unreachable) for {', '.join(unsent)}"
        lines.append((f"{problem}; sync again once it is up, or press Build references on the instructor page", True))
    return lines


def build_references(
    sessions: sessionmaker[Session],
    assignment_id: int,
    references: ReferenceResults | Callable[[], ReferenceResults],
    settings: Settings,
) -> str | None:
    """Build every reference of the assignment (cached ones are read) and record the outcome; return the state.

    None: no such assignment, or its files changed during the build (a
    build requested by that change records the result). Never raises for a
    reference that fails: that is `failed` with the detail for staff.
    """
    from grader.services.references import record_references

    slug = _start(sessions, assignment_id)
    if slug is None:
        log.warning("assignment %s: no such assignment; reference build dropped", assignment_id)
        return None
    log.info("%s: building references", slug)
    try:
        results = references() if callable(references) else references
        results.build(load_assignment(slug, settings))
        current = results.cached(load_assignment(slug, settings))  # the files as they are now
    except Exception as exc:  # a broken reference, sandbox trouble or a time limit: staff's to read
        detail = exc.staff_detail if isinstance(exc, GraderError) else f"{type(exc).__name__}: {exc}"
        log.warning("%s: reference build failed: %s", slug, detail[:500])
        _finish(sessions, assignment_id, FAILED, detail[:20000])
        return FAILED
    if set(current) != set(REFERENCE_FRAMEWORKS):  # a build requested by that change (if any) records it
        log.info("%s: its files changed during the build", slug)
        _finish(sessions, assignment_id, FAILED, "The assignment's files changed during the build; build again.")
        return None
    record_references(sessions, slug, current)
    _finish(sessions, assignment_id, READY, None)
    log.info("%s: references ready", slug)
    return READY


def _start(sessions: sessionmaker[Session], assignment_id: int) -> str | None:
    """Mark the build running (whatever the state: a redelivered message builds from the cache); return the slug."""
    with transaction(sessions) as session:
        row = session.get(Assignment, assignment_id)
        if row is None:
            return None
        row.references_state, row.references_detail, row.references_at = BUILDING, None, utcnow()
        return row.slug


def _finish(
    sessions: sessionmaker[Session], assignment_id: int, state: str, detail: str | None, only_from: str = BUILDING
) -> None:
    """End a build, unless the state moved on meanwhile (a newer request queued another build)."""
    with transaction(sessions) as session:
        session.execute(
            update(Assignment)
            .where(Assignment.id == assignment_id, Assignment.references_state == only_from)
            .values(references_state=state, references_detail=detail, references_at=utcnow())
            .execution_options(synchronize_session=False)
        )


@dataclasses.dataclass(frozen=True)
class ReferenceStatus:
    """An assignment's references as the instructor page shows them."""

    state: str  # "none", "queued", "building", "ready" or "failed"
    label: str  # e.g. "building since 2025-02-01 14:02 UTC", "ready"
    results: str = ""  # each framework's headline metric, e.g. "accuracy: keras 0.970 · torch 0.961"
    detail: str | None = None  # staff only: why the build failed
    can_build: bool = True  # whether the button sends anything now


def reference_status(
    row: Assignment, now: dt.datetime | None = None, stale: dt.timedelta = STALE_AFTER
) -> ReferenceStatus:
    """Describe the row's reference build; references measured before builds existed count as ready."""
    state, at = row.references_state, row.references_at
    at = at.replace(tzinfo=dt.timezone.utc) if at is not None and at.tzinfo is None else at  # SQLite drops it
    when = f"{at:%Y-%m-%d %H:%M} UTC" if at else ""
    if state in IN_FLIGHT:
        fresh = at is not None and at >= (now or utcnow()) - stale
        return ReferenceStatus(state, f"{state} since {when}" if at else state, _results(row), can_build=not fresh)
    if state == FAILED:
        return ReferenceStatus(FAILED, f"failed at {when}" if at else FAILED, _results(row), row.references_detail)
    if state == READY or row.references:
        return ReferenceStatus(READY, "ready", _results(row))
    return ReferenceStatus("none", "not built")


def _results(row: Assignment) -> str:
    """The kind's headline metric of each framework measured, as its pages format it ("" before any)."""
    measured = {name: m for name, m in sorted((row.references or {}).items()) if isinstance(m, dict)}
    kind = KINDS.get(row.task)
    if not measured or kind is None or not kind.summary_metrics:
        return ""
    key = kind.summary_metrics[0]
    metric = kind.metrics[key]
    shown = [f"{name}\u00a0{_formatted(metric, m.get(key))}" for name, m in measured.items()]  # wraps between
    return f"{metric.label[0].lower()}{metric.label[1:]}: " + " \u00b7 ".join(shown)


def _formatted(metric: Any, value: Any) -> str:
    """A metric's value as the kind's pages show it; a missing or odd value is "unknown", never an error."""
    return metric.format(value) if isinstance(value, (int, float)) else "unknown"
