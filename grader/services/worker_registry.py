"""The registry of grading workers: who is serving which queues, on which GPUs, grading what.

Every worker's main process registers itself when it is ready, refreshes
`last_seen_at` every few seconds from a thread, and marks itself stopped when it
shuts down. A worker killed outright cannot say so: it simply stops being seen,
and reads as `stale` once its heartbeat is older than the staleness window.

A worker's current runs are derived, not stored: the running submissions whose
`worker` column (host:pid of the slot process that claimed them, see
grader.services.worker_runs.worker_name) is one of this worker's processes.
So the registry never disagrees with the submission rows.

Sessions are passed in; the caller owns the transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from grader.gpu import Gpu
from grader.models import Assignment, State, Submission, Worker

FORGET_AFTER = dt.timedelta(days=7)  # rows of workers gone this long leave the registry


class Liveness(str, enum.Enum):
    """What staff should make of a worker row."""

    LIVE = "live"  # seen within the staleness window
    STALE = "stale"  # not seen for longer: killed, hung, or cut off from the database
    STOPPED = "stopped"  # shut down cleanly


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What a worker's main process says about itself when it registers."""

    name: str  # host:pid of the main process
    node: str  # Celery's node name
    host: str
    pid: int
    queues: Sequence[str]
    slots: int
    gpus: Sequence[Gpu]


@dataclasses.dataclass(frozen=True)
class RunView:
    """A submission a worker is grading now."""

    submission_id: int
    assignment: str
    started_at: dt.datetime | None
    progress: dict[str, Any] | None


@dataclasses.dataclass(frozen=True)
class WorkerView:
    """A worker as the staff page and the API show it."""

    name: str
    node: str
    host: str
    pid: int
    queues: list[str]
    slots: int
    gpus: list[dict[str, Any]]  # [] means CPU only
    state: Liveness
    started_at: dt.datetime
    last_seen_at: dt.datetime
    stopped_at: dt.datetime | None
    runs: list[RunView]
    pools: dict[str, Any] = dataclasses.field(default_factory=dict)  # slot pid -> its warm pools (WarmRunner.status)

    def to_json(self) -> dict[str, Any]:
        """The JSON form of the API: times in ISO 8601, runs by submission id."""
        data = dataclasses.asdict(self)
        data["state"] = self.state.value
        for key in ("started_at", "last_seen_at", "stopped_at"):
            data[key] = _iso(data[key])
        data["runs"] = [{**run, "started_at": _iso(run["started_at"])} for run in data["runs"]]
        return data


def gpu_json(gpus: Iterable[Gpu]) -> list[dict[str, Any]]:
    """What the registry keeps of each GPU: index, name and total memory (not the UUID)."""
    return [{"index": g.index, "name": g.name, "memory_total_bytes": g.memory_total_bytes} for g in gpus]


def register_worker(session: Session, spec: WorkerSpec, now: dt.datetime) -> None:
    """Record a worker that has just started (or start its row afresh if the name was seen before)."""
    row = session.scalars(select(Worker).where(Worker.name == spec.name)).one_or_none()
    if row is None:
        row = Worker(name=spec.name[:200])
        session.add(row)
    row.node, row.host, row.pid = spec.node[:200], spec.host[:200], spec.pid
    row.queues, row.slots, row.gpus = list(spec.queues), spec.slots, gpu_json(spec.gpus)
    row.slot_pids, row.pools = [], {}
    row.started_at = row.last_seen_at = now
    row.stopped_at = None


def beat(
    session: Session, name: str, slot_pids: Iterable[int], now: dt.datetime, pools: dict[int, Any] | None = None
) -> bool:
    """Refresh the worker's heartbeat, its slot processes and their warm pools; False if its row is gone (register again)."""
    pids = sorted(int(pid) for pid in slot_pids)
    slot_pools = {str(pid): (pools or {})[pid] for pid in pids if (pools or {}).get(pid)}
    changed = session.execute(
        update(Worker)
        .where(Worker.name == name)
        .values(last_seen_at=now, slot_pids=pids, pools=slot_pools, stopped_at=None)
        .execution_options(synchronize_session=False)
    )
    return changed.rowcount == 1


def mark_stopped(session: Session, name: str, now: dt.datetime) -> None:
    """Record a clean shutdown: the worker no longer serves anything."""
    session.execute(
        update(Worker)
        .where(Worker.name == name)
        .values(stopped_at=now, last_seen_at=now, slot_pids=[], pools={})
        .execution_options(synchronize_session=False)
    )


def forget_old_workers(session: Session, now: dt.datetime, after: dt.timedelta = FORGET_AFTER) -> int:
    """Delete rows of workers not seen for `after` (every restart adds a row); return how many."""
    return session.execute(delete(Worker).where(Worker.last_seen_at < now - after)).rowcount


def liveness(row: Worker, now: dt.datetime, stale_after: dt.timedelta) -> Liveness:
    """Live, stale or stopped, from the row's own times."""
    if row.stopped_at is not None:
        return Liveness.STOPPED
    return Liveness.LIVE if _aware(row.last_seen_at) >= now - stale_after else Liveness.STALE


def process_names(row: Worker) -> list[str]:
    """The names the worker's processes write into `Submission.worker` (host:pid, main process included)."""
    return [f"{row.host}:{pid}" for pid in (row.pid, *row.slot_pids)]


def list_workers(session: Session, now: dt.datetime, stale_after: dt.timedelta) -> list[WorkerView]:
    """Every worker in the registry, live ones first, each with the submissions it is grading."""
    rows = list(session.scalars(select(Worker).order_by(Worker.last_seen_at.desc(), Worker.id.desc())))
    owner = {name: row.name for row in rows if row.stopped_at is None for name in process_names(row)}
    runs = _running(session, list(owner))
    views = [
        WorkerView(
            name=row.name,
            node=row.node,
            host=row.host,
            pid=row.pid,
            queues=list(row.queues),
            slots=row.slots,
            gpus=list(row.gpus),
            state=liveness(row, now, stale_after),
            started_at=_aware(row.started_at),
            last_seen_at=_aware(row.last_seen_at),
            stopped_at=_aware(row.stopped_at) if row.stopped_at else None,
            runs=[run for process, run in runs if owner[process] == row.name],
            pools=dict(row.pools or {}) if row.stopped_at is None else {},
        )
        for row in rows
    ]
    order = {Liveness.LIVE: 0, Liveness.STALE: 1, Liveness.STOPPED: 2}
    return sorted(views, key=lambda view: order[view.state])


def live_worker_count(session: Session, now: dt.datetime, stale_after: dt.timedelta) -> int:
    """How many workers were seen within the staleness window and have not stopped."""
    query = select(Worker.id).where(Worker.stopped_at.is_(None), Worker.last_seen_at >= now - stale_after)
    return len(session.scalars(query).all())


def _running(session: Session, process_names: list[str]) -> list[tuple[str, RunView]]:
    """The running submissions claimed by any of these processes, oldest first."""
    if not process_names:
        return []
    query = (
        select(Submission.id, Submission.worker, Submission.started_at, Submission.progress, Assignment.slug)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Submission.state == State.RUNNING, Submission.worker.in_(process_names))
        .order_by(Submission.started_at, Submission.id)
    )
    return [
        (r.worker, RunView(r.id, r.slug, _aware(r.started_at) if r.started_at else None, r.progress))
        for r in session.execute(query)
    ]


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes (stored in UTC); make every time comparable."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None
