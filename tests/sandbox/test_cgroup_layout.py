"""Finding our own cgroups, and the v2 code path on a fake cgroup tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.core.errors import SandboxError
from grader.core.limits import Limits
from grader.sandbox.cgroup import CgroupV2, create_run_cgroup
from grader.sandbox.cgroup_layout import detect_layout, parse_cgroup_mounts, parse_proc_cgroup

HYBRID_CGROUP = "4:memory:/process_api/abc\n2:cpu,cpuacct:/\n9:name=systemd:/\n0::/\n"


def mountinfo(*lines: tuple[str, str, str, str]) -> str:
    """Build mountinfo lines from (mountpoint, root, fstype, super options)."""
    return "".join(
        f"3{i} 23 0:2{i} {root} {point} rw,relatime - {fs} {fs} {opts}\n"
        for i, (point, root, fs, opts) in enumerate(lines)
    )


def test_parse_proc_cgroup_splits_controllers():
    paths = parse_proc_cgroup(HYBRID_CGROUP)
    assert paths == {"memory": "/process_api/abc", "cpu": "/", "cpuacct": "/", "systemd": "/", "": "/"}


def test_parse_mounts_keeps_cgroup_filesystems_only():
    text = mountinfo(("/sys/fs/cgroup/memory", "/", "cgroup", "rw,memory"), ("/proc", "/", "proc", "rw"))
    text += "41 31 0:38 / /sys/fs/cgroup/uni\\040fied rw - cgroup2 cgroup2 rw\n"
    mounts = parse_cgroup_mounts(text)
    assert [(m.fstype, m.mountpoint) for m in mounts] == [
        ("cgroup", "/sys/fs/cgroup/memory"),
        ("cgroup2", "/sys/fs/cgroup/uni fied"),
    ]
    assert "memory" in mounts[0].options


def fake_v1(tmp_path: Path, controllers: tuple[str, ...]) -> str:
    lines = []
    for name in controllers:
        (tmp_path / name / "process_api" / "abc").mkdir(parents=True)
        lines.append((str(tmp_path / name), "/", "cgroup", f"rw,{name}"))
    return mountinfo(*lines)


def test_v1_layout_uses_our_own_path_in_each_hierarchy(tmp_path):
    text = fake_v1(tmp_path, ("memory", "pids", "cpuacct", "freezer"))
    proc = "".join(f"{i}:{c}:/process_api/abc\n" for i, c in enumerate(("memory", "pids", "cpuacct", "freezer"), 1))
    layout = detect_layout(proc + "0::/\n", text)
    assert layout.version == 1
    assert layout.own_dirs["memory"] == tmp_path / "memory" / "process_api" / "abc"


def test_missing_v1_controller_is_named(tmp_path):
    text = fake_v1(tmp_path, ("memory", "pids", "cpuacct"))
    with pytest.raises(SandboxError) as caught:
        detect_layout("1:memory:/process_api/abc\n2:pids:/process_api/abc\n3:cpuacct:/process_api/abc\n", text)
    assert "freezer (missing)" in caught.value.staff_detail


def fake_v2(tmp_path: Path) -> Path:
    own = tmp_path / "unified" / "worker"
    own.mkdir(parents=True)
    (own / "cgroup.controllers").write_text("cpu memory pids io\n")
    (own / "cgroup.subtree_control").write_text("\n")
    return own


def test_v2_is_preferred_when_it_offers_memory_and_pids(tmp_path):
    own = fake_v2(tmp_path)
    text = mountinfo((str(tmp_path / "unified"), "/", "cgroup2", "rw"))
    layout = detect_layout("0::/worker\n", text)
    assert layout.version == 2 and layout.own_dirs == {"unified": own}


def test_v2_run_cgroup_writes_limits_and_delegates_controllers(tmp_path):
    own = fake_v2(tmp_path)
    layout = detect_layout("0::/worker\n", mountinfo((str(tmp_path / "unified"), "/", "cgroup2", "rw")))
    # in a fake tree the parent offers nothing until we say so; the kernel would fill it in
    (own / "grader").mkdir()
    (own / "grader" / "cgroup.controllers").write_text("cpu memory pids\n")
    (own / "memory.peak").touch()
    cgroup = create_run_cgroup(layout, "grader", "run1", Limits(memory_bytes=1000, max_processes=7))
    run = own / "grader" / "run1"
    assert isinstance(cgroup, CgroupV2) and cgroup.procs_files() == [run / "cgroup.procs"]
    assert (own / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (own / "grader" / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (run / "memory.max").read_text() == "1000" and (run / "pids.max").read_text() == "7"
    (run / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 1\n")
    (run / "memory.events").write_text("low 0\noom 1\noom_kill 2\n")
    (run / "memory.current").write_text("4096\n")
    (run / "pids.events").write_text("max 3\n")
    cgroup.sample()
    assert cgroup.cpu_seconds() == 2.5 and cgroup.oom_kills() == 2 and cgroup.peak_memory_bytes() == 4096
    assert cgroup.tasks_refused() == 3


@pytest.mark.sandbox
def test_real_layout_is_found_here():
    layout = detect_layout()
    assert layout.version in (1, 2)
    assert all(path.is_dir() for path in layout.own_dirs.values())
