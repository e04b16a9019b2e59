"""Where this process's own cgroups are, and how runs get a subtree of them.

Each run gets `<our own cgroup>/<parent>/<run-id>` (grader.sandbox.cgroup): in
the unified (v2) hierarchy when it offers the memory and pids controllers to
our cgroup, else in each of the v1 hierarchies memory, pids, cpuacct and
freezer. Our own cgroup is read from /proc/self/cgroup and found on disk
through /proc/self/mountinfo, so a worker in a container or a delegated systemd
unit uses only its own subtree.

cgroup v2 forbids "internal processes": a (non-root) cgroup that holds
processes cannot enable controllers for its children (EBUSY). A worker in a
container with a private cgroup namespace, or in a systemd unit with
Delegate=yes, sits in exactly such a cgroup. So, like docker-in-docker's
entrypoint and systemd, `delegate_v2` moves every process of our cgroup into
its leaf child `WORKER_LEAF` before enabling controllers there:

    <own>/                      the delegation root: memory pids (cpu) enabled, no process
    ├── grader-worker/          the worker and everything else that was in <own>
    └── <parent>/<run-id>/      one cgroup per run

A process that reads /proc/self/cgroup afterwards (a pool slot starting later)
finds itself in `WORKER_LEAF` and takes its parent as the root (`detect_layout`).
"""

from __future__ import annotations

import dataclasses
import errno
import time
from pathlib import Path

from grader.core.errors import SandboxError

V1_CONTROLLERS = ("memory", "pids", "cpuacct", "freezer")
V2_CONTROLLERS = ("memory", "pids")  # plus "cpu" where offered; cpu.stat exists without it
V2_DELEGATED = (*V2_CONTROLLERS, "cpu")  # what runs' parents enable for their children, where offered
WORKER_LEAF = "grader-worker"  # where delegate_v2 moves the processes of the delegation root


@dataclasses.dataclass(frozen=True)
class MountedHierarchy:
    """One cgroup filesystem mount from /proc/self/mountinfo."""

    fstype: str  # "cgroup" (v1) or "cgroup2"
    mountpoint: str
    root: str  # the cgroup path at the mount's root
    options: frozenset[str]  # super options; v1 controller names appear here


@dataclasses.dataclass(frozen=True)
class CgroupLayout:
    """Where this process's own cgroups live, and which version to use."""

    version: int  # 1 or 2
    # v1: controller -> own cgroup dir; v2: {"unified": the delegation root (see delegation_root)}
    own_dirs: dict[str, Path]


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Map each v1 controller (and "" for v2) to this process's cgroup path."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for name in controllers.split(",") if controllers else [""]:
            paths[name.removeprefix("name=")] = path
    return paths


