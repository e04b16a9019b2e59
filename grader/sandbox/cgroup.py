"""A cgroup per sandboxed run: limits memory and tasks, measures CPU, kills all.

Where runs' cgroups live (our own cgroup, v1 or v2, delegation) is
grader.sandbox.cgroup_layout; here, one run's cgroup: created under
`<own>/<parent>/<run-id>` with its limits, read while the run lives, and
killed and removed after.

pids.max counts threads as well as processes: it is what stops fork bombs and
"thousands of threads". Processes join the run's cgroup before they exec
bubblewrap (see runner.py), so nothing the program starts can be outside it.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from grader.core.errors import SandboxError
from grader.core.limits import Limits
from grader.sandbox.cgroup_layout import CgroupLayout, prepare_parent, read_words


def _read_keyed(path: Path, key: str) -> int:
    """Read `key`'s value from a "key value" per line file (cpu.stat, memory.events)."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _read_int(path: Path) -> int:
    """Read a single-number cgroup file; a missing one reads 0."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _write(path: Path, value: str) -> None:
    """Write a cgroup control file, mapping failure to SandboxError."""
    try:
        with open(path, "w") as fh:
            fh.write(value)
    except OSError as exc:
        raise SandboxError(f"cannot write {value!r} to {path}: {exc}") from exc


def _procs(dirs: list[Path]) -> set[int]:
    """Return the pids in any of the given cgroups."""
    pids: set[int] = set()
    for directory in dirs:
        pids.update(int(word) for word in read_words(directory / "cgroup.procs"))
    return pids


def _kill_pids(pids: set[int]) -> None:
    """SIGKILL each pid, ignoring those already gone."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _rmdir_when_free(directory: Path, deadline: float) -> None:
    """Remove an empty cgroup, retrying while the kernel still counts exited tasks."""
    while True:
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise SandboxError(f"cannot remove cgroup {directory}: {exc}") from exc
            time.sleep(0.01)


class RunCgroup:
    """The cgroup(s) of one run; create with `create_run_cgroup`."""

    def __init__(self, dirs: list[Path], kill_timeout: float):
        self.dirs = dirs
        self.kill_timeout = kill_timeout
        self._peak = 0

    def procs_files(self) -> list[Path]:
        """Return the cgroup.procs files a process writes its pid to, to join."""
        return [d / "cgroup.procs" for d in self.dirs]

    def pids(self) -> set[int]:
        """Return the pids now in the run's cgroup."""
        return _procs(self.dirs)

    def configure(self, limits: Limits) -> None:
        """Write the run's memory and task limits."""
        raise NotImplementedError

    def sample(self) -> None:
        """Record what must be polled while the run lives (peak memory without a peak file)."""

    def cpu_seconds(self) -> float:
        """Return the CPU time used by every task of the run so far."""
        raise NotImplementedError

    def peak_memory_bytes(self) -> int:
        """Return the run's peak memory use (page cache included)."""
        raise NotImplementedError

    def memory_bytes(self) -> int:
        """Return the run's memory use now (page cache included)."""
        raise NotImplementedError

    def oom_kills(self) -> int:
        """Return how many tasks the OOM killer ended in the run's cgroup."""
        raise NotImplementedError

    def tasks_refused(self) -> int:
        """Return how many forks or threads pids.max refused (the "max" count of pids.events)."""
        raise NotImplementedError

    def kill_all(self) -> None:
        """Kill every task of the run and wait until none is left."""
        raise NotImplementedError

    def remove(self) -> None:
        """Kill what is left and remove the cgroup directories."""
        self.kill_all()
        deadline = time.monotonic() + self.kill_timeout
        for directory in self.dirs:
            _rmdir_when_free(directory, deadline)

    def _wait_empty(self, kill_round: Callable[[set[int]], None]) -> None:
        """Repeat `kill_round` until no process is left, or raise after kill_timeout."""
        deadline = time.monotonic() + self.kill_timeout
        while pids := self.pids():
            if time.monotonic() > deadline:
                raise SandboxError(f"processes {sorted(pids)} survive SIGKILL in cgroup {self.dirs[0]}")
            kill_round(pids)
            time.sleep(0.005)


