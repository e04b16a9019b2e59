"""A warm pool: sandboxes started ahead, their framework imported, each waiting for one job.

Importing PyTorch costs seconds, TensorFlow more: often more than training a
homework model. So each worker slot keeps a few sandboxes started ahead, per
pool ("torch", "keras", "lightning", "none"): isolated exactly as a cold run
(the same bubblewrap, seccomp, cgroup, mounts and user: BubblewrapRunner.launch),
whose harness has imported its framework and waits on a control socket (the
warm protocol, grader.harness.protocol). A job then:

1. arrives with its pool (the evaluator's static reading of the imports) and
   the warm program to start ahead (`RunSpec.warm_argv`);
2. takes a ready sandbox of that pool started for the same profile (argv,
   environment, shared mounts, hidden paths, devices, scratch size; see
   `profile_of`), waiting for one still warming, or runs cold when none is there;
3. is handed over: its per-job folders (`Mount.per_job`: the submission, the
   job file, the output) become the very folders the sandbox has bound since
   it started (renamed into place, never copied), its memory and task limits
   are written to the sandbox's cgroup, and only then is it told to go. Its
   wall and CPU limits count from that moment: it is never charged for the
   warm-up;
4. runs to the end under the same supervision as a cold run, and the sandbox
   is destroyed with everything in it: never reused. A fresh one is started in
   its place at once, warming up in the background of the job.

A warm sandbox that dies while idle is destroyed, logged and replaced, never
handed a job (up to three in a row: a pool whose warm-up keeps failing waits
for its next job); one idle longer than the idle lifetime is retired. Each slot
writes its pools' state to a small JSON file that the worker's heartbeat
publishes on /staff/workers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import select
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from grader.core.errors import SandboxError
from grader.harness.protocol import CHANNEL_FD_ENV, WARM_FD_ENV, WARM_GO, WARM_READY
from grader.sandbox.channel import Driver, LiveChannel
from grader.sandbox.runner import BubblewrapRunner, Launched, sanitize_writable_mounts
from grader.sandbox.spec import Mount, RunResult, RunSpec

log = logging.getLogger("grader.sandbox.warm")


def profile_of(spec: RunSpec, live: bool) -> tuple:
    """What a warm sandbox shares with every job it may take: all but the per-job folders and the limits set at handover."""
    mounts = tuple((m.target, m.writable, m.per_job, None if m.per_job else str(m.source)) for m in spec.mounts)
    env = tuple(sorted(spec.env.items()))
    return (spec.pool, spec.warm_argv, env, spec.cwd, spec.hidden, spec.devices, spec.limits.disk_bytes, mounts, live)


class WarmSandbox:
    """One sandbox started ahead for `spec`'s profile; it takes exactly one job, then is destroyed."""

    def __init__(self, runner: BubblewrapRunner, spec: RunSpec, live: bool, home: Path):
        self.spec, self.live = spec, live
        self.profile = profile_of(spec, live)
        self.born = time.monotonic()
        self.ready_at: float | None = None
        self.broken = ""  # why it can no longer take a job
        self._cleanup = contextlib.ExitStack()
        inside: list[socket.socket] = []
        try:
            self.folder = Path(tempfile.mkdtemp(prefix=f"grader-warm-{os.getpid()}-", dir=home))
            self._cleanup.callback(shutil.rmtree, self.folder, ignore_errors=True)
            self.own: dict[str, Path] = {}  # per-job mount target -> the folder bound there
            mounts = tuple(self._own_mount(index, mount) for index, mount in enumerate(spec.mounts))
            self.control, control_inside = socket.socketpair()
            self.control.setblocking(False)  # read only when select says so; never hang on it
            self._cleanup.callback(self.control.close)
            inside.append(control_inside)
            env = {**spec.env, WARM_FD_ENV: str(control_inside.fileno())}
            self.channel: tuple[socket.socket, socket.socket] | None = None
            if live:  # the live channel exists from the start; its driver comes with the job
                self.channel = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                self._cleanup.callback(self.channel[0].close)
                inside.append(self.channel[1])
                env[CHANNEL_FD_ENV] = str(self.channel[1].fileno())
            template = dataclasses.replace(spec, argv=spec.warm_argv, mounts=mounts, env=env)
            self.launched: Launched = runner.launch(template, self._cleanup, tuple(s.fileno() for s in inside))
        except BaseException:
            self._cleanup.close()
            raise
        finally:
            for end in inside:  # the sandbox holds its own copies now
                end.close()

    def _own_mount(self, index: int, mount: Mount) -> Mount:
        """A per-job mount is bound from an empty folder of the sandbox's own, filled at handover."""
        if not mount.per_job:
            return mount
        own = self.folder / f"mount-{index}"
        own.mkdir()
        own.chmod(0o755)
        self.own[mount.target] = own
        return dataclasses.replace(mount, source=own)

    @property
    def pid(self) -> int:
        return self.launched.proc.pid

    def alive(self) -> bool:
        """Whether it may still take a job: running, and it has not broken the warm protocol."""
        if not self.broken and self.launched.proc.poll() is not None:
            self.broken = f"exited with status {self.launched.proc.returncode} while idle"
        return not self.broken

    def ready(self, timeout: float = 0.0) -> bool:
        """Whether it has said it is ready, waiting up to `timeout` seconds for it to say so."""
        deadline = time.monotonic() + timeout
        while self.ready_at is None and self.alive():
            left = max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([self.control], [], [], min(left, 0.2))
            if readable:
                try:
                    said = self.control.recv(1)
                except BlockingIOError:  # another reader took it first
                    continue
                if said == WARM_READY:
                    self.ready_at = time.monotonic()
                else:
                    self.broken = f"said {said!r} instead of ready" if said else "closed its control socket"
            elif left <= 0:
                break
        return self.ready_at is not None

    def hand_over(self, runner: BubblewrapRunner, spec: RunSpec, driver: Driver | None, arrived: float) -> RunResult:
        """Run `spec` here: its folders and limits in place, then go; destroy the sandbox when it ends."""
        with contextlib.ExitStack() as cleanup:
            live = LiveChannel(driver, self.channel) if driver is not None and self.channel else None
            if live:
                cleanup.callback(live.close, runner.kill_timeout)  # last: after every process is dead
            cleanup.callback(sanitize_writable_mounts, spec.mounts)
            cleanup.enter_context(self._cleanup)  # kills everything, removes the cgroup and the folder
            self._take_folders(spec)
            self.launched.cgroup.configure(spec.limits)
            warm_up_output = self.launched.output.restart(spec.limits.output_bytes)
            if warm_up_output.strip():
                log.info("warm sandbox %s said while warming up: %s", self.pid, warm_up_output[-2000:])
            cpu_before = self.launched.cgroup.cpu_seconds()
            try:
                self.control.sendall(WARM_GO)
            except OSError as exc:
                raise SandboxError(f"the warm sandbox {self.pid} could not be told to go: {exc}") from exc
            started = time.monotonic()
            if live:
                live.start()
            result = runner.follow(self.launched, spec.limits, live, since=started, cpu_before=cpu_before)
            return dataclasses.replace(result, warm=True, handover_s=round(started - arrived, 4))
        raise AssertionError("unreachable")  # pragma: no cover

    def _take_folders(self, spec: RunSpec) -> None:
        """Make each per-job folder of `spec` the folder bound in the sandbox: move its entries in, rename it into place."""
        for mount in spec.mounts:
            if not mount.per_job:
                continue
            own, source = self.own[mount.target], Path(mount.source)
            for entry in source.iterdir():
                os.rename(entry, own / entry.name)
            source.rmdir()
            os.rename(own, source)  # the sandbox's bind follows the folder: it now sees the job's files at the target

    def destroy(self) -> None:
        """Kill it and remove everything it used (it took no job)."""
        self.control.close()  # the end of the stream: a waiting harness exits
        self._cleanup.close()


def warm_status_file(home: Path, slot_pid: int) -> Path:
    """Where the slot process `slot_pid` publishes its pools' state (read by its worker's heartbeat)."""
    return home / "status" / f"{slot_pid}.json"


def read_warm_status(home: Path, slot_pid: int) -> dict[str, Any] | None:
    """The state a slot last published, or None (no pool, or not yet)."""
    try:
        with warm_status_file(home, slot_pid).open("rb") as file:
            status = json.loads(file.read(64 * 1024))
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None
