"""A warm sandbox's harness: import the pool's framework ahead, then wait for the one job.

Run as `warm.py POOL JOB_FILE` (see grader.sandbox.warm and the warm protocol in
protocol.py). Nothing of the job exists yet while this waits: the job's files
appear in its mounts just before WARM_GO, and its limits start then.
"""

from __future__ import annotations

import gc
import importlib
import os
import socket

from . import main as harness_main
from .protocol import WARM_FD_ENV, WARM_GO, WARM_POOLS, WARM_READY


def main(argv: list[str]) -> int:
    """Warm up for pool argv[0]; on WARM_GO run the job file argv[1]; exit 0 if retired unused."""
    pool, job_file = argv
    for name in WARM_POOLS[pool]:
        importlib.import_module(name)
    _open_gpu_context(pool)
    gc.collect()  # the import's garbage goes now, in the warm-up; what stays is frozen by the job (main.Run)
    control = socket.socket(fileno=int(os.environ.pop(WARM_FD_ENV)))
    control.sendall(WARM_READY)
    go = control.recv(1)
    control.close()  # the job's code never sees the control channel
    if go != WARM_GO:
        return 0
    return harness_main.main([job_file])


def _open_gpu_context(pool: str) -> None:
    """On a GPU slot, create the framework's CUDA context now rather than in the job's time."""
    if not os.environ.get("CUDA_VISIBLE_DEVICES"):
        return
    if pool in ("torch", "lightning"):
        import torch

        if torch.cuda.is_available():
            torch.zeros(1, device="cuda")
    elif pool == "keras":
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
