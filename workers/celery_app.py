"""The Celery app of the grading workers, built at import time (an entry module).

Start a worker with `grader worker`, which picks the queues and the number of
slots from the GPUs it finds. Delivery settings follow DESIGN.md: JSON only;
a message is acknowledged after its task ends (acks_late), one at a time per
slot (prefetch 1), and given back if the slot's process dies; Redis redelivers
an unacknowledged message only after the visibility timeout, which is above the
hard time limit so a long run is never handed to a second worker. The attempt
cap lives in the database (grader.services.worker_runs).

The periodic sweep runs in a thread of every worker's main process (started
when the worker is ready): no beat process or schedule file to run, and it
still runs when every slot is busy. Several workers sweeping is harmless: a
resent message grades nothing unless its claim wins.

Another thread of the main process keeps the worker's row in the registry
(grader.services.worker_registry) fresh: registered when the worker is ready,
seen every settings.heartbeat_seconds, marked stopped when it shuts down.
Logging goes through grader.logs (text or JSON, with the submission's id), set
up through Celery's setup_logging signal so Celery does not install its own.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.signals import setup_logging, worker_ready, worker_shutdown, worker_shutting_down

from grader.config import Settings, load_settings
from grader.logs import configure_logging
from grader.services.queue import message_settings, transport_options
from grader.services.worker_registry import WorkerSpec

log = logging.getLogger("grader.worker")


def worker_config(settings: Settings) -> dict[str, Any]:
    """The Celery settings of a grading worker."""
    return {
        **message_settings(),
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
        "broker_transport_options": transport_options(settings.broker_url, settings.visibility_timeout),
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
    }


settings = load_settings()
app = Celery("grader", broker=settings.broker_url, include=["workers.tasks"])
app.conf.update(worker_config(settings))


class Sweeper(threading.Thread):
    """Call sweep_stuck every settings.sweep_seconds (jittered, so workers spread out)."""

    def __init__(self) -> None:
        super().__init__(name="grader-sweeper", daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        from workers.tasks import sweep_once

        while not self.stopping.wait(settings.sweep_seconds * random.uniform(0.8, 1.2)):
            try:
                sweep_once()
            except Exception:  # the database or broker may be briefly away; try again next round
                log.exception("sweep failed")


class RegistryHeartbeat(threading.Thread):
    """Register this worker, then refresh its row every settings.heartbeat_seconds until stopped."""

    def __init__(self) -> None:
        super().__init__(name="grader-registry", daemon=True)
        self.stopping = threading.Event()
        self.spec: WorkerSpec | None = None  # set when the worker is ready
        self.slot_pids: Callable[[], list[int]] = lambda: []  # the pool's current processes

    def run(self) -> None:
        from workers.tasks import beat_worker, register_worker

        registered = False
        while self.spec is not None and not self.stopping.is_set():
            try:
                if not registered:
                    register_worker(self.spec)
                    log.info("registered as %s: queues %s, %s", self.spec.name, ",".join(self.spec.queues),
                             _describe_gpus(self.spec.gpus))  # fmt: skip
                registered = beat_worker(self.spec.name, self.slot_pids())
            except Exception:  # the database may be briefly away; the row just looks stale meanwhile
                log.exception("worker registry heartbeat failed")
            self.stopping.wait(settings.heartbeat_seconds)

    def stop(self) -> None:
        """Stop beating and record the shutdown (called once the pool has finished its runs)."""
        from workers.tasks import stop_worker

        self.stopping.set()
        if self.is_alive():
            self.join(timeout=settings.heartbeat_seconds + 5)
        if self.spec is not None:
            try:
                stop_worker(self.spec.name)
            except Exception:
                log.exception("could not mark %s stopped in the worker registry", self.spec.name)


def _describe_gpus(gpus: Any) -> str:
    return ", ".join(f"GPU {g.index} ({g.name})" for g in gpus) if gpus else "CPU only"


def worker_spec(consumer: Any) -> WorkerSpec:
    """What this worker says about itself: node, queues, slots and GPUs, read from the running consumer."""
    from grader.gpu import probe_gpus
    from grader.services.worker_runs import worker_name

    host, pid = worker_name().rsplit(":", 1)
    queues = list(consumer.app.amqp.queues.consume_from or {}) or [q.name for q in consumer.task_consumer.queues]
    slots = int(getattr(consumer.controller, "concurrency", 0) or 1)
    return WorkerSpec(f"{host}:{pid}", consumer.hostname, host, int(pid), queues, slots, probe_gpus())


def _pool_pids(consumer: Any) -> list[int]:
    """The prefork pool's processes now (a slot that died is replaced by a new pid)."""
    try:
        return [int(p) for p in consumer.pool.info.get("processes", []) if p]
    except Exception:  # a pool that is starting or stopping; the next beat tries again
        return []


_sweeper = Sweeper()
_registry = RegistryHeartbeat()


@setup_logging.connect
def _setup_logging(loglevel: Any = None, **_kwargs: Any) -> None:
    # The real stderr: Celery then redirects sys.stderr into logging, which must not loop back here.
    configure_logging(settings.log_format, loglevel or logging.INFO, stream=sys.__stderr__)


@worker_ready.connect
def _start_threads(sender: Any = None, **_kwargs: Any) -> None:
    if not _sweeper.is_alive():
        _sweeper.start()
    if not _registry.is_alive() and sender is not None:
        _registry.spec = worker_spec(sender)
        _registry.slot_pids = lambda: _pool_pids(sender)
        _registry.start()


@worker_shutting_down.connect
def _stop_sweeper(**_kwargs: Any) -> None:
    _sweeper.stopping.set()


@worker_shutdown.connect
def _stop_registry(**_kwargs: Any) -> None:
    _registry.stop()
