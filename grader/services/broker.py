"""What the broker holds: is it reachable, and how many messages wait in each grading queue.

Through kombu, so the same code reads Redis (production) and kombu's SQLAlchemy
transport on SQLite (the embedded default). A queue's length is the message
count of a passive declare: what waits to be delivered, not what workers hold
unacknowledged. A queue that does not exist yet holds nothing. A broker that is
down or slow is reported, never raised, and never holds the caller past its
deadline: the web process asks this on every readiness probe.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

from grader.services.queue import CPU_QUEUE, GPU_QUEUE, RERUN_QUEUE, transport_options

GRADING_QUEUES = (GPU_QUEUE, CPU_QUEUE, RERUN_QUEUE)
DEFAULT_TIMEOUT = 2.0  # seconds; readiness probes of load balancers typically wait a few seconds
# What kombu hands create_engine for an SQLite broker: wait for SQLite's lock rather than fail (as the demo does).


@dataclasses.dataclass(frozen=True)
class BrokerReport:
    """The broker as one inspection found it; `error` (staff detail) is set when it did not answer."""

    queues: dict[str, int]  # waiting messages per queue; empty when the broker did not answer
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.error is None


def inspect_broker(url: str, queues: Sequence[str] = GRADING_QUEUES, timeout: float = DEFAULT_TIMEOUT) -> BrokerReport:
    """Count the messages waiting in each queue: `timeout` seconds to connect, one more for the counting."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["queues"] = _queue_lengths(url, queues, timeout)
        except Exception as exc:  # any transport's failure is a report, not a crash
            outcome["error"] = f"{type(exc).__name__}: {exc}"

    # A daemon thread bounds the wait whatever the transport does (DNS, locks,
    # a client library's own retries); a late answer is simply dropped.
    thread = threading.Thread(target=work, name="grader-broker-inspect", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if thread.is_alive():
        return BrokerReport({}, f"the broker did not answer within {timeout + 1.0:g} s")
    if "error" in outcome:
        return BrokerReport({}, outcome["error"])
    return BrokerReport(outcome["queues"])


def _queue_lengths(url: str, queues: Sequence[str], timeout: float) -> dict[str, int]:
    """Connect once (no retries) and declare each queue passively."""
    from kombu import Connection
    from kombu.exceptions import ChannelError

    with Connection(url, connect_timeout=timeout, transport_options=_transport_options(url, timeout)) as connection:
        connection.ensure_connection(max_retries=0)
        missing = (ChannelError, *connection.channel_errors)
        lengths = {}
        for queue in queues:
            # A channel per queue: on AMQP brokers a failed passive declare closes its channel.
            with connection.channel() as channel:
                try:
                    lengths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
                except missing:
                    lengths[queue] = 0
        return lengths


def _transport_options(url: str, timeout: float) -> dict[str, Any]:
    """Socket timeouts for Redis; for the SQLAlchemy transport, the engine options the producer and workers use.

    kombu's SQLAlchemy transport builds one engine per URL per process, from the
    options of whoever connects first, so an inspection must not bring options
    of its own: it would impose them on the web process's producer. Its wait is
    bounded by inspect_broker's deadline instead.
    """
    if url.startswith(("redis://", "rediss://", "redis+socket://", "unix://")):
        return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "max_retries": 0}
    return transport_options(url)
