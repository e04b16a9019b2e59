"""Benchmark: the warm pool (issue 12). Three figures, each measured side by side in one run.

    .venv/bin/python bench/bench_warm_pool.py [--repeat 3] [--uploads 50] [--skip-burst]

1. Warm grading against bare Python: for each reference of digits-mlp (Keras,
   PyTorch), a grading service on warm pools, as a worker slot holds it, grades
   the reference (`grade_file`, what `grader grade` does, with a ready warm
   sandbox of its pool), alternating with the same code run bare in a fresh
   Python process (start-up, import, train, predict; no sandbox, no checks).
   Target: median(warm) / median(bare) <= 0.5. A cold `grader grade` (a process
   of its own) is printed beside them.
2. Memory per warm sandbox: what each pool's ready sandbox holds (its cgroup's
   memory.current), framework imported, waiting.
3. A burst through the service: PostgreSQL, Redis, gunicorn and one `grader
   worker` (one slot) as bench_service.py starts them; --uploads students each
   upload the PyTorch reference of digits-mlp at once. Makespan (first upload
   to last result) against the sum of the runs' training and prediction time
   (as the runs report them) divided by the slots. Target: at most 2 with the
   pool on; the same burst with the pool off (GRADER_WARM_POOLS=off) for comparison.

Needs root for the sandbox, and for the burst PostgreSQL and Redis as the
tests do. Prints PASS/MISS per target and exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import select

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_service as stack  # noqa: E402
from bench_grade import BARE, SANDBOX_ENV, timed  # noqa: E402

from grader.assignments import load_assignment  # noqa: E402
from grader.config import load_settings  # noqa: E402
from grader.datasets import prepare_dataset  # noqa: E402
from grader.db import make_engine  # noqa: E402
from grader.models import Submission  # noqa: E402
from grader.sandbox import PoolSettings, WarmRunner, make_runner  # noqa: E402
from grader.services.grading import GradingService  # noqa: E402

ROOT = BENCH.parent
SLUG = "digits-mlp"
FIXTURE_SUBMISSIONS = ROOT / "tests" / "fixtures" / "submissions"
MiB = 1024**2


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def warm_service(settings) -> tuple[GradingService, WarmRunner]:
    runner = make_runner(
        bwrap_path=settings.bwrap, cgroup_parent=settings.cgroup_parent, host_uid=settings.sandbox_uid,
        warm=PoolSettings(settings.warm_pools), warm_home=settings.run_dir / "warm",
    )  # fmt: skip
    assert isinstance(runner, WarmRunner)
    return GradingService(settings, runner), runner


def warm_against_bare(env: dict[str, str], repeat: int) -> None:
    """Figure 1, then figure 2 from the same warm pools."""
    settings = load_settings(env)
    assignment = load_assignment(SLUG, settings)
    data = prepare_dataset(assignment.spec.dataset, settings.cache_dir).public_dir
    service, runner = warm_service(settings)
    bare_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **SANDBOX_ENV}
    cli = [sys.executable, "-m", "grader.cli", "grade", "--assignment", SLUG, "--json"]
    print(f"\n1. warm grading against bare Python ({SLUG}, {repeat} alternating rounds, medians)")
    print(f"{'reference':<20}{'bare (s)':>10}{'warm (s)':>10}{'ratio':>8}{'cold grade (s)':>16}"
          f"{'train+predict (s)':>19}{'floor':>7}  target <= 0.5")  # fmt: skip
    try:
        for framework in ("keras", "torch"):
            path = assignment.reference_path(framework)
            service.grade_file(path, assignment)  # fills the pool: this one ran cold
            bare, warm, cold, work = [], [], [], []
            for _ in range(repeat):
                bare.append(timed([sys.executable, "-s", "-c", BARE, str(data), str(path)], bare_env))
                runner.wait_ready(300)
                started = time.perf_counter()
                result = service.grade_file(path, assignment)
                warm.append(time.perf_counter() - started)
                timings = result.evaluation.environment.get("timings", {})
                work.append(timings.get("train", 0) + timings.get("predict", 0))
                if result.evaluation.resources.get("start") != "warm":
                    print(
                        f"   (round ran {result.evaluation.resources.get('start')}: {result.evaluation.staff_detail})"
                    )
                cold.append(timed([*cli, str(path)], env))
            b, w, t = statistics.median(bare), statistics.median(warm), statistics.median(work)
            ratio = w / b
            print(
                f"{path.name:<20}{b:>10.2f}{w:>10.2f}{ratio:>8.2f}{statistics.median(cold):>16.2f}"
                f"{t:>19.2f}{t / b:>7.2f}  {verdict(ratio <= 0.5)}"
            )
        print("   train+predict: the warm runs' own training and prediction (as they report them); floor: that")
        print("   over bare, the lowest ratio any start-up saving can reach.")
        memory_per_sandbox(service, runner, assignment)
    finally:
        runner.close()


def memory_per_sandbox(service: GradingService, runner: WarmRunner, assignment) -> None:
    """Figure 2: one job per pool fills it; then each ready sandbox's memory."""
    no_imports = Path(tempfile.mkdtemp(prefix="grader-bench-none-")) / "no_imports.py"
    no_imports.write_text("def build_model(input_dim, num_classes):\n    raise NotImplementedError\n")
    for sample in (FIXTURE_SUBMISSIONS / "lightning_module.py", no_imports):
        service.grade_file(sample, assignment)  # lightning; "none" (imports nothing: fails at once, fills the pool)
    shutil.rmtree(no_imports.parent)
    runner.wait_ready(300)
    print("\n2. memory per warm sandbox (ready, framework imported; cgroup memory.current)")
    for pool, sizes in runner.idle_memory().items():
        shown = ", ".join(f"{size / MiB:.0f} MiB" for size in sizes) or "(none ready)"
        print(f"   {pool:<10} {shown}")