class CgroupV1(RunCgroup):
    """A run's cgroups in the v1 hierarchies memory, pids, cpuacct and freezer."""

    def __init__(self, dirs: dict[str, Path], kill_timeout: float):
        super().__init__(list(dirs.values()), kill_timeout)
        self.by_controller = dirs

    def configure(self, limits: Limits) -> None:
        """Write the memory and task limits."""
        memory = self.by_controller["memory"]
        _write(memory / "memory.limit_in_bytes", str(limits.memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():  # no swapping past the limit
            _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
        _write(self.by_controller["pids"] / "pids.max", str(limits.max_processes))

    def cpu_seconds(self) -> float:
        return _read_int(self.by_controller["cpuacct"] / "cpuacct.usage") / 1e9

    def peak_memory_bytes(self) -> int:
        return _read_int(self.by_controller["memory"] / "memory.max_usage_in_bytes")

    def memory_bytes(self) -> int:
        return _read_int(self.by_controller["memory"] / "memory.usage_in_bytes")

    def oom_kills(self) -> int:
        return _read_keyed(self.by_controller["memory"] / "memory.oom_control", "oom_kill")

    def tasks_refused(self) -> int:
        return _read_keyed(self.by_controller["pids"] / "pids.events", "max")

    def kill_all(self) -> None:
        """Freeze, SIGKILL every task, thaw; repeat until the cgroups are empty."""
        self._wait_empty(self._kill_frozen)

    def _kill_frozen(self, pids: set[int]) -> None:
        """Kill while frozen, so nothing can fork between listing and killing."""
        state = self.by_controller["freezer"] / "freezer.state"
        _write(state, "FROZEN")
        deadline = time.monotonic() + 1.0
        while read_words(state) != ["FROZEN"] and time.monotonic() < deadline:
            time.sleep(0.002)
        _kill_pids(self.pids() | pids)
        _write(state, "THAWED")


class CgroupV2(RunCgroup):
    """A run's cgroup in the unified hierarchy."""

    def configure(self, limits: Limits) -> None:
        """Write the memory and task limits; no swap; OOM kills the whole run."""
        directory = self.dirs[0]
        _write(directory / "memory.max", str(limits.memory_bytes))
        if (directory / "memory.swap.max").exists():
            _write(directory / "memory.swap.max", "0")
        if (directory / "memory.oom.group").exists():
            _write(directory / "memory.oom.group", "1")
        _write(directory / "pids.max", str(limits.max_processes))

    def sample(self) -> None:
        if not (self.dirs[0] / "memory.peak").exists():  # kernels before 5.19
            self._peak = max(self._peak, _read_int(self.dirs[0] / "memory.current"))

    def cpu_seconds(self) -> float:
        return _read_keyed(self.dirs[0] / "cpu.stat", "usage_usec") / 1e6

    def peak_memory_bytes(self) -> int:
        peak = self.dirs[0] / "memory.peak"
        return _read_int(peak) if peak.exists() else self._peak

    def memory_bytes(self) -> int:
        return _read_int(self.dirs[0] / "memory.current")

    def oom_kills(self) -> int:
        return _read_keyed(self.dirs[0] / "memory.events", "oom_kill")

    def tasks_refused(self) -> int:
        return _read_keyed(self.dirs[0] / "pids.events", "max")

    def kill_all(self) -> None:
        """Kill every task via cgroup.kill (5.14+), else freeze and SIGKILL each."""
        directory = self.dirs[0]
        if (directory / "cgroup.kill").exists():
            self._wait_empty(lambda _: _write(directory / "cgroup.kill", "1"))
        else:
            self._wait_empty(self._kill_frozen)

    def _kill_frozen(self, pids: set[int]) -> None:
        """Kill while frozen, so nothing can fork between listing and killing."""
        _write(self.dirs[0] / "cgroup.freeze", "1")
        _kill_pids(self.pids() | pids)
        _write(self.dirs[0] / "cgroup.freeze", "0")


def run_cgroup(layout: CgroupLayout, parent: str, run_id: str, kill_timeout: float = 10.0) -> RunCgroup:
    """Return the handle of run `run_id`'s cgroup(s), without creating them."""
    dirs = {name: own / parent / run_id for name, own in layout.own_dirs.items()}
    return CgroupV2(list(dirs.values()), kill_timeout) if layout.version == 2 else CgroupV1(dirs, kill_timeout)


def create_run_cgroup(
    layout: CgroupLayout, parent: str, run_id: str, limits: Limits, kill_timeout: float = 10.0
) -> RunCgroup:
    """Create and configure the cgroup(s) of one run."""
    prepare_parent(layout, parent)
    cgroup = run_cgroup(layout, parent, run_id, kill_timeout)
    try:
        for directory in cgroup.dirs:
            directory.mkdir()
        cgroup.configure(limits)
    except BaseException as exc:
        for directory in cgroup.dirs:
            if directory.is_dir():
                directory.rmdir()
        if isinstance(exc, OSError):
            raise SandboxError(f"cannot create cgroup {run_id} under {parent}: {exc}") from exc
        raise
    return cgroup


def remove_stale_runs(layout: CgroupLayout, parent: str, kill_timeout: float = 10.0) -> list[str]:
    """Remove the run cgroups of dead workers (a run id starts with its worker's pid)."""
    names: set[str] = set()
    for own in layout.own_dirs.values():
        if (own / parent).is_dir():
            names.update(path.name for path in (own / parent).iterdir() if path.is_dir())
    stale = [name for name in names if worker_is_dead(name.partition("-")[0])]
    for name in stale:
        run_cgroup(layout, parent, name, kill_timeout).remove()
    return stale


def worker_is_dead(pid: str) -> bool:
    """True when `pid` names no live process (a worker killed before its cleanup ran)."""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
