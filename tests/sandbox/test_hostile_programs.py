"""Hostile programs in the real sandbox: each ends as expected and leaves nothing.

The `sandbox` fixture asserts after each test that no process carrying the
run's marker is left on the host and that no per-run cgroup dir remains.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from grader.sandbox import Mount, Termination

pytestmark = pytest.mark.sandbox


def test_spinning_program_hits_cpu_limit(sandbox):
    limits = sandbox.limits(cpu_seconds=1, wall_seconds=10)
    result, took = sandbox.run("spin", limits=limits)
    assert result.termination is Termination.CPU_LIMIT
    assert 1.0 <= result.cpu_s < 2.5
    assert took < 8  # generous: other test sessions may share the two cores


def test_sleeping_program_hits_wall_limit(sandbox):
    limits = sandbox.limits(wall_seconds=1)
    result, took = sandbox.run("sleep_forever", limits=limits)
    assert result.termination is Termination.WALL_LIMIT
    assert 1.0 <= result.wall_s < 2.5 and took < 3
    assert result.cpu_s < 0.5


def test_stopped_program_hits_wall_limit(sandbox):
    result, took = sandbox.run("stop_self", limits=sandbox.limits(wall_seconds=1))
    assert result.termination is Termination.WALL_LIMIT
    assert took < 3


def test_program_ignoring_sigterm_is_still_killed(sandbox):
    result, took = sandbox.run("ignore_sigterm", limits=sandbox.limits(wall_seconds=1))
    assert result.termination is Termination.WALL_LIMIT
    assert took < 3


def test_unbounded_allocation_hits_memory_limit(sandbox):
    limits = sandbox.limits(memory_bytes=256 * 1024**2, wall_seconds=10)
    result, took = sandbox.run("allocate_forever", limits=limits)
    assert result.termination is Termination.MEMORY_LIMIT
    assert 200 * 1024**2 < result.peak_memory_bytes <= 256 * 1024**2
    assert took < 8


def test_fork_bomb_is_contained_by_pids_max(sandbox):
    limits = sandbox.limits(wall_seconds=2, max_processes=32)
    result, took = sandbox.run("fork_bomb", limits=limits)
    assert result.termination in (Termination.WALL_LIMIT, Termination.CPU_LIMIT)
    assert took < 5
    assert result.tasks_refused > 0  # the processes limit is recorded, not guessed from the log


def test_thousands_of_threads_are_refused(sandbox):
    result, _ = sandbox.run("many_threads", limits=sandbox.limits(max_processes=64))
    assert result.ok, result.log
    refused_after = int(result.log.split("refused after ")[1].split()[0])
    assert refused_after < 64 and result.tasks_refused >= 1


def test_output_flood_is_capped_with_a_note(sandbox):
    result, took = sandbox.run("flood_output", limits=sandbox.limits(output_bytes=10_000))
    assert result.ok
    assert result.log_dropped_bytes >= 64 * 2**20 - 10_000
    assert result.log.startswith("x" * 10_000)
    assert f"[grader] output truncated: {result.log_dropped_bytes} bytes dropped" in result.log
    assert len(result.log) < 10_100
    assert took < 5


def test_disk_fill_gets_enospc_and_spares_the_host(sandbox):
    free_before = shutil.disk_usage("/tmp").free
    result, _ = sandbox.run("fill_disk", limits=sandbox.limits(disk_bytes=64 * 2**20))
    assert result.ok, result.log
    assert "ENOSPC" in result.log or "EFBIG" in result.log
    written = int(result.log.split("stopped after ")[1].split()[0])
    assert written <= 64 * 2**20
    assert shutil.disk_usage("/tmp").free > free_before - 8 * 2**20


def test_file_size_is_capped_on_writable_mounts(sandbox, tmp_path):
    out = tmp_path / "out"
    out.mkdir(mode=0o777)
    limits = sandbox.limits(disk_bytes=8 * 2**20)
    result, _ = sandbox.run("fill_disk", "/out/big", limits=limits, mounts=(Mount(out, "/out", writable=True),))
    assert "EFBIG" in result.log, result.log  # RLIMIT_FSIZE, set before bwrap runs
    assert (out / "big").stat().st_size <= 8 * 2**20


def test_network_is_refused(sandbox):
    # The host's Redis at 127.0.0.1:6379 is out of reach twice over: the sandbox has its
    # own network namespace, and seccomp refuses every socket family but AF_UNIX. (Redis's
    # connection counter is not checked: other test sessions may use that Redis meanwhile.)
    result, _ = sandbox.run("try_network")
    assert result.ok, result.log
    assert "inet: refused EAFNOSUPPORT" in result.log
    assert "inet6: refused EAFNOSUPPORT" in result.log
    assert "netlink: refused EAFNOSUPPORT" in result.log
    assert "connect: failed" in result.log
    assert "unix: ping" in result.log  # AF_UNIX stays: multiprocessing needs it


def test_host_secrets_do_not_leak_into_the_environment(sandbox, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "hunter2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "AKIA-not-real")
    result, _ = sandbox.run("print_env", env={"GRADER_RUN": "1"})
    env = json.loads(result.log)
    assert "hunter2" not in result.log and "AKIA-not-real" not in result.log
    assert set(env) <= {"PATH", "HOME", "LANG", "PWD", "GRADER_RUN"}
    assert env["PATH"] == "/usr/bin:/bin" and env["HOME"] == "/tmp" and env["GRADER_RUN"] == "1"


def test_killing_its_parent_ends_sanely(sandbox):
    result, took = sandbox.run("kill_parent", limits=sandbox.limits(wall_seconds=2))
    # pid 1 of the sandbox ignores the SIGKILL; the grandchild's kill ends the program.
    assert result.termination is Termination.SIGNALED and result.signal == 9
    assert "still here" in result.log
    assert took < 3


def test_daemon_is_gone_after_the_run(sandbox):
    result, took = sandbox.run("leave_daemon")
    assert result.ok and "daemon started" in result.log
    assert took < 2  # the daemon holding stdout open does not keep the run alive


def test_writes_outside_tmp_fail_and_host_is_unchanged(sandbox, marker):
    targets = ["/usr/" + marker, os.path.join(sys.prefix, marker), "/" + marker, "/etc/" + marker, "/etc/passwd"]
    targets.append(os.path.join(os.path.realpath(sys.base_prefix), marker))
    passwd = open("/etc/passwd").read()
    result, _ = sandbox.run("write_outside", *targets, "/tmp/ok")
    assert result.ok, result.log
    for path in targets:
        assert f"{path}: EROFS" in result.log or f"{path}: EACCES" in result.log
        assert not os.path.exists(path) or path == "/etc/passwd"
    assert "/tmp/ok: written" in result.log
    assert open("/etc/passwd").read() == passwd


def test_host_sysctls_cannot_be_opened_for_writing(sandbox):
    # the program is an unprivileged host user (EACCES); /proc is read-only besides (EROFS)
    result, _ = sandbox.run("write_proc")
    assert result.ok, result.log
    refusals = [line.rpartition(": ")[2] for line in result.log.splitlines()]
    assert len(refusals) == 3 and set(refusals) <= {"EACCES", "EROFS"}, result.log


def test_proc_dev_and_root_are_mounted_read_only(sandbox):
    result, _ = sandbox.run("list_paths", "/proc/self/mountinfo")
    mountinfo = json.loads(result.log)["/proc/self/mountinfo"]
    options = {fields[4]: fields[5].split(",") for fields in map(str.split, mountinfo.splitlines())}
    for point in ("/", "/proc", "/dev"):
        assert "ro" in options[point], (point, mountinfo)


def test_traps_in_writable_mounts_are_disarmed(sandbox, tmp_path):
    out = tmp_path / "out"
    out.mkdir(mode=0o777)
    result, _ = sandbox.run("plant_traps", "/out", mounts=(Mount(out, "/out", writable=True),))
    assert "planted" in result.log, result.log
    assert sorted(p.name for p in out.rglob("*")) == ["ok.txt", "sub", "suid"]
    assert not (out / "suid").stat().st_mode & 0o6000 and not (out / "sub").stat().st_mode & 0o6000
    assert (out / "ok.txt").read_text() == "fine"


def test_runs_as_non_root_without_capabilities(sandbox):
    result, _ = sandbox.run("identity")
    who = json.loads(result.log)
    assert who["uid"] == who["euid"] == 1000 and who["gid"] == 1000
    assert int(who["cap_eff"], 16) == 0 and int(who["cap_bnd"], 16) == 0
    assert who["seccomp"] == "2" and who["no_new_privs"] == "1"
    assert who["hostname"] == "sandbox" and who["pid"] <= 3


def test_hidden_paths_are_empty(sandbox, tmp_path):
    data = tmp_path / "data"
    (data / "secret").mkdir(parents=True)
    (data / "secret" / "labels.csv").write_text("the answers")
    (data / "answers.txt").write_text("the answers")
    (data / "public.txt").write_text("hello")
    hidden = ("/data/secret", "/data/answers.txt", "/data/not-there")
    result, _ = sandbox.run(
        "list_paths", "/data", "/data/secret", "/data/answers.txt", "/data/public.txt",
        mounts=(Mount(data, "/data"),), hidden=hidden,
    )  # fmt: skip
    seen = json.loads(result.log)
    assert seen["/data/secret"] == [] and seen["/data/answers.txt"] == ""
    assert seen["/data/public.txt"] == "hello"
    assert "the answers" not in result.log


def test_writable_mount_receives_files_and_read_only_mounts_refuse(sandbox, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out").chmod(0o777)
    mounts = (Mount(tmp_path / "in", "/in"), Mount(tmp_path / "out", "/out", writable=True))
    result, _ = sandbox.run("write_outside", "/in/x", "/out/predictions.txt", "/fixtures/x", mounts=mounts)
    assert "/in/x: EROFS" in result.log and "/fixtures/x: EROFS" in result.log
    assert "/out/predictions.txt: written" in result.log
    assert (tmp_path / "out" / "predictions.txt").read_text() == "pwned"
    assert not (tmp_path / "in" / "x").exists()


def test_normal_program_returns_exit_code_and_output(sandbox):
    result, took = sandbox.run("exit_with", "7")
    assert result.termination is Termination.EXITED and result.exit_code == 7 and result.signal is None
    assert "hello from the sandbox" in result.log and "to stderr" in result.log
    assert result.log_dropped_bytes == 0
    assert 0 < result.cpu_s < 2 and result.peak_memory_bytes > 1_000_000 and result.wall_s < 3
    assert took < 3


def test_death_by_signal_is_reported(sandbox):
    result, _ = sandbox.run("kill_self")
    assert result.termination is Termination.SIGNALED and result.signal == 15 and result.exit_code is None


@pytest.mark.slow
def test_frameworks_import_under_seccomp(sandbox):
    limits = sandbox.limits(wall_seconds=120, cpu_seconds=240, memory_bytes=4 * 1024**3, max_processes=512)
    result, _ = sandbox.run("import_frameworks", limits=limits)
    assert result.ok, result.log
    assert "torch 3.0 tf 3.0" in result.log


def test_seccomp_denies_dangerous_syscalls(sandbox):
    result, _ = sandbox.run("denied_syscalls")
    assert result.ok, result.log
    lines = dict(line.split(": ") for line in result.log.splitlines())
    assert lines == {name: "EPERM" for name in lines} and len(lines) == 8, result.log
