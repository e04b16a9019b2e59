"""Benchmark: rescoring 1,000 stored results after a rubric change, against loading those 1,000 results.

A fresh database (SQLite file; PostgreSQL too when it answers at 127.0.0.1:5432)
holds 1,000 scored submissions of digits-mlp from 250 students, each with a
stored evaluation shaped like a real run's (metrics with the per-class
accuracy and confusion matrix, a 3 KB log, resources, environment). Each
round saves a changed rubric through the service the instructor page uses
(`grader.services.rubrics.save_rubric`: parse, load every evaluation, grade
each again, write result, score and max_score back, commit), and separately
loads the same 1,000 submission rows from the database. Rounds alternate
between two rubrics so every save really changes every score. Medians are
compared.

    .venv/bin/python bench/bench_rescore.py [--rounds 7] [--count 1000] [--sqlite-only]

Target (issue 4): rescoring 1,000 stored results in under 2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from grader.core.grading import Evaluation, grade  # noqa: E402
from grader.core.kinds.classification import CLASSIFICATION  # noqa: E402
from grader.core.outcomes import Outcome  # noqa: E402
from grader.db import make_engine, make_sessions, transaction  # noqa: E402
from grader.migrate import upgrade  # noqa: E402
from grader.models import Assignment, Role, State, Submission, User  # noqa: E402
from grader.services.rubrics import parse_rubric_text, save_rubric  # noqa: E402

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RUBRIC = (ROOT / "rubrics" / "digits-mlp.yaml").read_text()
RUBRICS = (RUBRIC.replace("at_most: 50000", "at_most: 30000"), RUBRIC.replace("zero_at: 0.5", "zero_at: 0.6"))
REFERENCES = {
    "keras": {"accuracy": 0.972, "macro_f1": 0.971, "parameters": 12810},
    "torch": {"accuracy": 0.969, "macro_f1": 0.968, "parameters": 12810},
}


def evaluation(rng: random.Random) -> Evaluation:
    """A run's evaluation as a worker stores it."""
    accuracy = rng.uniform(0.55, 0.99)
    confusion = [[rng.randrange(0, 40) for _ in range(10)] for _ in range(10)]
    metrics = {
        "accuracy": accuracy,
        "macro_f1": accuracy - rng.uniform(0, 0.02),
        "per_class_accuracy": [rng.uniform(0.5, 1.0) for _ in range(10)],
        "confusion_matrix": confusion,
        "parameters": rng.randrange(5_000, 60_000),
    }
    log = "".join(f"epoch {e}/30 - loss {rng.uniform(0, 2):.4f} - acc {rng.uniform(0.5, 1):.4f}\n" for e in range(60))
    resources = {"wall_s": rng.uniform(3, 20), "cpu_s": rng.uniform(3, 40), "peak_memory_bytes": 300 * 1024**2}
    environment = {"framework": "keras", "versions": {"python": "3.11", "keras": "3.6"}, "seed": 1234}
    return Evaluation(Outcome.OK, metrics, "Your model trained and was scored.", "ok", log, resources, environment)


def fill(url: str, count: int) -> int:
    """Insert the course: an instructor, students, and `count` scored submissions; return the assignment id."""
    rng = random.Random(4)
    rubric = parse_rubric_text(RUBRIC, "digits-mlp", "rubric", CLASSIFICATION.metrics)
    engine = make_engine(url)
    with transaction(make_sessions(engine)) as session:
        assignment = Assignment(slug="digits-mlp", title="Digits", references=REFERENCES)
        users = [User(email="prof@example.org", role=Role.INSTRUCTOR, password_hash="x")]
        users += [User(email=f"s{i}@example.org", password_hash="x") for i in range(max(1, count // 4))]
        session.add(assignment)
        session.add_all(users)
        session.flush()
        rows = []
        for i in range(count):
            ev = evaluation(rng)
            result = grade(ev, rubric, REFERENCES)
            rows.append(
                {
                    "user_id": users[1 + i % (len(users) - 1)].id,
                    "assignment_id": assignment.id,
                    "filename": "model.py",
                    "blob_sha256": f"{i:064x}",
                    "size_bytes": 2000,
                    "state": State.SCORED,
                    "outcome": "ok",
                    "evaluation": ev.to_json(),
                    "result": result.to_json(),
                    "score": result.score,
                    "max_score": result.max_score,
                }
            )
        session.execute(insert(Submission), rows)
        assignment_id = assignment.id
    engine.dispose()
    return assignment_id


def measure(url: str, count: int, rounds: int) -> tuple[list[float], list[float]]:
    """Time `rounds` rescoring saves and `rounds` loads of the same rows, alternating."""
    assignment_id = fill(url, count)
    engine = make_engine(url)
    sessions = make_sessions(engine)
    rescores, loads = [], []
    for index in range(rounds + 1):  # the first round warms caches and is not counted
        started = time.perf_counter()
        saved = save_rubric(sessions, assignment_id, RUBRICS[index % 2], 1)
        rescore = time.perf_counter() - started
        assert saved.rescored == count and not saved.problems, saved
        started = time.perf_counter()
        with sessions() as session:
            loaded = list(session.scalars(select(Submission).where(Submission.assignment_id == assignment_id)))
        load = time.perf_counter() - started
        assert len(loaded) == count
        if index:
            rescores.append(rescore)
            loads.append(load)
    engine.dispose()
    return rescores, loads


@contextlib.contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database at the latest schema, dropped afterwards; None if PostgreSQL is not there."""
    name = f"grader_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        admin.dispose()
        yield None
        return
    try:
        url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def report(kind: str, count: int, rescores: list[float], loads: list[float]) -> None:
    rescore, load = statistics.median(rescores), statistics.median(loads)
    verdict = "meets" if rescore < 2.0 else "MISSES"
    print(
        f"{kind:10s} rescore {count} results: median {rescore:.3f} s "
        f"(min {min(rescores):.3f}, max {max(rescores):.3f}); "
        f"load {count} rows: median {load:.3f} s; ratio {rescore / load:.1f}x; {verdict} the 2 s target"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as folder:
        url = f"sqlite:///{folder}/grader.db"
        upgrade(url)
        report("SQLite", args.count, *measure(url, args.count, args.rounds))
    if args.sqlite_only:
        return
    with postgres_database() as url:
        if url is None:
            print("PostgreSQL  not reachable at 127.0.0.1:5432: skipped")
            return
        report("PostgreSQL", args.count, *measure(url, args.count, args.rounds))


if __name__ == "__main__":
    main()