def parse_cgroup_mounts(mountinfo: str) -> list[MountedHierarchy]:
    """List the cgroup and cgroup2 mounts of a /proc/self/mountinfo text."""
    mounts = []
    for line in mountinfo.splitlines():
        before, sep, after = line.partition(" - ")
        if not sep:
            continue
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        mounts.append(
            MountedHierarchy(tail[0], _unescape(fields[4]), _unescape(fields[3]), frozenset(tail[2].split(",")))
        )
    return mounts


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (a space is written \\040)."""
    return field.encode().decode("unicode_escape") if "\\" in field else field


def _dir_in(mount: MountedHierarchy, own_path: str) -> Path | None:
    """Return where `own_path` lies under `mount`, or None if it is not below its root."""
    root = mount.root.rstrip("/")
    if own_path != root and not own_path.startswith(root + "/"):
        return None
    return Path(mount.mountpoint + own_path[len(root) :])


def detect_layout(proc_cgroup: str | None = None, mountinfo: str | None = None) -> CgroupLayout:
    """Find our own cgroups; prefer v2 when it offers memory and pids, else v1."""
    proc_cgroup = proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text()
    mountinfo = mountinfo if mountinfo is not None else Path("/proc/self/mountinfo").read_text()
    paths, mounts = parse_proc_cgroup(proc_cgroup), parse_cgroup_mounts(mountinfo)
    v2 = _v2_dir(paths, mounts)
    v2 = delegation_root(v2) if v2 is not None else None
    if v2 is not None and set(V2_CONTROLLERS) <= set(read_words(v2 / "cgroup.controllers")):
        return CgroupLayout(2, {"unified": v2})
    dirs, missing = {}, []
    for controller in V1_CONTROLLERS:
        found = _v1_dir(controller, paths, mounts)
        if found is None:
            missing.append(controller)
        else:
            dirs[controller] = found
    if missing:
        raise SandboxError(_missing_controllers_detail(missing, v2))
    return CgroupLayout(1, dirs)


def _v2_dir(paths: dict[str, str], mounts: list[MountedHierarchy]) -> Path | None:
    """Return our own cgroup dir in the unified hierarchy, if mounted."""
    if "" not in paths:
        return None
    for mount in mounts:
        if mount.fstype == "cgroup2" and (found := _dir_in(mount, paths[""])) is not None and found.is_dir():
            return found
    return None


def delegation_root(own: Path) -> Path:
    """Return the v2 cgroup runs go under: our own, or its parent if we are in its WORKER_LEAF.

    The name is enough: only `delegate_v2` makes a cgroup of that name, and it
    does so to empty the parent. Going by the name (not by whether the parent
    already enables controllers) also covers a slot that starts while another
    is still moving processes: both then finish the same delegation.
    """
    moved_there = own.name == WORKER_LEAF and (own.parent / "cgroup.procs").exists()  # not a mount's root
    return own.parent if moved_there else own


def _v1_dir(controller: str, paths: dict[str, str], mounts: list[MountedHierarchy]) -> Path | None:
    """Return our own cgroup dir in the v1 hierarchy of `controller`, if mounted."""
    if controller not in paths:
        return None
    for mount in mounts:
        if mount.fstype == "cgroup" and controller in mount.options:
            found = _dir_in(mount, paths[controller])
            if found is not None and found.is_dir():
                return found
    return None


def _missing_controllers_detail(missing: list[str], v2: Path | None) -> str:
    """Explain to staff which cgroup controllers are missing and how to get them."""
    offered = " ".join(read_words(v2 / "cgroup.controllers")) if v2 else "no unified hierarchy mounted"
    return (
        f"no usable cgroups: cgroup v2 must offer memory and pids to this process "
        f"(it offers: {offered or 'nothing'}), or cgroup v1 must mount {', '.join(missing)} "
        f"(missing). Fix: run the worker with a delegated cgroup v2 subtree (systemd Delegate=yes, "
        f"or docker --cgroupns=private on a v2 host), or mount the v1 controllers, "
        f"e.g. mkdir -p /sys/fs/cgroup/{missing[0]} && mount -t cgroup -o {missing[0]} cgroup /sys/fs/cgroup/{missing[0]}"
    )


def read_words(path: Path) -> list[str]:
    """Read a whitespace-separated cgroup file; an unreadable one is empty."""
    try:
        return path.read_text().split()
    except OSError:
        return []


def delegate_v2(
    directory: Path, controllers: tuple[str, ...] = V2_DELEGATED, *, move_processes: bool = True, timeout: float = 2.0
) -> None:
    """Enable `controllers` (those offered) for `directory`'s children; idempotent.

    If `directory` holds processes (EBUSY) and `move_processes` is set, move them
    all into `directory/WORKER_LEAF` first. Safe when several processes do this
    at once (pool slots starting together): moving a moved process again and
    enabling an enabled controller both succeed, and each caller retries until
    the controllers are on or `timeout` passes (processes still appearing).
    """
    deadline = time.monotonic() + timeout
    while wanted := _not_yet_enabled(directory, controllers):
        try:
            _write_subtree_control(directory, wanted)
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or not move_processes or time.monotonic() > deadline:
                raise SandboxError(_delegation_failed_detail(directory, wanted, exc, move_processes)) from exc
        move_processes_to_leaf(directory, directory / WORKER_LEAF, deadline)


def _not_yet_enabled(directory: Path, controllers: tuple[str, ...]) -> list[str]:
    """Return the `controllers` that `directory` is offered but does not yet enable for its children."""
    offered = set(read_words(directory / "cgroup.controllers"))
    enabled = set(read_words(directory / "cgroup.subtree_control"))
    return [c for c in controllers if c in offered and c not in enabled]


def _write_subtree_control(directory: Path, controllers: list[str]) -> None:
    """Enable `controllers` for `directory`'s children in one write."""
    with open(directory / "cgroup.subtree_control", "w") as fh:
        fh.write(" ".join("+" + c for c in controllers))