def burst(env: dict[str, str], uploads: int, work: Path) -> None:
    """Figure 3: the same burst with the pool on and off, one worker of one slot."""
    print(f"\n3. a burst of {uploads} uploads of the PyTorch reference of {SLUG}, one worker (one slot)")
    path = load_assignment(SLUG, load_settings(env)).reference_path("torch")
    with stack.postgres_database() as database_url, stack.redis_database() as broker_url:
        env = {**stack.service_environ(database_url, broker_url, work, Path(env["GRADER_CACHE_DIR"]), SLUG)}
        grader = str(stack.BIN / "grader")
        subprocess.run([grader, "db", "upgrade"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        students = stack.seed(database_url, SLUG, 2 * (uploads + 1))
        processes = stack.Processes(env, work)
        port = stack.free_port()
        base = f"http://127.0.0.1:{port}"
        processes.start("gunicorn", [str(stack.BIN / "gunicorn"), "--worker-class", "gthread", "--workers", "2",
                                     "--threads", "4", "--bind", f"127.0.0.1:{port}", "grader.wsgi:app"])  # fmt: skip
        try:
            stack.wait_until_up(base, processes)
            print(f"{'pool':<6}{'makespan (s)':>14}{'train+predict (s)':>19}{'ratio':>8}{'warm runs':>11}  target <= 2")
            for pools, group in (("off", students[: uploads + 1]), ("on", students[uploads + 1 :])):
                figures = one_burst(processes, {**env, "GRADER_WARM_POOLS": "off" if pools == "off" else
                                               "torch:1,keras:1,lightning:1,none:1"}, base, database_url, group, path)  # fmt: skip
                makespan, work_s, warm_runs, done = figures
                ratio = makespan / work_s
                target = verdict(ratio <= 2) if pools == "on" else "(comparison)"
                print(f"{pools:<6}{makespan:>14.1f}{work_s:>19.1f}{ratio:>8.2f}{warm_runs:>7}/{done:<3}  {target}")
        finally:
            processes.stop_all()


def one_burst(processes, env, base, database_url, students, path) -> tuple[float, float, int, int]:
    """Start a worker with `env`, warm it with one upload, burst one upload per remaining student; stop it."""
    processes.env = env
    processes.start("worker", [str(stack.BIN / "grader"), "worker", "--loglevel=warning"])
    data = path.read_bytes()
    http = requests.Session()
    try:
        first = stack.upload(http, base, students[0], SLUG, path.name, data).json()["id"]  # the slot's warm-up
        stack.wait_all_final(database_url, [first], time.monotonic() + 600, processes)
        time.sleep(3)  # the pool, when on, gets ready
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda s: stack.upload(requests.Session(), base, s, SLUG, path.name, data),
                                    students[1:]))  # fmt: skip
        ids = [answer.json()["id"] for answer in answers if answer.status_code == 202]
        states = stack.wait_all_final(database_url, ids, time.monotonic() + 3600, processes)
        return measured(database_url, ids) + (sum(s == "scored" for s in states.values()),)
    finally:
        worker = processes.running.pop("worker")
        worker.terminate()
        worker.wait(60)


def measured(database_url: str, ids: list[int]) -> tuple[float, float, int]:
    """Makespan, the sum of the runs' train and predict times, and how many runs were warm."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Submission.created_at, Submission.finished_at, Submission.evaluation).where(
                    Submission.id.in_(ids)
                )
            ).all()
    finally:
        engine.dispose()
    makespan = (max(r.finished_at for r in rows) - min(r.created_at for r in rows)).total_seconds()
    timings = [(r.evaluation or {}).get("environment", {}).get("timings", {}) for r in rows]
    work_s = sum(t.get("train", 0) + t.get("predict", 0) for t in timings)
    warm = sum((r.evaluation or {}).get("resources", {}).get("start") == "warm" for r in rows)
    return makespan, work_s, warm


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--skip-burst", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="grader-bench-warm-"))
    env = {**os.environ, "GRADER_CACHE_DIR": str(work / "cache")}
    try:
        print(f"{os.cpu_count()} CPUs; warming up: the references of {SLUG} (cached afterwards)")
        subprocess.run([sys.executable, "-m", "grader.cli", "references", "build", SLUG], env=env, check=True,
                       stdout=subprocess.DEVNULL, cwd=ROOT)  # fmt: skip
        warm_against_bare(env, args.repeat)
        if not args.skip_burst:
            burst(env, args.uploads, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
