#!/bin/sh
# Entry point of the worker image: make the container able to run sandboxes, prove it
# with a trial run, then exec the command (grader worker).
#
# 1. cgroup v2: Docker mounts /sys/fs/cgroup read-only in a container that is not
#    privileged. With a private cgroup namespace (compose: cgroup: private) the mount
#    shows only this container's own cgroup, so making it writable lets the worker
#    create a cgroup per run below it and nothing else: the host mounts cgroup2 with
#    nsdelegate, so the container cannot change its own limits. Needs CAP_SYS_ADMIN
#    and an AppArmor profile that allows mount (compose: apparmor=unconfined).
# 2. The trial sandbox (grader.sandbox.check_sandbox_available) moves this container's
#    processes into the leaf cgroup grader-worker, enables memory and pids for the
#    runs' cgroups (grader/sandbox/cgroup.py), and runs /bin/true in bubblewrap, so a
#    missing option fails here, once, with what to change, instead of failing every
#    submission later.
set -eu

cgroup=/sys/fs/cgroup
if [ -f "$cgroup/cgroup.controllers" ] && [ ! -w "$cgroup/cgroup.subtree_control" ]; then
    if ! mount -o remount,rw "$cgroup" 2>/dev/null; then
        echo "grader worker: $cgroup is read-only and cannot be made writable." >&2
        echo "Run this container with cgroup: private, cap_add: [SYS_ADMIN] and security_opt: apparmor=unconfined (see docker/README.md)." >&2
        exit 1
    fi
fi

mkdir -p "${GRADER_RUN_DIR:-/run/grader}" "${GRADER_CACHE_DIR:-/var/cache/grader}"

if [ "${GRADER_SKIP_SANDBOX_CHECK:-0}" != 1 ]; then
    python - <<'PY'
import sys

from grader.config import load_settings
from grader.core.errors import SandboxError
from grader.sandbox import check_sandbox_available

settings = load_settings()
try:
    check_sandbox_available(settings.bwrap, settings.cgroup_parent, host_uid=settings.sandbox_uid)
except SandboxError as exc:
    sys.exit(f"grader worker: the sandbox cannot run in this container: {exc.staff_detail}\nSee docker/README.md.")
print("grader worker: sandbox check passed", file=sys.stderr)
PY
fi

exec "$@"