def move_processes_to_leaf(directory: Path, leaf: Path, deadline: float) -> int:
    """Move every process of cgroup `directory` into its child `leaf` (made if missing).

    Lists and moves until `directory` is empty, since a process may fork while
    we move it, or until `deadline`; a process that exits meanwhile is skipped.
    Returns how many processes this call moved.
    """
    try:
        leaf.mkdir(exist_ok=True)
    except OSError as exc:
        raise SandboxError(f"cannot create the worker's leaf cgroup {leaf}: {exc}{_read_only_hint(exc)}") from exc
    moved = 0
    while (pids := read_words(directory / "cgroup.procs")) and time.monotonic() <= deadline:
        for pid in pids:
            try:
                _move_process(pid, leaf)
                moved += 1
            except ProcessLookupError:  # it exited after we listed it
                continue
            except OSError as exc:
                raise SandboxError(f"cannot move process {pid} from {directory} into {leaf}: {exc}") from exc
    return moved


def _move_process(pid: str, cgroup: Path) -> None:
    """Move process `pid` (all its threads) into `cgroup`."""
    with open(cgroup / "cgroup.procs", "w") as fh:
        fh.write(pid)


def _delegation_failed_detail(directory: Path, wanted: list[str], exc: OSError, tried_moving: bool) -> str:
    """Say, for staff, why `directory` cannot hand `wanted` to its children, and what to do."""
    detail = f"cannot enable {' '.join(wanted)} in {directory}/cgroup.subtree_control: {exc}"
    if exc.errno == errno.EBUSY and tried_moving:
        pids = " ".join(read_words(directory / "cgroup.procs")) or "none listed now"
        return (
            f"{detail}; cgroup v2 lets a cgroup that holds processes hand no controller to its children, "
            f"and processes kept arriving in it while they were being moved to {directory / WORKER_LEAF} "
            f"(processes there: {pids}). Start the worker alone in its cgroup (a container of its own, or a "
            f"systemd service with Delegate=yes), not next to processes that keep starting others there"
        )
    if exc.errno == errno.EBUSY:
        return (
            f"{detail}; cgroup v2 lets a cgroup that holds processes hand no controller to its children, "
            f"and {directory} holds: {' '.join(read_words(directory / 'cgroup.procs'))}. Nothing but run cgroups "
            f"belongs there: stop what runs in it, or set GRADER_CGROUP_PARENT to a new name"
        )
    return detail + _read_only_hint(exc)


def _read_only_hint(exc: OSError) -> str:
    """Explain EROFS/EACCES on a cgroup file: a container's read-only cgroupfs, or a missing delegation."""
    if exc.errno == errno.EROFS:
        return (
            "; the cgroup filesystem is mounted read-only, as Docker mounts it in an unprivileged container. "
            "Remount it writable before starting the worker (docker/entrypoint-worker.sh does: "
            "mount -o remount,rw /sys/fs/cgroup, which needs cap_add SYS_ADMIN and apparmor=unconfined), "
            "and give the container a private cgroup namespace (cgroup: private)"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (
            "; this cgroup was not delegated to the worker's user: run the worker as root in its container, "
            "or as a systemd service with Delegate=yes"
        )
    return ""


def prepare_parent(layout: CgroupLayout, parent: str) -> list[Path]:
    """Create `<own>/<parent>` in each hierarchy (idempotent) and return those dirs."""
    made = []
    for own in layout.own_dirs.values():
        if layout.version == 2:
            delegate_v2(own)
        directory = own / parent
        try:
            directory.mkdir(exist_ok=True)
        except OSError as exc:
            raise SandboxError(f"cannot create cgroup {directory}: {exc}{_read_only_hint(exc)}") from exc
        if layout.version == 2:  # holds no process of ours: never move anything out of it
            delegate_v2(directory, move_processes=False)
        made.append(directory)
    return made
