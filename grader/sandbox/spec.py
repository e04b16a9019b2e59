"""What a sandboxed run is given and what it gives back.

A run is handed its inputs as data (`RunSpec`), so the runner behind the
`Runner` interface can change (bubblewrap today, a warm pool later) without
touching the grading pipeline.
"""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Protocol

from grader.core.limits import Limits
from grader.sandbox.channel import ChannelFailure, Driver

__all__ = ["Limits", "Mount", "RunSpec", "Termination", "RunResult", "Runner"]


@dataclasses.dataclass(frozen=True)
class Mount:
    """A host path bound into the sandbox at `target`."""

    source: Path
    target: str
    writable: bool = False
    per_job: bool = False  # a folder of this job's own, which a warm sandbox takes over (grader.sandbox.warm)


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One command to run in the sandbox."""

    argv: tuple[str, ...]
    mounts: tuple[Mount, ...]
    limits: Limits
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    cwd: str = "/tmp"
    hidden: tuple[str, ...] = ()  # paths inside the sandbox replaced by an empty directory
    devices: tuple[str, ...] = ()  # host device nodes bound in (a GPU's /dev/nvidiaN, ...)
    # For a warm pool (grader.sandbox.warm): the pool whose sandboxes may take this job, and the
    # program they start ahead, which gets ready and then waits for the job (the warm protocol).
    pool: str | None = None
    warm_argv: tuple[str, ...] = ()


class Termination(str, enum.Enum):
    """How the sandboxed process ended, as the runner saw it."""

    EXITED = "exited"  # exit code in RunResult.exit_code
    SIGNALED = "signaled"  # signal number in RunResult.signal
    WALL_LIMIT = "wall_limit"
    STOPPED = "stopped"  # ended by the trusted side: the run broke the live channel's rules
    CPU_LIMIT = "cpu_limit"
    MEMORY_LIMIT = "memory_limit"


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What the runner measured."""

    termination: Termination
    exit_code: int | None
    signal: int | None
    log: str  # captured stdout + stderr, capped at Limits.output_bytes
    log_dropped_bytes: int
    wall_s: float
    cpu_s: float
    peak_memory_bytes: int
    tasks_refused: int = 0  # forks and threads refused at the processes limit (pids.max)
    channel_failure: ChannelFailure | None = None  # with a driver: how the run broke the channel's rules
    warm: bool = False  # run by a warm sandbox: wall_s and cpu_s count from its handover
    handover_s: float | None = None  # warm: from the job's arrival to its start, waiting for the warm-up included

    @property
    def ok(self) -> bool:
        return self.termination is Termination.EXITED and self.exit_code == 0


class Runner(Protocol):
    """Runs one RunSpec to the end and leaves nothing behind."""

    def visible_path(self, mount: Mount) -> str:
        """Where the run sees `mount` (its target in a sandbox, its source without one)."""
        ...

    def run(self, spec: RunSpec, driver: Driver | None = None) -> RunResult:
        """Run; raise grader.core.errors.SandboxError if the sandbox itself fails.

        With a driver, the run gets a live channel whose trusted end the driver works
        in a thread (grader.sandbox.channel); RunResult.channel_failure says how the
        run broke the channel's rules, if it did.
        """
        ...
