"""A worker running as root runs the program as an unprivileged host user, on real bwrap."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from grader.sandbox import Mount, Termination

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox user replaces root only when the worker is root"),
]


def staging_mounts() -> list[str]:
    """Return the lines of the host's mount table that name a run's temp dir."""
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if "grader-run-" in line]


def test_files_written_in_a_writable_mount_belong_to_the_sandbox_user(sandbox, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "given.txt").write_text("from the grader")
    result, _ = sandbox.run("write_outside", "/out/predictions.txt", mounts=(Mount(out, "/out", writable=True),))
    assert "/out/predictions.txt: written" in result.log, result.log
    uid = sandbox.runner.host_uid
    for path in (out, out / "predictions.txt", out / "given.txt"):
        info = path.stat()
        assert (info.st_uid, info.st_gid) == (uid, uid), path
    assert uid != 0 and (out / "predictions.txt").read_text() == "pwned"  # root still reads it


def test_root_only_files_in_a_read_only_mount_are_unreadable(sandbox, tmp_path):
    data = tmp_path / "data"
    (data / "private").mkdir(parents=True)
    (data / "private").chmod(0o700)
    (data / "secret.txt").write_text("root's only")
    (data / "secret.txt").chmod(0o600)
    (data / "public.txt").write_text("hello")
    (data / "public.txt").chmod(0o644)
    result, _ = sandbox.run(
        "list_paths", "/data/secret.txt", "/data/private", "/data/public.txt", mounts=(Mount(data, "/data"),)
    )
    seen = json.loads(result.log)
    assert seen["/data/secret.txt"] == "error 13"  # EACCES: PermissionError
    assert seen["/data/private"] == "error 13"
    assert seen["/data/public.txt"] == "hello"


def test_sources_behind_private_dirs_with_odd_names_are_reachable(sandbox, tmp_path):
    # tmp_path lies under a 0700 dir already; the name tests the wrapper's quoting
    source = tmp_path / "locked" / 'it\'s $HOME `id` "x"'
    source.mkdir(parents=True)
    (tmp_path / "locked").chmod(0o700)
    (source / "public.txt").write_text("reached")
    result, _ = sandbox.run("list_paths", "/data/public.txt", mounts=(Mount(source, "/data"),))
    assert json.loads(result.log) == {"/data/public.txt": "reached"}


def test_the_program_is_uid_1000_inside(sandbox):
    result, _ = sandbox.run("list_paths", "/proc/self/status")
    status = dict(line.split(":\t", 1) for line in json.loads(result.log)["/proc/self/status"].splitlines())
    assert status["Uid"].split() == ["1000"] * 4 and status["Gid"].split() == ["1000"] * 4
    assert status["Groups"].split() == []


def test_the_host_sees_the_sandbox_user_and_no_staging_mount_while_it_runs(sandbox, marked, kill_marked):
    results = []
    limits = sandbox.limits(wall_seconds=3)
    run = threading.Thread(target=lambda: results.append(sandbox.run("sleep_forever", limits=limits)))
    run.start()
    try:
        deadline = time.monotonic() + 3
        while len(marked()) < 3 and time.monotonic() < deadline:  # bwrap, its child (pid 1), python
            time.sleep(0.02)
        processes = marked()
        uids = {(tuple(p.uids()), tuple(p.gids())) for p in processes}
        mounts_meanwhile = staging_mounts()
    finally:
        run.join(10)
    uid = sandbox.runner.host_uid
    assert len(processes) >= 3 and uids == {((uid,) * 3, (uid,) * 3)}
    assert mounts_meanwhile == []
    assert results[0][0].termination is Termination.WALL_LIMIT


def test_no_staging_mount_is_left_after_runs(sandbox, tmp_path):
    before = staging_mounts()
    for code in ("0", "3"):
        result, _ = sandbox.run("exit_with", code, mounts=(Mount(tmp_path, "/data"),))
        assert result.exit_code == int(code)
    assert before == [] and staging_mounts() == []
