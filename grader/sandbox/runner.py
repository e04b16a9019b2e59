"""Runners: bubblewrap + seccomp + a cgroup per run, and an unsafe direct one.

    BubblewrapRunner     untrusted code: namespaces, seccomp, cgroup limits, and an
                         unprivileged host user when the worker is root (launch.py)
    UnsandboxedRunner    trusted code only, where bwrap or cgroups are missing

Both send stdout and stderr through one pipe that a thread drains (so the child
never blocks on a full pipe), keep the first Limits.output_bytes and count the
rest. Both leave nothing behind: cleanup runs in a `finally` (an ExitStack).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from grader.core.errors import SandboxError
from grader.core.limits import Limits
from grader.sandbox.bwrap import (
    BASE_ENV,
    build_bwrap_argv,
    host_path_of,
    probe_host,
    python_env_dirs,
    write_run_files,
)
from grader.sandbox.cgroup import RunCgroup, create_run_cgroup, remove_stale_runs, worker_is_dead
from grader.sandbox.cgroup_layout import CgroupLayout, detect_layout, prepare_parent
from grader.sandbox.channel import Driver, LiveChannel
from grader.sandbox.launch import (
    ROOT_TOOLS,
    WRAPPER_FAILED,
    SandboxUser,
    hand_over_writable_mounts,
    stage_binds,
    wrapper_argv,
)
from grader.sandbox.process import Fd, OutputCollector, read_status, reap, spawn, supervise
from grader.sandbox.seccomp import open_filter_fd
from grader.sandbox.spec import Mount, RunResult, RunSpec, Termination

log = logging.getLogger("grader.sandbox")

BWRAP_MISSING = "bubblewrap (bwrap) is not installed or not on PATH: apt-get install -y bubblewrap"
ROOT_TOOLS_MISSING = (
    "the worker runs as root, so it runs bwrap as an unprivileged user through util-linux's "
    "unshare, mount and setpriv; missing: {missing}. Fix: apt-get install -y util-linux mount"
)
SANDBOX_HOST_UID = 60000  # the host uid (and gid) of sandboxed programs when the worker is root


def _rlimits(limits: Limits) -> list[tuple[str, int]]:
    """No core dumps; no file larger than the scratch disk (sh counts 512-byte blocks)."""
    return [("-c", 0), ("-f", math.ceil(limits.disk_bytes / 512))]


@dataclasses.dataclass(frozen=True)
class Launched:
    """A started sandbox: its first process, its cgroup, its output, and bwrap's status pipe."""

    proc: subprocess.Popen
    cgroup: RunCgroup
    output: OutputCollector
    status_fd: int
    started: float  # monotonic


