"""The seccomp filter compiles to BPF and denies what it says."""

from __future__ import annotations

import errno
import os

from grader.sandbox.seccomp import DENIED_SYSCALLS, build_filter, filter_bpf, open_filter_fd


def test_filter_compiles_to_bpf():
    bpf = filter_bpf()
    assert len(bpf) > 0 and len(bpf) % 8 == 0  # struct sock_filter is 8 bytes


def test_filter_fd_holds_the_program_from_offset_zero():
    fd = open_filter_fd()
    try:
        assert os.read(fd, 1 << 20) == filter_bpf()
    finally:
        os.close(fd)


def test_rules_cover_sockets_and_the_deny_list(tmp_path):
    with open(tmp_path / "filter.pfc", "w+") as out:
        build_filter().export_pfc(out)
        out.seek(0)
        pfc = out.read()
    for name in ("socket", *DENIED_SYSCALLS):
        assert f'# filter for syscall "{name}"' in pfc, name
    socket_rule = pfc.split('# filter for syscall "socket"')[1].split("# filter for")[0]
    assert "$a0.lo32 == 1" in socket_rule  # AF_UNIX is the one family let through
    assert f"ERRNO({errno.EAFNOSUPPORT})" in socket_rule
