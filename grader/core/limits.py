"""Resource limits of one sandboxed run."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one run, as an assignment sets them."""

    wall_seconds: float = 600.0
    cpu_seconds: float = 1200.0
    memory_bytes: int = 4 * 1024**3
    max_processes: int = 512  # tasks in the cgroup: processes and threads together
    output_bytes: int = 256 * 1024  # stdout + stderr kept; the rest is dropped with a note
    disk_bytes: int = 512 * 1024**2  # the writable tmpfs, and the largest file a run may write