class BubblewrapRunner:
    """Run untrusted code in bubblewrap, under seccomp, in a cgroup of its own."""

    def __init__(
        self,
        bwrap_path: str = "bwrap",
        cgroup_parent: str = "grader",
        *,
        host_uid: int = SANDBOX_HOST_UID,
        python_dirs: tuple[str, ...] | None = None,
        cgroup_layout: CgroupLayout | None = None,
        poll_interval: float = 0.05,
        kill_timeout: float = 10.0,
    ):
        self.bwrap_path = bwrap_path
        self.cgroup_parent = cgroup_parent
        self.host_uid = host_uid  # used only when the worker is root; the gid is the same number
        self.python_dirs = python_dirs if python_dirs is not None else python_env_dirs()
        self.poll_interval = poll_interval
        self.kill_timeout = kill_timeout
        self._layout = cgroup_layout

    def visible_path(self, mount: Mount) -> str:
        return mount.target

    def layout(self) -> CgroupLayout:
        """Return the cgroup layout, detected on first use."""
        if self._layout is None:
            self._layout = detect_layout()
            prepare_parent(self._layout, self.cgroup_parent)
            # A worker killed mid-run (SIGKILL, OOM) never ran its cleanup: its
            # processes died with it (--die-with-parent), its empty cgroups did not.
            for run_id in remove_stale_runs(self._layout, self.cgroup_parent, self.kill_timeout):
                log.info("removed the cgroup of run %s, left by a dead worker", run_id)
            _remove_stale_workdirs()
        return self._layout

    def run(self, spec: RunSpec, driver: Driver | None = None) -> RunResult:
        """Run `spec` to the end; raise SandboxError if the sandbox itself fails."""
        with contextlib.ExitStack() as cleanup:
            live, spec = _open_channel(driver, spec, cleanup, self.kill_timeout)
            cleanup.callback(sanitize_writable_mounts, spec.mounts)  # runs once every process is dead
            launched = self.launch(spec, cleanup, _inside(live))
            if live:
                live.start()
            return self.follow(launched, spec.limits, live)
        raise AssertionError("unreachable")  # pragma: no cover

    def launch(self, spec: RunSpec, cleanup: contextlib.ExitStack, pass_fds: tuple[int, ...] = ()) -> Launched:
        """Start `spec` in a sandbox of its own; `cleanup` kills it and removes everything it used.

        `pass_fds` are inherited by the program (the ends of its channels).
        """
        bwrap = shutil.which(self.bwrap_path)
        if bwrap is None:
            raise SandboxError(BWRAP_MISSING)
        check_root_tools()
        run_id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"  # the pid lets a later worker sweep it
        workdir = Path(tempfile.mkdtemp(prefix=f"grader-run-{run_id}-"))
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        files = write_run_files(workdir)
        user = self._sandbox_user(spec, workdir / "stage")
        cgroup = create_run_cgroup(self.layout(), self.cgroup_parent, run_id, spec.limits, self.kill_timeout)
        cleanup.callback(cgroup.remove)
        seccomp_fd = open_filter_fd()
        cleanup.callback(os.close, seccomp_fd)
        status_r, status_w = os.pipe()
        cleanup.callback(os.close, status_r)
        with contextlib.closing(Fd(status_w)):
            argv = build_bwrap_argv(
                spec, probe_host(spec, self.python_dirs), files,
                bwrap_path=bwrap, seccomp_fd=seccomp_fd, status_fd=status_w,
                staged=user.staged if user else None,
            )  # fmt: skip
            wrapped = wrapper_argv(argv, _rlimits(spec.limits), cgroup.procs_files(), user)
            started = time.monotonic()
            proc = spawn(wrapped, dict(BASE_ENV), None, pass_fds=(seccomp_fd, status_w, *pass_fds))
        output = OutputCollector(proc.stdout, spec.limits.output_bytes)
        cleanup.callback(output.finish, self.kill_timeout)
        cleanup.callback(reap, proc, self.kill_timeout)
        cleanup.callback(cgroup.kill_all)
        return Launched(proc, cgroup, output, status_r, started)

    def _sandbox_user(self, spec: RunSpec, staging: Path) -> SandboxUser | None:
        """As root, stage every bind source and give the writable mounts to the sandbox user.

        Not root: bwrap runs as the worker's own, already unprivileged, user.
        """
        if os.geteuid() != 0:
            return None
        sources = [*(str(mount.source) for mount in spec.mounts), *self.python_dirs]
        user = stage_binds(staging, sources, self.host_uid, self.host_uid)
        hand_over_writable_mounts(spec.mounts, user.uid, user.gid)
        return user

    def follow(
        self, launched: Launched, limits: Limits, live: LiveChannel | None, *, since: float | None = None,
        cpu_before: float = 0.0,
    ) -> RunResult:  # fmt: skip
        """Supervise the started run, end it, and measure it.

        Limits count from `since` (default: the start) and from `cpu_before`
        seconds of CPU: a warm sandbox's are its handover, not its warm-up.
        """
        proc, cgroup, output = launched.proc, launched.cgroup, launched.output
        started = launched.started if since is None else since

        def over_limit() -> Termination | None:
            if live and live.must_stop():
                return Termination.STOPPED
            cgroup.sample()
            return Termination.CPU_LIMIT if cgroup.cpu_seconds() - cpu_before > limits.cpu_seconds else None

        limit_hit = supervise(
            lambda: proc.poll() is not None, over_limit, started + limits.wall_seconds, self.poll_interval
        )
        cgroup.kill_all()  # a limit, or leftovers of a finished run (daemons)
        reap(proc, self.kill_timeout)
        wall_s = time.monotonic() - started
        output.finish(self.kill_timeout)
        if live:
            live.close(self.kill_timeout)
        termination, exit_code, signum = self._classify(
            limit_hit, cgroup, read_status(launched.status_fd), proc, output
        )
        return RunResult(
            termination=termination, exit_code=exit_code, signal=signum, log=output.text(),
            log_dropped_bytes=output.dropped, wall_s=wall_s, cpu_s=cgroup.cpu_seconds() - cpu_before,
            peak_memory_bytes=cgroup.peak_memory_bytes(), tasks_refused=cgroup.tasks_refused(),
            channel_failure=live.failure if live else None,
        )  # fmt: skip

    def _classify(
        self, limit_hit: Termination | None, cgroup: RunCgroup, status: dict, proc: subprocess.Popen,
        output: OutputCollector,
    ) -> tuple[Termination, int | None, int | None]:  # fmt: skip
        """Say how the run ended; a run that never started is a SandboxError."""
        code = status.get("exit-code")  # bwrap reports it only once the sandbox was set up
        # An OOM kill explains any failure after it (a hang waiting for a killed worker
        # included); a run that survived its worker's OOM and exited 0 stays a success.
        if cgroup.oom_kills() and (limit_hit is not None or code != 0):
            return Termination.MEMORY_LIMIT, None, None
        if limit_hit is not None:
            return limit_hit, None, None
        if not isinstance(code, int):
            raise SandboxError(
                f"bubblewrap failed before the program started (status {proc.returncode}; the wrapper "
                f"exits {WRAPPER_FAILED} when it cannot set a limit, join the cgroup or stage a bind): "
                f"{output.text()[-4000:].strip()}"
            )
        if 128 < code < 128 + signal.NSIG:  # bwrap exits 128+N when the program died of signal N
            return Termination.SIGNALED, None, code - 128
        return Termination.EXITED, code, None


