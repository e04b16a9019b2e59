"""cgroup v2 delegation: a worker whose own cgroup holds processes still gets run cgroups.

The unit tests run on a fake cgroup tree whose two kernel rules that matter
here (EBUSY for a cgroup with processes, and moving a process) are played by
`FakeKernel`. The last test shows the same on the real kernel, with a
controller the unified hierarchy of this machine offers.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from grader.core.errors import SandboxError
from grader.core.limits import Limits
from grader.sandbox import cgroup_layout
from grader.sandbox.cgroup import create_run_cgroup
from grader.sandbox.cgroup_layout import (
    WORKER_LEAF,
    delegate_v2,
    detect_layout,
    parse_cgroup_mounts,
    parse_proc_cgroup,
    prepare_parent,
)

LIMITS = Limits(memory_bytes=1 << 30, max_processes=64)


class FakeKernel:
    """Play cgroup v2's rules on plain files: EBUSY while a cgroup holds processes; moves."""

    def __init__(self, tree: Path):
        self.tree = tree
        self.exiting: set[str] = set()  # listed, but gone by the time they are moved
        self.forks_into: Path | None = None  # a cgroup where a new process appears at every attempt
        self.next_pid = 1000

    def write_subtree_control(self, directory: Path, controllers: list[str]) -> None:
        if self.forks_into is not None:
            self._add(self.forks_into, str(self.next_pid))
            self.next_pid += 1
        if procs(directory):
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        enabled = (directory / "cgroup.subtree_control").read_text().split()
        (directory / "cgroup.subtree_control").write_text(" ".join(enabled + controllers))  # read back without "+"

    def move_process(self, pid: str, destination: Path) -> None:
        for procs_file in self.tree.rglob("cgroup.procs"):
            if pid in procs_file.read_text().split():
                procs_file.write_text("".join(f"{p}\n" for p in procs_file.read_text().split() if p != pid))
                if pid in self.exiting:
                    raise ProcessLookupError(errno.ESRCH, os.strerror(errno.ESRCH))
                self._add(destination, pid)
                return
        raise ProcessLookupError(errno.ESRCH, os.strerror(errno.ESRCH))

    def _add(self, directory: Path, pid: str) -> None:
        procs_file = directory / "cgroup.procs"
        procs_file.write_text((procs_file.read_text() if procs_file.exists() else "") + f"{pid}\n")


def procs(directory: Path) -> list[str]:
    path = directory / "cgroup.procs"
    return path.read_text().split() if path.exists() else []


@pytest.fixture
def kernel(tmp_path, monkeypatch) -> FakeKernel:
    fake = FakeKernel(tmp_path)
    monkeypatch.setattr(cgroup_layout, "_write_subtree_control", fake.write_subtree_control)
    monkeypatch.setattr(cgroup_layout, "_move_process", fake.move_process)
    return fake


def container_root(tmp_path: Path, pids: str = "1\n7\n8\n") -> tuple[Path, str]:
    """A private cgroup namespace: the worker's processes sit in the root of the mount."""
    root = tmp_path / "sys-fs-cgroup"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text(pids)
    # a fake tree has no kernel to fill in what a child is offered: the parent of runs is made ready
    (root / "grader").mkdir()
    (root / "grader" / "cgroup.controllers").write_text("cpu memory pids\n")
    (root / "grader" / "cgroup.subtree_control").write_text("")
    mountinfo = f"41 31 0:38 / {root} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    return root, mountinfo


def test_the_worker_moves_into_a_leaf_so_its_cgroup_can_delegate(kernel, tmp_path):
    root, mountinfo = container_root(tmp_path)
    layout = detect_layout("0::/\n", mountinfo)
    assert layout.version == 2 and layout.own_dirs == {"unified": root}

    run = create_run_cgroup(layout, "grader", "7-abc", LIMITS)

    assert procs(root) == [] and procs(root / WORKER_LEAF) == ["1", "7", "8"]
    assert root.joinpath("cgroup.subtree_control").read_text().split() == ["memory", "pids", "cpu"]
    assert run.dirs == [root / "grader" / "7-abc"]
    assert (root / "grader" / "7-abc" / "memory.max").read_text() == str(1 << 30)


