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
    """Warm up for pool argv[0] (import, one throwaway training step); on WARM_GO run the job file argv[1]; exit 0 if retired unused."""
    pool, job_file = argv
    for name in WARM_POOLS[pool]:
        importlib.import_module(name)
    _exercise(pool)
    gc.collect()  # the import's garbage goes now, in the warm-up; what stays is frozen by the job (main.Run)
    control = socket.socket(fileno=int(os.environ.pop(WARM_FD_ENV)))
    control.sendall(WARM_READY)
    go = control.recv(1)
    control.close()  # the job's code never sees the control channel
    if go != WARM_GO:
        return 0
    return harness_main.main([job_file])


def _exercise(pool: str) -> None:
    """Train a throwaway model for one step, on the GPU when the slot has one.

    A framework's first training step loads and sets up much on first use (the
    CUDA context and cuBLAS; torch's optimizer imports more of torch, about
    0.6 s; Keras builds its training machinery): the job need not pay it again.
    Nothing of it reaches the job's results: torch's random state is restored,
    Keras's session cleared, and the job seeds every framework itself
    (frameworks.seed_everything).
    """
    if pool in ("torch", "lightning"):
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        with torch.random.fork_rng(devices=[0] if device == "cuda" else []):  # the job's code finds them untouched
            model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).to(device)
            optimizer = torch.optim.Adam(model.parameters())
            x, y = torch.zeros(8, 4, device=device), torch.zeros(8, dtype=torch.long, device=device)
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            with torch.no_grad():
                model.eval()(x).argmax(dim=1).cpu().numpy()
    elif pool == "keras":
        import keras
        import numpy as np

        model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(np.zeros((8, 4), "float32"), np.zeros(8, "int64"), epochs=1, verbose=0)
        model.predict(np.zeros((2, 4), "float32"), verbose=0)
        keras.backend.clear_session()
