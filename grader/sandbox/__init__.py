"""Run untrusted code: bubblewrap namespaces, seccomp, and a cgroup per run.

`make_runner` picks the runner; `check_sandbox_available` says, for staff,
exactly what is missing on a machine and how to fix it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from grader.core.errors import SandboxError
from grader.core.limits import Limits
from grader.sandbox.pool import PoolSettings, WarmRunner
from grader.sandbox.runner import BWRAP_MISSING, SANDBOX_HOST_UID, BubblewrapRunner, UnsandboxedRunner
from grader.sandbox.spec import Mount, Runner, RunResult, RunSpec, Termination
from grader.sandbox.warm import warm_status_file

__all__ = [
    "BubblewrapRunner",
    "UnsandboxedRunner",
    "WarmRunner",
    "PoolSettings",
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
    *,
    unsafe_no_sandbox: bool = False,
    bwrap_path: str = "bwrap",
    cgroup_parent: str = "grader",
    host_uid: int = SANDBOX_HOST_UID,
    warm: PoolSettings | None = None,
    warm_home: Path | None = None,
) -> Runner:
    """Return the bubblewrap runner, warm pools in front of it when `warm` names some, or the
    unsandboxed one when explicitly asked for.

    `warm_home` holds the warm sandboxes' folders: on the filesystem of the runs' own folders
    (the jobs' folders are renamed into them). Each slot's pool state goes to warm_status_file.
    """
    if unsafe_no_sandbox:
        return UnsandboxedRunner()
    runner = BubblewrapRunner(bwrap_path=bwrap_path, cgroup_parent=cgroup_parent, host_uid=host_uid)
    if warm is None or not warm.enabled or warm_home is None:
        return runner
    return WarmRunner(runner, warm, warm_home, warm_status_file(warm_home, os.getpid()))


def check_sandbox_available(
    bwrap_path: str = "bwrap",
    cgroup_parent: str = "grader",
    *,
    host_uid: int = SANDBOX_HOST_UID,
    unsafe_no_sandbox: bool = False,
) -> None:
    """Raise SandboxError naming what is missing, unless the unsafe option was chosen."""
    if unsafe_no_sandbox:
        log.warning("sandbox check skipped: --unsafe-no-sandbox was chosen; NEVER grade student code this way")
        return
    runner = BubblewrapRunner(bwrap_path=bwrap_path, cgroup_parent=cgroup_parent, host_uid=host_uid)
    runner.layout()  # raises with the missing cgroup controllers
    smoke = RunSpec(argv=("/bin/true",), mounts=(), limits=Limits(wall_seconds=30, max_processes=64))
    try:
        result = runner.run(smoke)
    except SandboxError as exc:
        if exc.staff_detail == BWRAP_MISSING:
            raise
        raise SandboxError(f"a trial sandbox failed: {exc.staff_detail}{userns_hint(exc.staff_detail)}") from exc
    if not result.ok:
        raise SandboxError(f"a trial sandbox running /bin/true ended {result.termination.value}: {result.log}")


# Kernel settings that stop an unprivileged user from creating user namespaces:
# (file under /proc/sys, the value that blocks, the fix).
USERNS_BLOCKERS = (
    ("user/max_user_namespaces", "0", "sysctl -w user.max_user_namespaces=15000"),
    ("kernel/unprivileged_userns_clone", "0", "sysctl -w kernel.unprivileged_userns_clone=1"),
    (
        "kernel/apparmor_restrict_unprivileged_userns",
        "1",
        "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or give bwrap an AppArmor profile with 'userns,'",
    ),
)


def userns_hint(detail: str, proc_sys: Path = Path("/proc/sys")) -> str:
    """Explain why bwrap, run as an unprivileged user, may have failed to create its namespaces."""
    who = "the worker's user" if os.geteuid() != 0 else "an unprivileged sandbox user (the worker is root)"
    needs = f"; bwrap runs as {who}, which needs unprivileged user namespaces"
    for name, blocking, fix in USERNS_BLOCKERS:
        try:
            value = (proc_sys / name).read_text().strip()
        except OSError:
            continue
        if value == blocking:
            return f"{needs}, but /proc/sys/{name} is {value}: {fix}"
    if "namespace" in detail or "uid map" in detail:
        return (
            f"{needs}: no sysctl forbids them here, "
            f"so look for a security module (AppArmor, SELinux) or a container's seccomp profile that does"
        )
    return ""
