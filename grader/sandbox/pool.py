"""The warm pools of one worker slot: a Runner that hands jobs to warm sandboxes of their pool.

See grader.sandbox.warm for what a warm sandbox is and how a job is handed over.
Here: which sandbox takes a job (or none: the job runs cold), refilling, the
keeper thread that replaces sandboxes dead while idle and retires unused ones,
and the state each slot publishes for /staff/workers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from grader.core.errors import SandboxError
from grader.sandbox.cgroup import worker_is_dead
from grader.sandbox.channel import Driver
from grader.sandbox.runner import BubblewrapRunner
from grader.sandbox.spec import Mount, RunResult, RunSpec
from grader.sandbox.warm import WarmSandbox, profile_of

log = logging.getLogger("grader.sandbox.warm")

MAX_DEATHS_IN_A_ROW = 3  # idle sandboxes of a pool replaced after dying, until its next job


@dataclasses.dataclass(frozen=True)
class PoolSettings:
    """Which pools a slot keeps, how many warm sandboxes each, and for how long unused."""

    sizes: dict[str, int]  # pool -> warm sandboxes kept; a pool not named (or 0) does not exist
    idle_seconds: float = 600.0  # a warm sandbox unused this long is retired (and not replaced until work comes)
    ready_wait_seconds: float = 120.0  # the longest a job waits for a warming sandbox before it runs cold
    check_seconds: float = 2.0  # how often idle sandboxes are checked (dead, expired)

    @property
    def enabled(self) -> bool:
        return any(size > 0 for size in self.sizes.values())


class WarmRunner:
    """A Runner that hands jobs to warm sandboxes of their pool, and runs the rest cold."""

    def __init__(self, runner: BubblewrapRunner, settings: PoolSettings, home: Path, status_file: Path | None = None):
        self.cold = runner
        self.settings = settings
        self.home = home  # where warm sandboxes keep their folders: on the filesystem of the jobs' folders
        self.status_file = status_file
        self._idle: dict[str, list[WarmSandbox]] = {pool: [] for pool, size in settings.sizes.items() if size > 0}
        self._lock = threading.Lock()
        self._runs = {"warm": 0, "cold": 0}
        self._replaced = self._retired = self._dropped = 0
        self._deaths = {pool: 0 for pool in self._idle}  # idle sandboxes of the pool that died since its last job
        self._last: dict[str, Any] = {}  # the last run: warm or cold, its handover time
        self._keeper: threading.Thread | None = None
        self._closed = threading.Event()
        home.mkdir(parents=True, exist_ok=True)
        _remove_stale_folders(home)

    @property
    def kill_timeout(self) -> float:
        return self.cold.kill_timeout

    def visible_path(self, mount: Mount) -> str:
        return self.cold.visible_path(mount)

    def layout(self):
        return self.cold.layout()

    def run(self, spec: RunSpec, driver: Driver | None = None) -> RunResult:
        """Run `spec` in a warm sandbox of its pool if one fits, else cold; then refill the pool."""
        arrived = time.monotonic()
        if spec.pool not in self._idle or not spec.warm_argv or not _same_filesystem(spec, self.home):
            return self._counted(self.cold.run(spec, driver))
        self._start_keeper()
        live = driver is not None
        with self._lock:
            self._deaths[spec.pool] = 0
        sandbox = self._take(spec, live)
        self._refill(spec, live)  # replacements warm up in the background of this job
        if sandbox is None:
            return self._counted(self.cold.run(spec, driver))
        return self._counted(sandbox.hand_over(self.cold, spec, driver, arrived))

    def _counted(self, result: RunResult) -> RunResult:
        with self._lock:
            self._runs["warm" if result.warm else "cold"] += 1
            self._last = {"warm": result.warm, "handover_s": result.handover_s}
        self.write_status()
        return result

    def _take(self, spec: RunSpec, live: bool) -> WarmSandbox | None:
        """Take a sandbox of the job's profile out of the pool: a ready one, else wait for the oldest warming one."""
        profile = profile_of(spec, live)
        with self._lock:
            candidates = [s for s in self._idle[spec.pool] if s.profile == profile and s.alive()]
            ready = [s for s in candidates if s.ready()]
            chosen = (ready or candidates or [None])[0]
            if chosen is not None:
                self._idle[spec.pool].remove(chosen)
        if chosen is None or chosen.ready(self.settings.ready_wait_seconds):
            return chosen
        log.warning("warm sandbox %s never got ready (%s): the job runs cold", chosen.pid, chosen.broken or "timeout")
        self._destroy(chosen)
        return None

    def _refill(self, spec: RunSpec, live: bool) -> None:
        """Top the job's pool up with sandboxes of its profile; idle ones of another profile are retired.

        The pool follows the latest job: a burst for one assignment finds it warm.
        """
        profile = profile_of(spec, live)
        with self._lock:
            idle = self._idle[spec.pool]
            stale = [s for s in idle if s.profile != profile]
            for sandbox in stale:
                idle.remove(sandbox)
            missing = self.settings.sizes[spec.pool] - len(idle)
        for sandbox in stale:
            self._destroy(sandbox)
        for _ in range(missing):
            self._start(spec, live)

    def _start(self, spec: RunSpec, live: bool) -> None:
        try:
            sandbox = WarmSandbox(self.cold, spec, live, self.home)
        except (SandboxError, OSError) as exc:  # the next job of this pool runs cold
            log.warning("could not start a warm %s sandbox: %s", spec.pool, exc)
            return
        with self._lock:
            closed = self._closed.is_set()
            if not closed:
                self._idle[spec.pool].append(sandbox)
        if closed:  # close() ran while this one was starting (the keeper replacing a dead one): it must not outlive it
            self._destroy(sandbox)
            return
        self.write_status()

    def _destroy(self, sandbox: WarmSandbox) -> None:
        try:
            sandbox.destroy()
        except (SandboxError, OSError) as exc:
            log.error("warm sandbox %s could not be cleaned up: %s", sandbox.pid, exc)

    def _start_keeper(self) -> None:
        if self._keeper is None:
            self._keeper = threading.Thread(target=self._keep, name="grader-warm-keeper", daemon=True)
            self._keeper.start()

    def _keep(self) -> None:
        while not self._closed.wait(self.settings.check_seconds):
            self.check_idle()

    def check_idle(self) -> None:
        """Notice sandboxes that got ready; replace those that died or never got ready; retire the unused.

        A pool whose sandboxes keep dying (a warm-up that crashes, a broken
        environment) is not restarted forever: after MAX_DEATHS_IN_A_ROW deaths
        with no job between, the next job of the pool (which runs cold) retries.
        """
        now, limits = time.monotonic(), self.settings
        dead, expired, got_ready = [], [], 0
        with self._lock:
            for idle in self._idle.values():
                for sandbox in list(idle):
                    was_ready = sandbox.ready_at is not None
                    got_ready += sandbox.ready() and not was_ready
                    if sandbox.ready_at is None and now - sandbox.born > limits.ready_wait_seconds and sandbox.alive():
                        sandbox.broken = f"not ready after {limits.ready_wait_seconds:g} s"
                    if not sandbox.alive():
                        dead.append(sandbox)
                    elif sandbox.ready_at is not None and now - sandbox.ready_at > limits.idle_seconds:
                        expired.append(sandbox)
                    else:
                        continue
                    idle.remove(sandbox)
            replace = []
            for sandbox in dead:
                self._deaths[sandbox.spec.pool] += 1
                replace.append(self._deaths[sandbox.spec.pool] <= MAX_DEATHS_IN_A_ROW)
            self._replaced += sum(replace)
            self._dropped += len(dead) - sum(replace)
            self._retired += len(expired)
        for sandbox, replaced in zip(dead, replace, strict=True):
            output = sandbox.launched.output.text()[-2000:]
            outcome = (
                "replaced"
                if replaced
                else f"not replaced: {MAX_DEATHS_IN_A_ROW} died in a row, the pool's next job retries"
            )
            log.warning("warm sandbox %s %s; %s. Its output: %s", sandbox.pid, sandbox.broken, outcome, output)
            self._destroy(sandbox)
            if replaced:
                self._start(sandbox.spec, sandbox.live)
        for sandbox in expired:
            log.info("warm sandbox %s unused for %.0f s; retired", sandbox.pid, now - sandbox.born)
            self._destroy(sandbox)
        if dead or expired or got_ready:
            self.write_status()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every idle sandbox is ready (for tests and benchmarks); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                idle = [s for pool in self._idle.values() for s in pool]
                if all(s.ready() for s in idle):
                    return True
            time.sleep(0.05)
        return False

    def idle_memory(self) -> dict[str, list[int]]:
        """Memory in use now by each pool's ready sandboxes (bytes): what keeping them warm costs."""
        with self._lock:
            return {
                pool: [s.launched.cgroup.memory_bytes() for s in idle if s.ready_at is not None]
                for pool, idle in self._idle.items()
            }

    def idle_pids(self) -> set[int]:
        """Every process of the idle sandboxes (for tests: those are not a job's leftovers)."""
        with self._lock:
            return {pid for pool in self._idle.values() for s in pool for pid in s.launched.cgroup.pids()}

    def status(self) -> dict[str, Any]:
        """Each pool's size and its sandboxes now (ready or warming), the runs so far, the last run."""
        with self._lock:
            pools = {
                pool: {
                    "size": self.settings.sizes[pool],
                    "ready": sum(1 for s in idle if s.ready_at is not None),
                    "warming": sum(1 for s in idle if s.ready_at is None),
                }
                for pool, idle in self._idle.items()
            }
            return {
                "pools": pools,
                "runs": dict(self._runs),
                "replaced": self._replaced,
                "dropped": self._dropped,
                "retired": self._retired,
                "last": dict(self._last),
                "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }

    def write_status(self) -> None:
        """Publish status() for the worker's heartbeat (atomically: a reader never sees half a file)."""
        if self.status_file is None:
            return
        try:
            self.status_file.parent.mkdir(parents=True, exist_ok=True)
            partial = self.status_file.with_suffix(".part")
            partial.write_text(json.dumps(self.status()))
            os.replace(partial, self.status_file)
        except OSError as exc:
            log.warning("could not write the warm pool's status to %s: %s", self.status_file, exc)

    def close(self) -> None:
        """Destroy every idle sandbox and stop checking."""
        self._closed.set()
        if self._keeper is not None:
            self._keeper.join()  # it may be replacing a dead sandbox right now
        with self._lock:
            idle = [s for pool in self._idle.values() for s in pool]
            for pool in self._idle.values():
                pool.clear()
        for sandbox in idle:
            self._destroy(sandbox)
        if self.status_file is not None:
            self.status_file.unlink(missing_ok=True)


def _same_filesystem(spec: RunSpec, home: Path) -> bool:
    """Per-job folders are renamed into a warm sandbox: they must be on its filesystem."""
    device = home.stat().st_dev
    return all(Path(m.source).stat().st_dev == device for m in spec.mounts if m.per_job)


def _remove_stale_folders(home: Path) -> None:
    """Remove the folders of warm sandboxes whose worker died (named grader-warm-<pid>-...)."""
    for path in home.glob("grader-warm-*-*"):
        if worker_is_dead(path.name.split("-")[2]):
            shutil.rmtree(path, ignore_errors=True)
