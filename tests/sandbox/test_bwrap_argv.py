"""The bwrap command line, built without running bwrap."""

from __future__ import annotations

from pathlib import Path

from grader.core.limits import Limits
from grader.sandbox.bwrap import (
    HostFacts,
    RunFiles,
    build_bwrap_argv,
    host_path_of,
    minimal_dirs,
    probe_host,
    write_run_files,
)
from grader.sandbox.spec import Mount, RunSpec

HOST = HostFacts(
    root_links=(("/bin", "usr/bin"), ("/lib", "usr/lib"), ("/sbin", None)),
    etc_paths=("/etc/ld.so.cache", "/etc/localtime"),
    python_dirs=("/opt/venv", "/root/.pyenv/versions/3.11.7"),
    hidden=(("/opt/venv/lib/sklearn/datasets/data", True), ("/in/labels.npy", False)),
)
FILES = RunFiles("/run/x/passwd", "/run/x/group", "/run/x/empty", "/run/x/empty-file")
SPEC = RunSpec(
    argv=("/opt/venv/bin/python", "-m", "harness"),
    mounts=(Mount(Path("/srv/in"), "/in"), Mount(Path("/srv/out"), "/out", writable=True)),
    limits=Limits(disk_bytes=123456),
    env={"CUDA_VISIBLE_DEVICES": "0"},
    cwd="/out",
    devices=("/dev/nvidia0",),
)


def build(spec: RunSpec = SPEC) -> list[str]:
    return build_bwrap_argv(spec, HOST, FILES, bwrap_path="/usr/bin/bwrap", seccomp_fd=7, status_fd=8)


def pairs(argv: list[str], flag: str, arity: int) -> list[tuple[str, ...]]:
    """Return the arguments that follow each occurrence of `flag`."""
    return [tuple(argv[i + 1 : i + 1 + arity]) for i, a in enumerate(argv) if a == flag]


def test_isolates_every_namespace_as_an_unprivileged_user():
    argv = build()
    for flag in (
        "--unshare-all",
        "--unshare-user",
        "--unshare-cgroup",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
    ):
        assert flag in argv
    assert pairs(argv, "--uid", 1) == [("1000",)] and pairs(argv, "--gid", 1) == [("1000",)]
    assert pairs(argv, "--cap-drop", 1) == [("ALL",)] and pairs(argv, "--hostname", 1) == [("sandbox",)]
    assert pairs(argv, "--seccomp", 1) == [("7",)] and pairs(argv, "--json-status-fd", 1) == [("8",)]


def test_environment_is_cleared_then_minimal():
    argv = build()
    assert argv.index("--clearenv") < argv.index("--setenv")
    assert pairs(argv, "--setenv", 2) == [
        ("PATH", "/usr/bin:/bin"), ("HOME", "/tmp"), ("LANG", "C.UTF-8"), ("CUDA_VISIBLE_DEVICES", "0"),
    ]  # fmt: skip


def test_system_mounts():
    argv = build()
    ro = pairs(argv, "--ro-bind", 2)
    assert ("/usr", "/usr") in ro and ("/sbin", "/sbin") in ro
    assert pairs(argv, "--symlink", 2) == [("usr/bin", "/bin"), ("usr/lib", "/lib")]
    assert ("/etc/ld.so.cache", "/etc/ld.so.cache") in ro and ("/etc/localtime", "/etc/localtime") in ro
    assert ("/run/x/passwd", "/etc/passwd") in ro and ("/run/x/group", "/etc/group") in ro
    assert ("/opt/venv", "/opt/venv") in ro and ("/root/.pyenv/versions/3.11.7",) * 2 in ro
    assert pairs(argv, "--size", 3) == [("123456", "--tmpfs", "/dev/shm"), ("123456", "--tmpfs", "/tmp")]
    assert pairs(argv, "--proc", 1) == [("/proc",)] and pairs(argv, "--dev", 1) == [("/dev",)]


