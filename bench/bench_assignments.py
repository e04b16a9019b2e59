"""Benchmark: `grader grade` of every assignment's references, split into where the time goes.

For each assignment and each reference (Keras, PyTorch) it runs `grader grade
--json` as a user would, and splits the command's wall time into:

- import: loading the submission, which is mostly importing its framework (inside the sandbox);
- train, predict: the harness's phases (inside the sandbox; timed by the run itself);
- scoring: the trusted side's checks and metrics (outside, after the run);
- other: Python and grader start-up, the sandbox's set-up and tear-down, data preparation.

References are graded with their results cached beforehand (`grader references build`), so
relative thresholds cost nothing here.

    .venv/bin/python bench/bench_assignments.py [SLUG ...] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.assignments import REFERENCE_FRAMEWORKS, list_slugs, load_assignment  # noqa: E402
from grader.config import load_settings  # noqa: E402

GRADER = str(ROOT / ".venv" / "bin" / "grader")
COLUMNS = ("import", "train", "predict", "scoring", "other", "total")


def grade(path: Path, slug: str, env: dict[str, str]) -> dict[str, float | str]:
    """One `grader grade --json` run: the phases' seconds, and the score."""
    started = time.perf_counter()
    done = subprocess.run(
        [GRADER, "grade", str(path), "--assignment", slug, "--json"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    total = time.perf_counter() - started
    result = json.loads(done.stdout)
    timings = result.get("environment", {}).get("timings", {})
    resources = result.get("resources", {})
    phases = {
        "import": timings.get("import", 0.0),
        "train": timings.get("train", 0.0),
        "predict": timings.get("predict", 0.0),
        "scoring": resources.get("scoring_s", 0.0),
    }
    phases["other"] = total - sum(phases.values())
    phases["total"] = total
    return {**phases, "score": f"{result.get('score')}/{result.get('max_score')}", "status": result.get("status")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", help="assignments (default: every one)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per reference; medians are shown")
    args = parser.parse_args()
    env = {
        **os.environ,
        "GRADER_CACHE_DIR": os.environ.get("GRADER_CACHE_DIR", tempfile.mkdtemp(prefix="grader-bench-")),
    }
    settings = load_settings(env)
    slugs = args.slugs or list_slugs(settings)
    print(f"building references of {', '.join(slugs)} (cached in {env['GRADER_CACHE_DIR']})", flush=True)
    subprocess.run(
        [GRADER, "references", "build", *([slugs[0]] if len(slugs) == 1 else [])], env=env, check=True, cwd=ROOT
    )
    header = f"{'assignment':<20} {'reference':<10} " + " ".join(f"{c + ' s':>9}" for c in COLUMNS) + "  score"
    print(header)
    print("-" * len(header))
    for slug in slugs:
        assignment = load_assignment(slug, settings)
        for framework in REFERENCE_FRAMEWORKS:
            runs = [grade(assignment.reference_path(framework), slug, env) for _ in range(args.repeat)]
            medians = {column: statistics.median(run[column] for run in runs) for column in COLUMNS}
            cells = " ".join(f"{medians[column]:>9.2f}" for column in COLUMNS)
            print(f"{slug:<20} {framework:<10} {cells}  {runs[-1]['score']} ({runs[-1]['status']})", flush=True)
    print(f"\nmachine: {os.cpu_count()} CPUs; import, train and predict are timed inside the sandbox by the run itself")


if __name__ == "__main__":
    main()
