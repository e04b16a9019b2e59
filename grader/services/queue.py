"""The grading queue: submission ids sent to Celery workers by task name, JSON only.

The web side imports this module, never `workers/`: a message names its task
("grader.grade_submission") and carries only the submission's id; the worker
re-reads everything else from the database.

Routing (queue names are stable; workers pick them with `-Q`):

- a first run goes to `cpu`, which every worker consumes, so nothing waits for
  hardware a deployment may not have; a GPU worker takes it and pins it to its
  GPU, a CPU-only worker runs it on the CPU;
- `gpu` is consumed only by workers with GPUs, for work that needs one;
- `rerun` (regrading, and building an assignment's references ahead of its
  gradings; low priority) is consumed by every worker after its other queues:
  on Redis a worker takes from it only while its other queues are empty (the
  embedded SQLite broker alternates between queues).

A GPU worker consumes `gpu,cpu,rerun`; a CPU-only worker `cpu,rerun`.
"""

from __future__ import annotations

from typing import Any, Protocol

GRADE_TASK = "grader.grade_submission"
SWEEP_TASK = "grader.sweep_stuck"
REFERENCES_TASK = "grader.build_references"  # one assignment's reference solutions, by assignment id
GPU_QUEUE, CPU_QUEUE, RERUN_QUEUE = "gpu", "cpu", "rerun"
FIRST_RUN_QUEUE = CPU_QUEUE


def worker_queues(gpus: int) -> list[str]:
    """The queues a worker with `gpus` GPUs consumes, most urgent first."""
    return [GPU_QUEUE, CPU_QUEUE, RERUN_QUEUE] if gpus else [CPU_QUEUE, RERUN_QUEUE]


class GradingQueue(Protocol):
    """Where accepted submissions wait for a worker."""

    def enqueue(self, submission_id: int, *, rerun: bool = False) -> None:
        """Ask a worker to grade the submission (call only after its row is committed)."""

    def build_references(self, assignment_id: int) -> None:
        """Ask a worker to build the assignment's references (call only after its state is committed)."""


SQLALCHEMY_SCHEMES = ("sqla+", "sqlalchemy+")  # kombu's SQLAlchemy transport: the embedded default's broker
# kombu hands these options to create_engine: wait for SQLite's lock instead of failing at once. It builds
# one engine per URL per process from the first connection's options, so every user must pass the same.
SQLALCHEMY_TRANSPORT_OPTIONS: dict[str, Any] = {"connect_args": {"timeout": 30}}


def is_sqlalchemy_broker(url: str) -> bool:
    """Return whether the broker URL names kombu's SQLAlchemy transport."""
    return url.startswith(SQLALCHEMY_SCHEMES)


def transport_options(broker_url: str, visibility_timeout: float | None = None) -> dict[str, Any]:
    """Celery's broker_transport_options for this broker.

    Redis workers take the visibility timeout and serve their queues in priority order; the SQLAlchemy
    transport refuses both (every option goes to create_engine: it rotates its queues) and gets its engine
    options.
    """
    if is_sqlalchemy_broker(broker_url):
        return dict(SQLALCHEMY_TRANSPORT_OPTIONS)
    if visibility_timeout is None:
        return {}
    # A worker's BRPOP names its queues in the worker's order every time, so `rerun` (re-runs, reference
    # builds) is served only while the first-run queues are empty; kombu's default rotates them.
    return {"visibility_timeout": visibility_timeout, "queue_order_strategy": "priority"}


def message_settings() -> dict[str, Any]:
    """Celery settings the producer and the workers share: JSON only, never pickle."""
    return {
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": FIRST_RUN_QUEUE,
        "task_ignore_result": True,  # results live in the database, not in the broker
    }


class CeleryQueue:
    """A GradingQueue on a Celery broker; the Celery app is built on first use."""

    def __init__(self, broker_url: str):
        self.broker_url = broker_url
        self._app: Any = None

    def enqueue(self, submission_id: int, *, rerun: bool = False) -> None:
        """Send the grading task by name with the id as its only argument."""
        queue = RERUN_QUEUE if rerun else FIRST_RUN_QUEUE
        self.app.send_task(GRADE_TASK, args=[int(submission_id)], queue=queue)

    def build_references(self, assignment_id: int) -> None:
        """Send the reference build by name with the assignment's id, at low priority: a grading that
        needs the references before it runs builds them itself (grader.services.reference_builds)."""
        self.app.send_task(REFERENCES_TASK, args=[int(assignment_id)], queue=RERUN_QUEUE)

    def warm(self) -> None:
        """Import Celery and open a pooled broker connection now, so the first upload does not wait ~0.5 s."""
        with self.app.producer_pool.acquire(block=True) as producer:
            producer.connection.ensure_connection(max_retries=1, interval_start=0.5)

    @property
    def app(self) -> Any:
        if self._app is None:
            from celery import Celery  # imported late: the web app starts without Celery

            self._app = Celery("grader-producer", broker=self.broker_url, set_as_current=False)
            self._app.conf.update(message_settings(), broker_transport_options=transport_options(self.broker_url))
        return self._app


class RecordingQueue:
    """A GradingQueue double that records what was enqueued (for unit tests)."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[int, bool]] = []
        self.reference_builds: list[int] = []  # assignment ids

    def enqueue(self, submission_id: int, *, rerun: bool = False) -> None:
        self.enqueued.append((submission_id, rerun))

    def build_references(self, assignment_id: int) -> None:
        self.reference_builds.append(assignment_id)