def test_spec_mounts_devices_and_hidden_paths_in_order():
    argv = build()
    assert ("/srv/in", "/in") in pairs(argv, "--ro-bind", 2)
    assert pairs(argv, "--bind", 2) == [("/srv/out", "/out")]
    assert pairs(argv, "--dev-bind", 2) == [("/dev/nvidia0", "/dev/nvidia0")]
    hide_dir = argv.index("/opt/venv/lib/sklearn/datasets/data")
    assert argv[hide_dir - 1] == "/run/x/empty" and argv[hide_dir - 2] == "--ro-bind"
    hide_file = argv.index("/in/labels.npy")
    assert argv[hide_file - 1] == "/run/x/empty-file"
    # later mounts cover earlier ones: hidden paths come after the mounts they hide into
    assert argv.index("/srv/in") < hide_file and argv.index("/opt/venv") < hide_dir


def test_root_is_read_only_and_the_program_comes_last():
    argv = build()
    assert pairs(argv, "--remount-ro", 1) == [("/proc",), ("/dev",), ("/",)]
    assert pairs(argv, "--chdir", 1) == [("/out",)]
    assert argv[0] == "/usr/bin/bwrap"
    assert argv[argv.index("--") + 1 :] == ["/opt/venv/bin/python", "-m", "harness"]
    assert argv.index("--remount-ro") > argv.index("/dev/nvidia0")


def test_staged_sources_replace_host_sources_and_targets_stay():
    staged = {"/srv/in": "/stage/0", "/srv/out": "/stage/1", "/root/.pyenv/versions/3.11.7": "/stage/2"}
    argv = build_bwrap_argv(SPEC, HOST, FILES, bwrap_path="/usr/bin/bwrap", seccomp_fd=7, status_fd=8, staged=staged)
    ro = pairs(argv, "--ro-bind", 2)
    assert ("/stage/0", "/in") in ro and pairs(argv, "--bind", 2) == [("/stage/1", "/out")]
    assert ("/stage/2", "/root/.pyenv/versions/3.11.7") in ro and ("/opt/venv", "/opt/venv") in ro
    assert "/srv/in" not in argv and "/srv/out" not in argv


def test_minimal_dirs_keeps_outermost_and_skips_usr():
    dirs = {"/root/.pyenv/versions/3.11.7", "/root/.pyenv/versions/3.11.7/lib", "/work/.venv", "/usr/local", "/usr"}
    assert minimal_dirs(dirs, already=("/usr",)) == ("/root/.pyenv/versions/3.11.7", "/work/.venv")


def test_host_path_of_follows_the_innermost_mount():
    spec = RunSpec(argv=("x",), mounts=(Mount(Path("/a"), "/in"), Mount(Path("/b"), "/in/sub")), limits=Limits())
    assert host_path_of("/in/sub/f", spec) == "/b/f"
    assert host_path_of("/in/g", spec) == "/a/g"
    assert host_path_of("/insider", spec) == "/insider"


def test_probe_host_skips_missing_hidden_paths(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    spec = RunSpec(
        argv=("x",),
        mounts=(Mount(tmp_path, "/data"),),
        limits=Limits(),
        hidden=("/data/dir", "/data/file", "/data/gone"),
    )
    host = probe_host(spec, ("/opt/venv",))
    assert host.hidden == (("/data/dir", True), ("/data/file", False))
    assert host.python_dirs == ("/opt/venv",)
    assert all(link in ("/bin", "/lib", "/lib64", "/sbin") for link, _ in host.root_links)


def test_run_files_name_the_sandbox_user(tmp_path):
    files = write_run_files(tmp_path)
    assert Path(files.passwd).read_text() == "sandbox:x:1000:1000:sandbox:/tmp:/bin/sh\n"
    assert Path(files.group).read_text() == "sandbox:x:1000:\n"
    assert list(Path(files.empty_dir).iterdir()) == [] and Path(files.empty_file).read_text() == ""