def test_a_slot_that_starts_after_the_move_uses_the_same_root(kernel, tmp_path):
    root, mountinfo = container_root(tmp_path)
    prepare_parent(detect_layout("0::/\n", mountinfo), "grader")  # the first slot

    later = detect_layout(f"0::/{WORKER_LEAF}\n", mountinfo)  # /proc/self/cgroup now names the leaf

    assert later.own_dirs == {"unified": root}
    run = create_run_cgroup(later, "grader", "8-def", LIMITS)
    assert run.dirs == [root / "grader" / "8-def"]
    assert not (root / WORKER_LEAF / "grader").exists()


def test_slots_that_start_together_both_succeed(kernel, tmp_path):
    root, mountinfo = container_root(tmp_path, "1\n7\n8\n9\n")
    kernel.exiting = {"9"}  # exits between being listed and being moved
    first, second = detect_layout("0::/\n", mountinfo), detect_layout("0::/\n", mountinfo)
    # the second slot finds the leaf made and the processes half moved
    (root / WORKER_LEAF).mkdir()
    kernel.move_process("7", root / WORKER_LEAF)

    prepare_parent(second, "grader")
    prepare_parent(first, "grader")

    assert sorted(procs(root / WORKER_LEAF)) == ["1", "7", "8"] and procs(root) == []
    assert root.joinpath("cgroup.subtree_control").read_text().split() == ["memory", "pids", "cpu"]


def test_processes_that_keep_arriving_end_in_a_precise_staff_message(kernel, tmp_path):
    root, _ = container_root(tmp_path)
    kernel.forks_into = root  # something outside the worker keeps starting processes there

    with pytest.raises(SandboxError) as caught:
        delegate_v2(root, timeout=0.05)

    detail = caught.value.staff_detail
    assert f"cannot enable memory pids cpu in {root}/cgroup.subtree_control" in detail
    assert "holds processes hand no controller" in detail and "Delegate=yes" in detail
    assert str(tmp_path) not in caught.value.student_message and "not your fault" in caught.value.student_message


def test_processes_in_the_parent_of_runs_are_never_moved(kernel, tmp_path):
    root, mountinfo = container_root(tmp_path, "")
    (root / "grader" / "cgroup.procs").write_text("4242\n")

    with pytest.raises(SandboxError) as caught:
        prepare_parent(detect_layout("0::/\n", mountinfo), "grader")

    assert procs(root / "grader") == ["4242"] and not (root / "grader" / WORKER_LEAF).exists()
    assert "holds: 4242" in caught.value.staff_detail and "GRADER_CGROUP_PARENT" in caught.value.staff_detail


def test_a_read_only_cgroupfs_says_how_to_make_it_writable(tmp_path, monkeypatch):
    root, mountinfo = container_root(tmp_path)

    def read_only(directory: Path, controllers: list[str]) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(cgroup_layout, "_write_subtree_control", read_only)
    with pytest.raises(SandboxError) as caught:
        prepare_parent(detect_layout("0::/\n", mountinfo), "grader")

    assert "Read-only file system" in caught.value.staff_detail
    assert "mount -o remount,rw /sys/fs/cgroup" in caught.value.staff_detail
    assert procs(root) == ["1", "7", "8"]  # nothing was moved


def test_a_mount_whose_root_has_the_leaf_name_is_not_left(tmp_path):
    root = tmp_path / WORKER_LEAF  # e.g. a container made for this leaf's processes alone
    root.mkdir()
    (root / "cgroup.controllers").write_text("memory pids\n")
    layout = detect_layout("0::/\n", f"41 31 0:38 / {root} rw - cgroup2 cgroup2 rw\n")
    assert layout.own_dirs == {"unified": root}


def test_an_own_cgroup_without_processes_is_used_as_it_is(kernel, tmp_path):
    root, mountinfo = container_root(tmp_path, "")
    prepare_parent(detect_layout("0::/\n", mountinfo), "grader")
    assert not (root / WORKER_LEAF).exists()
    assert root.joinpath("cgroup.subtree_control").read_text().split() == ["memory", "pids", "cpu"]


