"""The bubblewrap command line of one run.

`build_bwrap_argv` is a pure function of the run's spec, a few facts about the
host filesystem (`HostFacts`, gathered by `probe_host`) and the per-run files
(`RunFiles`, written by `write_run_files`), so it is unit-tested without bwrap.

What the sandbox sees, besides the spec's own mounts:

    /usr                      read-only
    /bin /lib /lib64 /sbin    symlinks into /usr where the host has merged /usr, else read-only
    /etc                      ld.so.cache, ld.so.conf(.d), localtime; a synthetic passwd and group
    /proc /dev                fresh and read-only; /dev/shm a size-capped tmpfs
    /tmp                      a tmpfs of Limits.disk_bytes: the only writable scratch
    the Python environment    read-only at its host paths (sys.prefix, sys.base_prefix, realpaths)
    /                         read-only, so nothing can be created outside /tmp and the writable mounts

The sandbox uid 1000 maps to the host uid that runs bwrap, and the program has
no capability. A worker running as root runs bwrap as an unprivileged host user
(see launch.py), with each bind source reached through a staging point
(`staged`); a worker that is not root is already unprivileged and runs bwrap as
itself.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from grader.sandbox.spec import RunSpec

SANDBOX_UID = 1000
SANDBOX_GID = 1000
SANDBOX_HOME = "/tmp"
BASE_ENV = {"PATH": "/usr/bin:/bin", "HOME": SANDBOX_HOME, "LANG": "C.UTF-8"}

ROOT_DIRS = ("/bin", "/lib", "/lib64", "/sbin")  # symlinks into /usr on merged-usr hosts
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")


@dataclasses.dataclass(frozen=True)
class HostFacts:
    """What the argv builder needs to know about the host filesystem."""

    root_links: tuple[tuple[str, str | None], ...]  # (path, symlink target), or (path, None) for a real dir
    etc_paths: tuple[str, ...]  # host /etc entries that exist, bound read-only
    python_dirs: tuple[str, ...]  # the Python environment, bound read-only at the same paths
    hidden: tuple[tuple[str, bool], ...]  # (path, is_dir) of the spec's hidden paths that exist


@dataclasses.dataclass(frozen=True)
class RunFiles:
    """Files of one run, on the host, that bwrap binds in."""

    passwd: str
    group: str
    empty_dir: str  # bound over hidden directories
    empty_file: str  # bound over hidden files


def python_env_dirs() -> tuple[str, ...]:
    """Return the running Python's environment dirs, outermost only, none under /usr."""
    candidates = {sys.prefix, sys.base_prefix, os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    return minimal_dirs(candidates, already=("/usr",))


def minimal_dirs(paths: set[str] | tuple[str, ...], already: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Drop paths inside another path of the set or inside `already`."""
    kept: list[str] = []
    for path in sorted({os.path.normpath(p) for p in paths}):
        if not any(_is_within(path, outer) for outer in (*already, *kept)):
            kept.append(path)
    return tuple(kept)


def _is_within(path: str, outer: str) -> bool:
    return path == outer or path.startswith(outer.rstrip("/") + "/")


def probe_host(spec: RunSpec, python_dirs: tuple[str, ...]) -> HostFacts:
    """Gather the host facts for `spec` (stats the filesystem)."""
    root_links = tuple(
        (path, os.readlink(path) if os.path.islink(path) else None) for path in ROOT_DIRS if os.path.lexists(path)
    )
    hidden = []
    for path in spec.hidden:
        on_host = host_path_of(path, spec)
        # A hidden path absent on the host is skipped: bwrap would fail to create its mount point.
        if os.path.exists(on_host):
            hidden.append((path, os.path.isdir(on_host)))
    return HostFacts(root_links, tuple(p for p in ETC_FILES if os.path.exists(p)), python_dirs, tuple(hidden))


def host_path_of(path: str, spec: RunSpec) -> str:
    """Return the host path behind sandbox `path`: through the innermost mount that covers it."""
    for mount in sorted(spec.mounts, key=lambda m: len(m.target), reverse=True):
        if _is_within(path, mount.target):
            return str(mount.source) + path[len(mount.target.rstrip("/")) :]
    return path


def write_run_files(directory: Path) -> RunFiles:
    """Write the synthetic /etc files and empty placeholders into `directory`."""
    directory.chmod(0o711)  # bwrap, perhaps as the sandbox user, reaches them by name
    passwd, group = directory / "passwd", directory / "group"
    passwd.write_text(f"sandbox:x:{SANDBOX_UID}:{SANDBOX_GID}:sandbox:{SANDBOX_HOME}:/bin/sh\n")
    group.write_text(f"sandbox:x:{SANDBOX_GID}:\n")
    empty_dir, empty_file = directory / "empty", directory / "empty-file"
    empty_dir.mkdir(mode=0o555)
    empty_file.touch(mode=0o444)
    for path in (passwd, group):
        path.chmod(0o444)
    return RunFiles(str(passwd), str(group), str(empty_dir), str(empty_file))


def build_bwrap_argv(
    spec: RunSpec,
    host: HostFacts,
    files: RunFiles,
    *,
    bwrap_path: str,
    seccomp_fd: int,
    status_fd: int,
    staged: Mapping[str, str] | None = None,
) -> list[str]:
    """Build the full bwrap command line that runs `spec.argv`.

    `staged` maps a host bind source to the path bwrap binds it from instead (its
    staging point, when bwrap runs as the sandbox user); the target stays the same.
    """
    staged = staged or {}
    return [
        bwrap_path,
        *_namespace_args(),
        *_env_args(spec.env),
        *["--seccomp", str(seccomp_fd), "--json-status-fd", str(status_fd)],
        *_system_args(host, files, spec.limits.disk_bytes, staged),
        *_spec_mount_args(spec, host, files, staged),
        *_read_only_args(),
        *["--chdir", spec.cwd],
        "--",
        *spec.argv,
    ]


def _namespace_args() -> list[str]:
    """Isolate every namespace, as a non-root user without capabilities."""
    # --unshare-all only *tries* user and cgroup namespaces; ask for them outright,
    # which --disable-userns needs anyway (it forbids nested user namespaces).
    return [
        "--unshare-all", "--unshare-user", "--unshare-cgroup", "--disable-userns",
        "--hostname", "sandbox",
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
    ]  # fmt: skip


def _env_args(extra: dict[str, str]) -> list[str]:
    """Start from an empty environment: nothing of the host's leaks in."""
    args = ["--clearenv"]
    for name, value in {**BASE_ENV, **extra}.items():
        args += ["--setenv", name, value]
    return args


def _system_args(host: HostFacts, files: RunFiles, disk_bytes: int, staged: Mapping[str, str]) -> list[str]:
    """Mount the OS, a minimal /etc, /proc, /dev, /tmp and the Python environment."""
    args = ["--ro-bind", "/usr", "/usr"]
    for path, target in host.root_links:
        args += ["--symlink", target, path] if target is not None else ["--ro-bind", path, path]
    for path in host.etc_paths:
        args += ["--ro-bind", path, path]
    args += ["--ro-bind", files.passwd, "/etc/passwd", "--ro-bind", files.group, "/etc/group"]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(disk_bytes), "--tmpfs", "/dev/shm"]
    args += ["--size", str(disk_bytes), "--tmpfs", "/tmp"]
    for path in host.python_dirs:
        args += ["--ro-bind", staged.get(path, path), path]
    return args


def _read_only_args() -> list[str]:
    """Make /proc, /dev and / read-only once every mount point exists."""
    # Defence in depth: the program is an unprivileged host user, so procfs's
    # "owner is root" checks already refuse it /proc/sys; were bwrap ever run as
    # root again, a writable /proc/sys would let it set host sysctls (core_pattern!).
    return ["--remount-ro", "/proc", "--remount-ro", "/dev", "--remount-ro", "/"]


def _spec_mount_args(spec: RunSpec, host: HostFacts, files: RunFiles, staged: Mapping[str, str]) -> list[str]:
    """Mount the spec's binds and devices, then hide its hidden paths."""
    args: list[str] = []
    for mount in spec.mounts:
        source = str(mount.source)
        args += ["--bind" if mount.writable else "--ro-bind", staged.get(source, source), mount.target]
    for device in spec.devices:
        args += ["--dev-bind", device, device]
    for path, is_dir in host.hidden:
        args += ["--ro-bind", files.empty_dir if is_dir else files.empty_file, path]
    return args