def _open_channel(
    driver: Driver | None, spec: RunSpec, cleanup: contextlib.ExitStack, kill_timeout: float
) -> tuple[LiveChannel | None, RunSpec]:
    """With a driver: the run's live channel (closed last) and the spec whose environment names its end."""
    if driver is None:
        return None, spec
    live = LiveChannel(driver)
    cleanup.callback(live.close, kill_timeout)  # registered first: runs after every process is dead
    return live, dataclasses.replace(spec, env={**spec.env, **live.env()})


def _inside(live: LiveChannel | None) -> tuple[int, ...]:
    """The descriptor of the run's end of the channel, to pass to it."""
    return (live.inside.fileno(),) if live else ()


def sanitize_writable_mounts(mounts: tuple[Mount, ...]) -> None:
    """Leave only regular files and directories, without setuid/setgid, in writable mounts."""
    # What the program leaves there is the sandbox user's, but the trusted side (root)
    # reads it next: a symlink or FIFO could make it read a host file or hang, and a
    # setuid copy of a program is a trap for anyone who runs it. Nothing of the run
    # is alive any more, so nothing can race this.
    for mount in mounts:
        if not mount.writable:
            continue
        for directory, dirnames, filenames in os.walk(mount.source):
            for name in dirnames + filenames:
                _sanitize_entry(os.path.join(directory, name))


def _sanitize_entry(path: str) -> None:
    """Remove a non-regular entry; clear setuid and setgid bits of the rest."""
    mode = os.lstat(path).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        log.warning("removed %s from a writable mount: not a regular file or directory", path)
        os.unlink(path)
    elif mode & (stat.S_ISUID | stat.S_ISGID):
        log.warning("cleared setuid/setgid bits of %s in a writable mount", path)
        os.chmod(path, stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID))


def check_root_tools() -> None:
    """As root, raise SandboxError naming the util-linux tools that are missing."""
    if os.geteuid() == 0 and (missing := [tool for tool in ROOT_TOOLS if shutil.which(tool) is None]):
        raise SandboxError(ROOT_TOOLS_MISSING.format(missing=", ".join(missing)))


def _remove_stale_workdirs() -> None:
    """Remove the temp dirs of runs whose worker died (named grader-run-<pid>-...)."""
    for path in Path(tempfile.gettempdir()).glob("grader-run-*-*"):
        if worker_is_dead(path.name.split("-")[2]):
            shutil.rmtree(path, ignore_errors=True)


