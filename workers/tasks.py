"""The grading tasks: thin. They re-read everything from the database and map errors to retries.

Also the main process's calls into the worker registry (its heartbeat thread
lives in workers/celery_app.py), on this process's own engine.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from celery.signals import worker_process_shutdown

from grader.core.errors import InfrastructureError
from grader.db import make_engine, make_sessions, transaction
from grader.logs import submission_context
from grader.models import utcnow
from grader.services import worker_registry
from grader.services.queue import GRADE_TASK, REFERENCES_TASK, SWEEP_TASK, CeleryQueue
from grader.services.reference_builds import build_references
from grader.services.worker_runs import run_submission, sweep_stuck
from grader.storage import BlobStore
from workers.celery_app import app, settings

log = logging.getLogger("grader.worker")


@cache
def _per_process(pid: int) -> dict[str, Any]:
    """Engine, store and queue of this process (a forked slot must not share its parent's connections)."""
    return {
        "sessions": make_sessions(make_engine(settings.database_url)),
        "store": BlobStore(settings.data_dir / "blobs"),
        "queue": CeleryQueue(settings.broker_url),
    }


def _resources() -> dict[str, Any]:
    return _per_process(os.getpid())


@cache
def _grading_service(pid: int) -> Any:
    """The grading service of this slot, pinned to its GPU if the machine has GPUs."""
    from billiard.process import current_process

    from grader.gpu import probe_gpus
    from grader.sandbox import PoolSettings, check_sandbox_available, make_runner
    from grader.services.grading import GradingService

    sandbox = {"bwrap_path": settings.bwrap, "cgroup_parent": settings.cgroup_parent, "host_uid": settings.sandbox_uid}
    check_sandbox_available(**sandbox)
    gpus = probe_gpus()
    slot = getattr(current_process(), "index", 0) or 0  # prefork slots are numbered 0..concurrency-1
    gpu = gpus[slot % len(gpus)] if gpus else None
    slots = max(1, len(gpus))  # one slot per GPU, else one slot (grader worker)
    threads = max(1, (os.cpu_count() or 1) // slots)  # each run's share of the machine's cores
    log.info("slot %s grades on %s, %s threads", pid, f"GPU {gpu.index} ({gpu.name})" if gpu else "the CPU", threads)
    warm = PoolSettings(settings.warm_pools, idle_seconds=settings.warm_idle_seconds)
    runner = make_runner(**sandbox, warm=warm, warm_home=warm_home())
    if hasattr(runner, "close"):  # warm pools: destroyed with the slot, not left for the next worker to sweep
        worker_process_shutdown.connect(lambda **_: runner.close(), weak=False)
    return GradingService(settings, runner, gpu, threads)


def warm_home() -> Path:
    """Where this machine's slots keep their warm sandboxes: beside the runs' own folders (the same filesystem)."""
    return settings.run_dir / "warm"


@app.task(name=GRADE_TASK, bind=True, max_retries=None)
def grade_submission(self: Any, submission_id: int) -> str | None:
    """Grade one submission, at most once however often this message arrives."""
    resources = _resources()
    with submission_context(int(submission_id)):  # every log record of this run carries the id
        try:
            state = run_submission(
                int(submission_id),
                sessions=resources["sessions"],
                store=resources["store"],
                grader=lambda: _grading_service(os.getpid()),
                settings=settings,
                queue=resources["queue"],  # sends the student's next waiting upload once this one is final
            )
        except InfrastructureError as exc:
            # The row is back in the queue; the attempt cap in the database ends the retries.
            log.warning("submission %s: retrying in %s s", submission_id, settings.retry_seconds)
            raise self.retry(exc=exc, countdown=settings.retry_seconds) from exc
    return state.value if state else None


@app.task(name=REFERENCES_TASK)
def build_references_task(assignment_id: int) -> str | None:
    """Build one assignment's references on this slot's sandbox (and GPU); the state on its row says how it went."""
    return build_references(
        _resources()["sessions"],
        int(assignment_id),
        lambda: _grading_service(os.getpid()).references,
        settings,
    )


def sweep_once() -> list[int]:
    """Requeue what is stuck (see grader.services.worker_runs.sweep_stuck)."""
    resources = _resources()
    return sweep_stuck(resources["sessions"], resources["queue"], settings)


@app.task(name=SWEEP_TASK)
def sweep_stuck_task() -> list[int]:
    """Sweep on demand (workers also sweep on their own, every settings.sweep_seconds)."""
    return sweep_once()


def register_worker(spec: worker_registry.WorkerSpec) -> None:
    """Record this worker in the registry (and forget workers long gone)."""
    now = utcnow()
    with transaction(_resources()["sessions"]) as session:
        worker_registry.forget_old_workers(session, now)
        worker_registry.register_worker(session, spec, now)


def beat_worker(name: str, slot_pids: Iterable[int]) -> bool:
    """Refresh this worker's heartbeat and its slots' warm pools; False if its row is gone and it must register again."""
    from grader.sandbox.warm import read_warm_status

    pids = list(slot_pids)
    pools = {pid: status for pid in pids if (status := read_warm_status(warm_home(), pid))}
    with transaction(_resources()["sessions"]) as session:
        return worker_registry.beat(session, name, pids, utcnow(), pools)


def stop_worker(name: str) -> None:
    """Mark this worker stopped in the registry."""
    with transaction(_resources()["sessions"]) as session:
        worker_registry.mark_stopped(session, name, utcnow())
