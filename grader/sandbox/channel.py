"""A live channel between the trusted side and a sandboxed run, and the driver that works it.

Some evaluations cannot be handed over as files: a reinforcement-learning agent
is asked for one action at a time, by an environment the sandbox never sees.
The runner hands the run one end of an AF_UNIX socketpair (an inherited
descriptor, its number in the environment variable `CHANNEL_FD_ENV`) and runs
a *driver*, trusted code, on the other end in a thread, while the run's wall,
CPU, memory and process limits and its kill-everything cleanup work as always.

Frames are a 4-byte big-endian length, then that many bytes of UTF-8 JSON
(grader.harness.protocol). The trusted side reads one bounded frame at a time
and accepts only a JSON object of plain values (no NaN, no pickle); the
driver checks every field. Whatever the other end does (closes, floods,
answers garbage or nothing) ends as a ChannelFailure with a message for the
student, never as a hang.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from grader.core.errors import SandboxError
from grader.harness.protocol import CHANNEL_FD_ENV, FRAME_HEADER_BYTES, MAX_FRAME_BYTES

log = logging.getLogger("grader.sandbox")

_HEADER = struct.Struct(">I")
assert _HEADER.size == FRAME_HEADER_BYTES
CLOSED_GRACE = 3.0  # seconds a run whose end of the channel closed may take to exit on its own


class ChannelFailure(Exception):
    """The sandboxed end broke the channel's rules; the submission's failure, not ours."""

    def __init__(self, student_message: str, staff_detail: str, timed_out: bool = False, closed: bool = False):
        super().__init__(student_message)
        self.student_message = student_message
        self.staff_detail = staff_detail
        self.timed_out = timed_out  # no answer within the step limit
        self.closed = closed  # the run's end closed: it may be exiting with an error of its own to report


class Channel:
    """The trusted end: send a message, receive the answer within a time limit."""

    def __init__(self, sock: socket.socket, max_frame_bytes: int = MAX_FRAME_BYTES):
        self.sock = sock
        self.max_frame_bytes = max_frame_bytes
        self.frames_received = 0

    def send(self, message: dict[str, Any], timeout: float = 10.0) -> None:
        """Send one message; a run that stopped reading (or closed) fails the channel."""
        data = json.dumps(message, allow_nan=False).encode()
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(_HEADER.pack(len(data)) + data)
        except TimeoutError:
            raise ChannelFailure(
                "Your code stopped reading from grader's channel.", f"send blocked for {timeout} s", timed_out=True
            ) from None
        except OSError as exc:
            raise _closed(f"send failed: {exc}") from None

    def receive(self, timeout: float) -> dict[str, Any]:
        """Receive one message within `timeout` seconds (the whole frame, not each byte)."""
        deadline = time.monotonic() + timeout
        (length,) = _HEADER.unpack(self._read(FRAME_HEADER_BYTES, deadline, timeout))
        if length > self.max_frame_bytes:
            raise ChannelFailure(
                f"Your code sent grader a message of {length:,} bytes; at most {self.max_frame_bytes:,} are accepted.",
                f"frame of {length} bytes refused (limit {self.max_frame_bytes})",
            )
        data = self._read(length, deadline, timeout)
        self.frames_received += 1
        return _parse(data)

    def _read(self, size: int, deadline: float, timeout: float) -> bytes:
        chunks, missing = [], size
        while missing:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _silent(timeout)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(min(missing, 1 << 16))
            except TimeoutError:
                raise _silent(timeout) from None
            except OSError as exc:
                raise _closed(f"recv failed: {exc}") from None
            if not chunk:
                raise _closed(f"end of stream after {self.frames_received} frames ({size - missing}/{size} bytes)")
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)


def _parse(data: bytes) -> dict[str, Any]:
    """A JSON object of plain values, or a ChannelFailure that says what arrived instead."""

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a number grader accepts")

    try:
        value = json.loads(data.decode("utf-8"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ChannelFailure(
            "Your code sent grader something that is not a message of the channel's protocol.",
            f"unparsable frame ({len(data)} bytes): {exc}; starts {data[:80]!r}",
        ) from None
    if not isinstance(value, dict):
        raise ChannelFailure(
            "Your code sent grader something that is not a message of the channel's protocol.",
            f"frame is a JSON {type(value).__name__}, not an object",
        )
    return value


def _closed(detail: str) -> ChannelFailure:
    return ChannelFailure(
        "Your code closed grader's channel before the evaluation ended (or the run ended).", detail, closed=True
    )


def _silent(timeout: float) -> ChannelFailure:
    return ChannelFailure(
        f"Your code did not answer within the {timeout:g} s limit for one step.",
        f"no complete frame within {timeout} s",
        timed_out=True,
    )


def is_number(value: Any) -> bool:
    """A plain finite number (bool is not one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# The driver: trusted code that works the channel while the run runs.
#   driver(channel) -> None. Returning closes the channel for writing (the run reads the end of
#   the stream) and lets the run finish on its own, within its limits; raising ChannelFailure ends
#   the run at once; any other exception is our failure.
Driver = Callable[[Channel], None]


class LiveChannel:
    """One run's socketpair and the thread that drives the trusted end (used by the runners)."""

    def __init__(self, driver: Driver, sockets: tuple[socket.socket, socket.socket] | None = None):
        """`sockets`: the (trusted, inside) pair, when the run was started before its driver existed (warm)."""
        self.driver = driver
        self.trusted, self.inside = sockets or socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.failure: ChannelFailure | None = None  # the run broke the channel's rules
        self.error: BaseException | None = None  # the driver itself broke: ours
        self._done = threading.Event()
        self._ended = 0.0  # when the driver returned (monotonic)
        self._thread = threading.Thread(target=self._drive, name="grader-channel-driver", daemon=True)

    def env(self) -> dict[str, str]:
        """What the run's environment says about its end."""
        return {CHANNEL_FD_ENV: str(self.inside.fileno())}

    def start(self) -> None:
        """Once the run is spawned: drop our copy of its end (so its exit is seen), then drive."""
        self.inside.close()
        self._thread.start()

    def _drive(self) -> None:
        try:
            self.driver(Channel(self.trusted))
            self.trusted.shutdown(socket.SHUT_WR)  # the evaluation is over: the run reads the end of the stream
        except ChannelFailure as failure:
            self.failure = failure
        except BaseException as exc:  # noqa: BLE001 - reported as ours once the run is cleaned up
            log.exception("the channel driver failed")
            self.error = exc
        finally:
            self._ended = time.monotonic()
            self._done.set()

    def must_stop(self) -> bool:
        """Whether the run should be ended now: the driver failed, or the run broke the rules.

        A run whose end closed gets CLOSED_GRACE seconds to exit by itself first: a
        harness whose student code raised closes the channel as it unwinds, then writes
        the error the student should read.
        """
        if not self._done.is_set() or (self.failure is None and self.error is None):
            return False
        if self.failure is not None and self.failure.closed:
            return time.monotonic() - self._ended >= CLOSED_GRACE
        return True

    def close(self, timeout: float) -> None:
        """After the run is dead: close our end (ending any wait) and join the driver."""
        with contextlib.suppress(OSError):
            self.trusted.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.trusted.close()
        self.inside.close()
        if self._thread.is_alive():
            raise SandboxError(f"the channel driver did not stop within {timeout} s of the run's end")
        if self.error is not None:
            raise SandboxError(f"the channel driver failed: {self.error!r}") from self.error
