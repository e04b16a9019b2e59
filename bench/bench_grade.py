"""Benchmark: `grader grade` of each reference against the same code run bare.

Both sides pay Python's start-up and the framework import; the sandbox, the
checks and the scoring are what `grader grade` adds. Runs alternate (bare,
sandboxed, bare, ...) so machine noise hits both alike; medians are compared.

    .venv/bin/python bench/bench_grade.py [--repeat 3]

Target (issue 2): ratio at most 1.3 for each reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.assignments import load_assignment  # noqa: E402
from grader.config import load_settings  # noqa: E402
from grader.datasets import prepare_dataset  # noqa: E402
from grader.services.evaluation import sandbox_env  # noqa: E402

BARE = """
import importlib.util, sys
import numpy as np
data, path = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("submission", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
x, y, xt = (np.load(f"{data}/{n}.npy") for n in ("x_train", "y_train", "x_test"))
model = module.train(module.build_model(64, 10), x, y)
module.predict(model, xt)
"""

# The environment a sandboxed run gets (seeds, quiet frameworks, thread counts and OpenMP's wait
# policy for the machine's cores): the bare run differs from a graded one only by the grading.
SANDBOX_ENV = sandbox_env(seed=1234, threads=os.cpu_count() or 1)


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="grader-bench-")
    env = {**os.environ, "GRADER_CACHE_DIR": cache}
    settings = load_settings(env)
    assignment = load_assignment("digits-mlp", settings)
    data = prepare_dataset(assignment.spec.dataset, settings.cache_dir).public_dir
    grader = [sys.executable, "-m", "grader.cli"]
    print("warming up: building the reference results once (cached afterwards)")
    subprocess.run(
        [*grader, "references", "build", "digits-mlp"], env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT
    )
    print(f"{'reference':<20}{'bare (s)':>10}{'grader grade (s)':>18}{'ratio':>8}")
    for framework in ("keras", "torch"):
        path = assignment.reference_path(framework)
        bare_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **SANDBOX_ENV}
        bare, graded = [], []
        for _ in range(args.repeat):
            bare.append(timed([sys.executable, "-s", "-c", BARE, str(data), str(path)], bare_env))
            graded.append(timed([*grader, "grade", str(path), "--assignment", "digits-mlp", "--json"], env))
        b, g = statistics.median(bare), statistics.median(graded)
        print(f"{path.name:<20}{b:>10.2f}{g:>18.2f}{g / b:>8.2f}")


if __name__ == "__main__":
    main()
