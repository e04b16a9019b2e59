"""The wrapper that starts a run, staging of bind sources, and handing writable mounts over."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.core.errors import SandboxError
from grader.sandbox import userns_hint
from grader.sandbox.launch import (
    SandboxUser,
    hand_over_writable_mounts,
    stage_binds,
    untraversable_ancestor,
    wrapper_argv,
)
from grader.sandbox.runner import check_root_tools
from grader.sandbox.spec import Mount

ODD = 'it\'s $HOME `id` "x" ; rm -rf /'
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as a worker that drops to the sandbox user")
UID = 60000


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A fresh dir that every user may traverse (the temp dir itself must be)."""
    path = Path(tempfile.mkdtemp())
    path.chmod(0o711)
    yield path
    shutil.rmtree(path)


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})


def test_wrapper_sets_limits_then_execs_the_argv_unchanged():
    done = run(wrapper_argv(["/bin/sh", "-c", 'ulimit -c; printf "%s|" "$@"', "sh", ODD, "$$"], [("-c", 0)], []))
    assert done.returncode == 0 and done.stdout == f"0\n{ODD}|$$|", done.stderr


def test_wrapper_exits_125_when_it_cannot_join_a_cgroup(tmp_path):
    done = run(wrapper_argv(["/bin/true"], [], [tmp_path / "no-such-dir" / "cgroup.procs"]))
    assert done.returncode == 125


@as_root
def test_wrapper_binds_the_staged_sources_and_drops_to_the_sandbox_user(tmp_path, open_dir):
    source = tmp_path / "private" / ODD
    source.mkdir(parents=True)
    (tmp_path / "private").chmod(0o700)
    (source / "file").write_text("staged")
    user = stage_binds(open_dir / "stage", [str(source)], UID, UID)
    point = user.staged[str(source)]
    done = run(wrapper_argv(["/bin/sh", "-c", 'id -u; id -g; id -G; cat "$1/file"', "sh", point], [], [], user))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(UID), str(UID), str(UID), "staged"]
    assert list(Path(point).iterdir()) == []  # the bind lived in the wrapper's mount namespace only
    mountinfo = Path("/proc/self/mountinfo").read_text()
    assert str(open_dir) not in mountinfo and str(tmp_path) not in mountinfo


@as_root
def test_wrapper_exits_125_when_a_bind_fails(tmp_path):
    user = SandboxUser(UID, UID, {str(tmp_path / "gone"): str(tmp_path)})
    assert run(wrapper_argv(["/bin/true"], [], [], user)).returncode == 125


def test_stage_binds_makes_one_point_per_distinct_source(tmp_path, open_dir):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    sources = [str(tmp_path / "dir"), str(tmp_path / "file"), str(tmp_path / "dir")]
    user = stage_binds(open_dir / "stage", sources, UID, UID)
    assert (user.uid, user.gid) == (UID, UID)
    assert list(user.staged) == sources[:2]
    point_dir, point_file = (Path(p) for p in user.staged.values())
    assert point_dir.parent == open_dir / "stage" and (open_dir / "stage").stat().st_mode & 0o777 == 0o711
    assert point_dir.is_dir() and not any(point_dir.iterdir())
    assert point_file.is_file() and point_file.read_text() == ""


def test_stage_binds_refuses_a_missing_source(tmp_path, open_dir):
    with pytest.raises(SandboxError) as caught:
        stage_binds(open_dir / "stage", [str(tmp_path / "gone")], UID, UID)
    assert "gone" in caught.value.staff_detail and "does not exist" in caught.value.staff_detail


def test_stage_binds_refuses_a_staging_dir_the_user_cannot_reach(open_dir):
    locked = open_dir / "locked"
    locked.mkdir(mode=0o700)
    with pytest.raises(SandboxError) as caught:
        stage_binds(locked / "stage", [], UID, UID)
    assert str(locked) in caught.value.staff_detail and "TMPDIR" in caught.value.staff_detail


@as_root
def test_untraversable_ancestor_reads_the_owner_group_or_other_bits(open_dir):
    middle = open_dir / "a"
    (middle / "b").mkdir(parents=True)
    middle.chmod(0o770)
    assert untraversable_ancestor(middle / "b", UID, UID) == middle  # others may not pass
    assert untraversable_ancestor(middle / "b", 0, 0) is None
    os.chown(middle, 0, UID)
    assert untraversable_ancestor(middle / "b", UID, UID) is None  # its group may
    os.chown(middle, UID, 0)
    middle.chmod(0o670)
    assert untraversable_ancestor(middle / "b", UID, UID) == middle  # its owner may not
    assert untraversable_ancestor(middle / "b", UID + 1, 0) is None


@as_root
def test_hand_over_gives_writable_mounts_to_the_user_without_following_links(tmp_path):
    out, given = tmp_path / "out", tmp_path / "input"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "f").write_text("x")
    (out / "link").symlink_to("/etc/passwd")
    given.mkdir()
    hand_over_writable_mounts((Mount(given, "/in"), Mount(out, "/out", writable=True)), UID, UID + 1)
    for path in (out, out / "sub", out / "sub" / "f", out / "link"):
        assert (os.lstat(path).st_uid, os.lstat(path).st_gid) == (UID, UID + 1), path
    assert os.stat("/etc/passwd").st_uid == 0 and given.stat().st_uid == 0


@as_root
def test_missing_util_linux_tools_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError) as caught:
        check_root_tools()
    assert "unshare, mount, setpriv" in caught.value.staff_detail


def test_userns_hint_names_the_blocking_sysctl(tmp_path):
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "max_user_namespaces").write_text("0\n")
    hint = userns_hint("bwrap: Creating new namespace failed", tmp_path)
    assert "/proc/sys/user/max_user_namespaces is 0" in hint and "sysctl -w user.max_user_namespaces=" in hint
    (tmp_path / "user" / "max_user_namespaces").write_text("15000\n")
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "apparmor_restrict_unprivileged_userns").write_text("1\n")
    assert "apparmor_restrict_unprivileged_userns is 1" in userns_hint("", tmp_path)


def test_userns_hint_without_a_blocking_sysctl(tmp_path):
    detail = "bwrap: No permissions to create new namespace, likely because the kernel does not allow ..."
    assert "security module" in userns_hint(detail, tmp_path)
    assert userns_hint("cannot write '1' to cgroup.procs", tmp_path) == ""