# The real kernel. This machine mounts the v1 controllers and a unified hierarchy
# that offers none of memory and pids, but offers others (hugetlb here): the
# "no internal processes" rule and process moves are the same for every controller.


def real_v2_own_dir() -> Path | None:
    """Our own cgroup in the unified hierarchy, if one is mounted."""
    paths = parse_proc_cgroup(Path("/proc/self/cgroup").read_text())
    for mount in parse_cgroup_mounts(Path("/proc/self/mountinfo").read_text()):
        if mount.fstype == "cgroup2" and "" in paths and mount.root == "/":
            return Path(mount.mountpoint + paths[""].rstrip("/"))
    return None


@pytest.fixture
def real_parent() -> tuple[Path, str]:
    """A fresh child of our own v2 cgroup that is offered one controller; removed afterwards."""
    own = real_v2_own_dir()
    if os.geteuid() != 0 or own is None or not own.is_dir():
        pytest.skip("needs root and a cgroup2 mount")
    offered = (own / "cgroup.controllers").read_text().split()
    enabled = (own / "cgroup.subtree_control").read_text().split()
    at_root = (own / "cgroup.procs").exists() and not (own / "cgroup.type").exists()  # only the root has no type
    usable = [c for c in offered if c in enabled] or (offered if at_root else [])
    if not usable:
        pytest.skip(f"{own} hands no controller to a child cgroup here")
    controller = usable[0]
    turned_on = controller not in enabled
    if turned_on:  # the root cgroup may enable controllers while it holds processes
        (own / "cgroup.subtree_control").write_text(f"+{controller}")
    parent = own / f"grader-test-{uuid.uuid4().hex[:8]}"
    parent.mkdir()
    try:
        yield parent, controller
    finally:
        for leftover in sorted(parent.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if leftover.is_dir():
                for pid in (leftover / "cgroup.procs").read_text().split():
                    (own / "cgroup.procs").write_text(pid)
                leftover.rmdir()
        parent.rmdir()
        if turned_on:
            try:
                (own / "cgroup.subtree_control").write_text(f"-{controller}")
            except OSError:
                pass  # another session's cgroup uses it now


SLOT = """
import sys
from pathlib import Path
from grader.sandbox.cgroup_layout import delegate_v2
directory, controller = Path(sys.argv[1]), sys.argv[2]
(directory / "cgroup.procs").write_text("0")  # join, as a worker in its container's cgroup
print("joined", flush=True)
sys.stdin.readline()  # every slot starts delegating at once
delegate_v2(directory, (controller,))
print(Path("/proc/self/cgroup").read_text().splitlines()[-1], flush=True)
sys.stdin.readline()
"""


@pytest.mark.sandbox
def test_real_kernel_refuses_then_allows_delegation_after_the_move(real_parent):
    parent, controller = real_parent
    slots = [
        subprocess.Popen([sys.executable, "-c", SLOT, str(parent), controller], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
        for _ in range(3)
    ]  # fmt: skip
    try:
        assert [slot.stdout.readline().strip() for slot in slots] == ["joined"] * 3
        with pytest.raises(OSError) as refused:  # the problem is real: processes in the cgroup
            (parent / "cgroup.subtree_control").write_text(f"+{controller}")
        assert refused.value.errno == errno.EBUSY

        for slot in slots:
            slot.stdin.write("go\n")
            slot.stdin.flush()
        seen = [slot.stdout.readline().strip() for slot in slots]

        leaf = f"/{parent.name}/{WORKER_LEAF}"
        assert all(line.endswith(leaf) for line in seen), seen
        assert (parent / "cgroup.procs").read_text().split() == []
        assert sorted((parent / WORKER_LEAF / "cgroup.procs").read_text().split()) == sorted(str(s.pid) for s in slots)
        assert f"{controller}" in (parent / "cgroup.subtree_control").read_text().split()
        run = parent / "grader" / "run1"
        run.mkdir(parents=True)
        delegate_v2(parent / "grader", (controller,), move_processes=False)
        assert any(path.name.startswith(f"{controller}.") for path in run.iterdir())
    finally:
        for slot in slots:
            slot.kill()
            slot.wait(10)
        time.sleep(0.05)  # the kernel drops exited tasks from cgroup.procs