class UnsandboxedRunner:
    """Run trusted code directly: no isolation, no memory limit. Never for student code."""

    def __init__(self, *, poll_interval: float = 0.05, kill_timeout: float = 10.0):
        self.poll_interval = poll_interval
        self.kill_timeout = kill_timeout
        log.warning("UNSANDBOXED RUNNER: code runs with the worker's own rights; never use it for student code")

    def visible_path(self, mount: Mount) -> str:
        return str(mount.source)

    def run(self, spec: RunSpec, driver: Driver | None = None) -> RunResult:
        """Run `spec` directly, with wall, CPU, file-size and output limits only."""
        log.warning("running %s WITHOUT A SANDBOX", spec.argv[:1])
        with contextlib.ExitStack() as cleanup:
            live, spec = _open_channel(driver, spec, cleanup, self.kill_timeout)
            workdir = tempfile.mkdtemp(prefix="grader-unsandboxed-")
            cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
            env = {**BASE_ENV, "HOME": workdir, **spec.env}
            ulimits = [*_rlimits(spec.limits), ("-t", math.ceil(spec.limits.cpu_seconds))]
            started = time.monotonic()
            argv = wrapper_argv(list(spec.argv), ulimits, [])
            proc = spawn(argv, env, self._cwd(spec, workdir), pass_fds=_inside(live))
            if live:
                live.start()
            cleanup.callback(reap, proc, self.kill_timeout)
            cleanup.callback(_kill_group, proc.pid)
            output = OutputCollector(proc.stdout, spec.limits.output_bytes)
            cleanup.callback(output.finish, self.kill_timeout)
            waiter = _Wait4(proc)

            def stop() -> Termination | None:
                return Termination.STOPPED if live and live.must_stop() else None

            limit_hit = supervise(waiter.exited, stop, started + spec.limits.wall_seconds, self.poll_interval)
            _kill_group(proc.pid)
            waiter.reap(self.kill_timeout)
            wall_s = time.monotonic() - started
            output.finish(self.kill_timeout)
            if live:
                live.close(self.kill_timeout)
            result = self._result(limit_hit, proc.returncode, waiter, spec.limits, output, wall_s)
            return dataclasses.replace(result, channel_failure=live.failure if live else None)
        raise AssertionError("unreachable")  # pragma: no cover

    def _cwd(self, spec: RunSpec, workdir: str) -> str:
        """Map the sandbox cwd to the host: /tmp is the run's temp dir, a mount target its source."""
        if spec.cwd == "/tmp" or spec.cwd.startswith("/tmp/"):
            return workdir + spec.cwd[len("/tmp") :]
        return host_path_of(spec.cwd, spec)

    def _result(
        self, limit_hit: Termination | None, returncode: int, waiter: _Wait4, limits: Limits,
        output: OutputCollector, wall_s: float,
    ) -> RunResult:  # fmt: skip
        """Classify and measure a finished direct run."""
        cpu_s = waiter.cpu_s
        exit_code, signum, termination = None, None, limit_hit
        if termination is None and returncode < 0:
            signum = -returncode
            over_cpu = signum in (signal.SIGXCPU, signal.SIGKILL) and cpu_s >= limits.cpu_seconds - 0.5
            termination = Termination.CPU_LIMIT if over_cpu else Termination.SIGNALED
        elif termination is None:
            exit_code, termination = returncode, Termination.EXITED
        if termination is not Termination.SIGNALED:
            signum = None
        return RunResult(termination, exit_code, signum, output.text(), output.dropped, wall_s, cpu_s, waiter.peak)


class _Wait4:
    """Reap a Popen child with os.wait4, to get its resource usage."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.cpu_s = 0.0
        self.peak = 0

    def exited(self) -> bool:
        if self.proc.returncode is not None:
            return True
        pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_s = usage.ru_utime + usage.ru_stime
        self.peak = usage.ru_maxrss * 1024  # KiB on Linux
        return True

    def reap(self, timeout: float) -> None:
        """Wait for the killed child, keeping its resource usage."""
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() > deadline:
                raise SandboxError(f"process {self.proc.pid} did not die within {timeout}s of SIGKILL")
            time.sleep(0.005)


def _kill_group(pgid: int) -> None:
    """SIGKILL the run's process group (its session leader's pid)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
