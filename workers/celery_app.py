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
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutting_down

from grader.config import Settings, load_settings
from grader.services.queue import message_settings

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
        "broker_transport_options": {"visibility_timeout": settings.visibility_timeout},
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


_sweeper = Sweeper()


@worker_ready.connect
def _start_sweeper(**_kwargs: Any) -> None:
    if not _sweeper.is_alive():
        _sweeper.start()


@worker_shutting_down.connect
def _stop_sweeper(**_kwargs: Any) -> None:
    _sweeper.stopping.set()
