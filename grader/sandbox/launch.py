"""How a run's first process starts: limits, the run's cgroup, an unprivileged host user.

The child Popen starts is a /bin/sh wrapper that prepares itself and then execs
bwrap in place, rather than Popen(preexec_fn=...): preexec_fn runs Python in a
forked child and can deadlock when the worker has other threads (the output
readers of concurrent runs, a Celery pool); the wrapper costs a few ms.

A worker that runs as root must not run bwrap as root: the program, uid 1000
inside its user namespace, would be host uid 0 without capabilities, owner of
every root-owned file it can see and of everything it writes. So, as root, the
wrapper runs bwrap as `SandboxUser.uid`, an unprivileged host user. That user
cannot traverse to most of what the sandbox binds in (the Python under
/root/.pyenv behind a 0700 /root, per-run dirs made 0700 by mkdtemp), so each
bind source is first bound, as root, onto an empty staging point in the run's
own temp dir (`stage_binds`), in a mount namespace of the wrapper's own: the
staging mounts never appear in the host's mount table and vanish with the run.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from grader.core.errors import SandboxError
from grader.sandbox.spec import Mount

WRAPPER_FAILED = 125  # exit status of the wrapper when a step before bwrap fails
ROOT_TOOLS = ("unshare", "mount", "setpriv")  # util-linux, needed only when the worker is root


@dataclasses.dataclass(frozen=True)
class SandboxUser:
    """The unprivileged host user bwrap runs as, and the binds staged for it."""

    uid: int
    gid: int
    staged: dict[str, str]  # host source -> staging point that bwrap binds instead


def wrapper_argv(
    argv: Sequence[str], ulimits: Iterable[tuple[str, int]], join: Iterable[Path], user: SandboxUser | None = None
) -> list[str]:
    """Return a /bin/sh command line that prepares the process, then execs `argv` in place.

    Each step runs in, or execs, the same process: the pid Popen knows is the one
    that joined the cgroup, and bwrap's --die-with-parent still watches the worker.

    1. `ulimit`: no core dumps, no file larger than the scratch disk (seccomp and
       namespaces do not limit these; rlimits survive every exec below).
    2. `echo $$ > cgroup.procs`: join the run's cgroup before bwrap starts, so
       nothing the program starts can be outside it (written while still root).
    As root only (`user` given):
    3. `unshare --mount --propagation private`: a mount namespace of this process
       alone (without --fork unshare execs in place); the staging binds below
       live and die with it and never propagate to the host.
    4. `mount --bind SOURCE STAGING`: gives the sandbox user a path to each bind
       source through the run's own traversable temp dir, so the sources'
       ancestors (/root is 0700) no longer matter, only their own permissions.
    5. `setpriv --reuid --regid --clear-groups`: bwrap, and so the program, runs as
       an unprivileged host user without supplementary groups; root's capabilities
       are gone with the uid change.
    A step that fails exits WRAPPER_FAILED before bwrap runs. Every word is quoted.
    """
    fail = f" || exit {WRAPPER_FAILED}"
    steps = [f"ulimit {shlex.quote(flag)} {int(value)}{fail}" for flag, value in ulimits]
    steps += [f"echo $$ > {shlex.quote(str(procs))}{fail}" for procs in join]
    if user is None:
        steps.append(f"exec {shlex.join(argv)}")
    else:
        inner = [f"mount --bind {shlex.quote(src)} {shlex.quote(dst)}{fail}" for src, dst in user.staged.items()]
        inner.append(f"exec setpriv --reuid={user.uid} --regid={user.gid} --clear-groups -- {shlex.join(argv)}")
        script = shlex.quote("\n".join(inner))
        steps.append(f"exec unshare --mount --propagation private -- /bin/sh -c {script}")
    return ["/bin/sh", "-c", "\n".join(steps)]


def stage_binds(directory: Path, sources: Iterable[str], uid: int, gid: int) -> SandboxUser:
    """Make an empty staging point in `directory` for each distinct bind source."""
    directory.mkdir(mode=0o711)
    directory.chmod(0o711)  # whatever the umask: the sandbox user passes through, never lists
    if (blocked := untraversable_ancestor(directory, uid, gid)) is not None:
        raise SandboxError(
            f"the sandbox user (uid {uid}) cannot traverse {blocked}, so it cannot reach the run's "
            f"staging dir {directory}: set TMPDIR to a directory every user may traverse, e.g. /tmp"
        )
    staged: dict[str, str] = {}
    for source in sources:
        if source in staged:
            continue
        if not os.path.exists(source):
            raise SandboxError(f"cannot bind {source} into the sandbox: it does not exist")
        point = directory / str(len(staged))
        if os.path.isdir(source):
            point.mkdir(mode=0o755)
        else:
            point.touch(mode=0o644)
        staged[source] = str(point)
    return SandboxUser(uid, gid, staged)


def untraversable_ancestor(path: Path, uid: int, gid: int) -> Path | None:
    """Return the first directory on the way to `path` that `uid`/`gid` may not search."""
    for directory in reversed([path, *path.parents]):
        info = directory.stat()
        if info.st_uid == uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return directory
    return None


def hand_over_writable_mounts(mounts: Iterable[Mount], uid: int, gid: int) -> None:
    """Give the sandbox user what it may write: each writable mount, recursively."""
    # Links are not followed: a writable mount holds what the grader put there.
    for mount in mounts:
        if not mount.writable:
            continue
        os.chown(mount.source, uid, gid)
        for directory, dirnames, filenames in os.walk(mount.source):
            for name in dirnames + filenames:
                os.chown(os.path.join(directory, name), uid, gid, follow_symlinks=False)
