"""The seccomp filter bubblewrap installs right before it execs the program.

Default allow, with a short deny list. The namespaces already take away most
of the kernel; the filter closes what namespaces do not cover:

- sockets of every family but AF_UNIX: no network at all, the sandbox's own
  loopback included (multiprocessing and DataLoader workers need AF_UNIX);
- io_uring: a large attack surface that bypasses per-syscall filtering;
- kernel keyrings, ptrace, bpf, perf events, userfaultfd: classic exploit aids;
- loading kernels and modules, mounting, and entering or making namespaces.

The filter is built for the native architecture only; libseccomp then kills a
syscall made through another ABI (int 0x80, x32), so those cannot bypass it.
"""

from __future__ import annotations

import errno
import functools
import os
import socket

import pyseccomp

# Denied with EPERM: a program that probes them sees "not permitted", not a crash.
DENIED_SYSCALLS: tuple[str, ...] = (
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "ptrace",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "mount",
    "umount2",
    "pivot_root",
    "unshare",
    "setns",
)


def build_filter() -> pyseccomp.SyscallFilter:
    """Build the sandbox's filter: allow everything but the deny list."""
    fltr = pyseccomp.SyscallFilter(defaction=pyseccomp.ALLOW)
    # EAFNOSUPPORT is what a kernel without that family answers: libraries fall back cleanly.
    fltr.add_rule(
        pyseccomp.ERRNO(errno.EAFNOSUPPORT),
        "socket",
        pyseccomp.Arg(0, pyseccomp.NE, socket.AF_UNIX),
    )
    for name in DENIED_SYSCALLS:
        fltr.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
    return fltr


@functools.lru_cache(maxsize=1)
def filter_bpf() -> bytes:
    """Return the compiled BPF program (built once per process)."""
    fd = os.memfd_create("grader-seccomp-export", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b") as out:
        build_filter().export_bpf(out)
        out.seek(0)
        return out.read()


def open_filter_fd() -> int:
    """Return a fresh fd, positioned at 0, holding the BPF for `bwrap --seccomp FD`."""
    fd = os.memfd_create("grader-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, filter_bpf())
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
