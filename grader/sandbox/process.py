"""The processes of a run: start one, drain its output, watch its limits, reap it.

Shared by every runner (bubblewrap, direct, warm): none of it knows about
namespaces or cgroups.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable

from grader.core.errors import SandboxError
from grader.sandbox.spec import Termination


class OutputCollector:
    """Drain a pipe in a thread: keep the first `cap` bytes, count the rest."""

    def __init__(self, stream, cap: int):
        self._stream = stream
        self._cap = cap
        self._lock = threading.Lock()
        self.kept = bytearray()
        self.dropped = 0
        self._thread = threading.Thread(target=self._drain, name="grader-sandbox-output", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        fd = self._stream.fileno()
        while chunk := os.read(fd, 1 << 16):
            with self._lock:
                room = max(0, self._cap - len(self.kept))
                self.kept += chunk[:room]
                self.dropped += len(chunk) - min(room, len(chunk))

    def restart(self, cap: int) -> str:
        """Forget what was written so far (returned) and keep the next `cap` bytes: a warm run's handover."""
        with self._lock:
            before = self.kept.decode("utf-8", errors="replace")
            self.kept, self.dropped, self._cap = bytearray(), 0, cap
        return before

    def finish(self, timeout: float) -> None:
        """Wait for end of output (every writer gone), then close the pipe."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise SandboxError("the output pipe stayed open after every process of the run was killed")
        self._stream.close()

    def text(self) -> str:
        """Return the kept output, with a note when some was dropped."""
        text = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[grader] output truncated: {self.dropped} bytes dropped\n"
        return text


def spawn(argv: list[str], env: dict[str, str], cwd: str | None, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
    """Start `argv` in its own session, output on one pipe, no stdin."""
    try:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, cwd=cwd, pass_fds=pass_fds, close_fds=True, start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        raise SandboxError(f"cannot start {argv[0]}: {exc}") from exc


def supervise(
    exited: Callable[[], bool], check: Callable[[], Termination | None], deadline: float, poll_interval: float
) -> Termination | None:
    """Poll until exit (None), the wall deadline, or a limit that `check` reports."""
    delay = 0.001  # start fast so short runs cost milliseconds; settle at poll_interval
    while not exited():
        if time.monotonic() >= deadline:
            return Termination.WALL_LIMIT
        if (hit := check()) is not None:
            return hit
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, poll_interval)
    return None


def read_status(fd: int) -> dict:
    """Merge the JSON documents bwrap wrote to --json-status-fd."""
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 1 << 16):
            data += chunk
    merged: dict = {}
    text, decoder, pos = data.decode(errors="replace"), json.JSONDecoder(), 0
    while (pos := _skip_space(text, pos)) < len(text):
        try:
            document, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
        merged.update(document if isinstance(document, dict) else {})
    return merged


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def reap(proc: subprocess.Popen, timeout: float) -> None:
    """Make sure the direct child is dead and waited for."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"process {proc.pid} did not die within {timeout}s of SIGKILL") from exc


class Fd:
    """Close a raw fd with contextlib.closing."""

    def __init__(self, fd: int):
        self.fd = fd

    def close(self) -> None:
        os.close(self.fd)
