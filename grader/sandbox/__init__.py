"""Run untrusted code: bubblewrap namespaces, seccomp, and a cgroup per run.

`make_runner` picks the runner; `check_sandbox_available` says, for staff,
exactly what is missing on a machine and how to fix it.
"""

from __future__ import annotations

import logging
import os

from grader.core.errors import SandboxError
from grader.core.limits import Limits
from grader.sandbox.runner import BWRAP_MISSING, BubblewrapRunner, UnsandboxedRunner
from grader.sandbox.spec import Mount, Runner, RunResult, RunSpec, Termination

__all__ = [
    "BubblewrapRunner",
    "UnsandboxedRunner",
    "make_runner",
    "check_sandbox_available",
    "Limits",
    "Mount",
    "Runner",
    "RunResult",
    "RunSpec",
    "Termination",
]

log = logging.getLogger("grader.sandbox")


def make_runner(
    *, unsafe_no_sandbox: bool = False, bwrap_path: str = "bwrap", cgroup_parent: str = "grader"
) -> Runner:
    """Return the bubblewrap runner, or the unsandboxed one when explicitly asked for."""
    if unsafe_no_sandbox:
        return UnsandboxedRunner()
    return BubblewrapRunner(bwrap_path=bwrap_path, cgroup_parent=cgroup_parent)


def check_sandbox_available(
    bwrap_path: str = "bwrap", cgroup_parent: str = "grader", *, unsafe_no_sandbox: bool = False
) -> None:
    """Raise SandboxError naming what is missing, unless the unsafe option was chosen."""
    if unsafe_no_sandbox:
        log.warning("sandbox check skipped: --unsafe-no-sandbox was chosen; NEVER grade student code this way")
        return
    runner = BubblewrapRunner(bwrap_path=bwrap_path, cgroup_parent=cgroup_parent)
    runner.layout()  # raises with the missing cgroup controllers
    smoke = RunSpec(argv=("/bin/true",), mounts=(), limits=Limits(wall_seconds=30, max_processes=64))
    try:
        result = runner.run(smoke)
    except SandboxError as exc:
        if exc.staff_detail == BWRAP_MISSING:
            raise
        raise SandboxError(f"a trial sandbox failed: {exc.staff_detail}{_userns_hint()}") from exc
    if not result.ok:
        raise SandboxError(f"a trial sandbox running /bin/true ended {result.termination.value}: {result.log}")


def _userns_hint() -> str:
    """Explain the usual cause when bwrap cannot create its namespaces."""
    try:
        with open("/proc/sys/user/max_user_namespaces") as fh:
            if int(fh.read()) == 0:
                return "; user namespaces are disabled: sysctl -w user.max_user_namespaces=15000"
    except (OSError, ValueError):
        pass
    if os.geteuid() != 0:
        return "; if bwrap reports 'No permissions to create new namespace', run the worker as root or allow unprivileged user namespaces"
    return ""
