"""Benchmark: `grader grade` of every assignment's references, split into where the time goes.

For each assignment and each reference (Keras, PyTorch) it runs `grader grade
--json` as a user would, and splits the command's wall time into:

- sandbox: the sandboxed run, start to end (wall), of which, timed by the run itself:
  - import: loading the submission, which is mostly importing its framework;
  - train: the harness's training phase;
  - answer: predictions, samples (generation), sample text, or the actions of
    grader's evaluation episodes (rl: grader's environment steps during this phase);
- trusted: the trusted side's checks, metrics and judging after the run (the judge
  network's forward passes, the language model's baselines, the rl random baseline
  and replay);
- other: Python and grader start-up, data preparation, the sandbox's set-up.

References are graded with their results cached beforehand (`grader references build`),
so relative thresholds cost nothing here. For kinds scored by a judge network, the
judge's one-off training time (outside any sandbox, then cached) is measured first,
on an empty cache.

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
COLUMNS = ("sandbox", "import", "train", "answer", "trusted", "other", "total")
ANSWER_PHASES = ("predict", "sample", "generate", "act")


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
        "sandbox": resources.get("wall_s", 0.0),
        "import": timings.get("import", 0.0),
        "train": timings.get("train", 0.0),
        "answer": sum(timings.get(phase, 0.0) for phase in ANSWER_PHASES),
        "trusted": resources.get("scoring_s", 0.0),
    }
    phases["other"] = total - phases["sandbox"] - phases["trusted"]
    phases["total"] = total
    return {**phases, "score": f"{result.get('score')}/{result.get('max_score')}", "status": result.get("status")}


def judge_training(slugs: list[str], settings) -> None:
    """Time the one-off training of each judge network the assignments need, on an empty cache."""
    from grader.datasets import prepare_dataset
    from grader.judges import load_judge

    for slug in slugs:
        spec = load_assignment(slug, settings).spec
        if not spec.kind.needs_judge:
            continue
        with tempfile.TemporaryDirectory(prefix="grader-bench-judge-") as cache:
            dataset = prepare_dataset(spec.dataset, Path(cache))
            started = time.perf_counter()
            load_judge(dataset, Path(cache), spec.training.seed)
            trained = time.perf_counter() - started
            started = time.perf_counter()
            load_judge(dataset, Path(cache), spec.training.seed)
            cached = time.perf_counter() - started
        print(f"judge of {slug}: trained in {trained:.2f} s (once, outside any sandbox); from the cache {cached:.3f} s")


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
    judge_training(slugs, settings)
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
    print(f"\nmachine: {os.cpu_count()} CPUs; import, train and answer are timed inside the sandbox by the run itself")


if __name__ == "__main__":
    main()
