"""A reference is built once however many processes need it, and a grading that must wait for one says so.

The sandbox is the only double (an evaluator that "trains" a reference by
sleeping); the file lock, the cache, the grading service and the worker's
run are the real ones. digits-mlp's rubric compares with both references.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
import time

import pytest

from grader.assignments import load_assignment
from grader.config import load_settings
from grader.core.grading import Evaluation
from grader.core.outcomes import Outcome
from grader.db import transaction
from grader.models import Assignment, Role, State, Submission, User, utcnow
from grader.services.grading import GradingService
from grader.services.references import ReferenceResults
from grader.services.worker_runs import run_submission
from grader.storage import BlobStore

MEASURED = {"accuracy": 0.97, "macro_f1": 0.96, "parameters": 9000}


class SlowEvaluator:
    """Runs take `seconds`; each run is noted (in a file too, so runs in other processes count)."""

    def __init__(self, seconds: float = 0.0, runs_file=None):
        self.seconds, self.runs_file, self.runs = seconds, runs_file, []

    def evaluate(self, name, data, assignment):
        self.runs.append(name)
        if self.runs_file is not None:
            with open(self.runs_file, "a") as runs:
                runs.write(name + "\n")
        time.sleep(self.seconds)
        return Evaluation(Outcome.OK, dict(MEASURED), "ok", "ok", "trained", {}, {})

    def live_progress(self):
        return {"phase": "train", "epoch": 1, "epochs": 30}  # what a run in progress reports of itself


@pytest.fixture
def settings(tmp_path):
    return load_settings({"GRADER_DATA_DIR": str(tmp_path / "data"), "GRADER_CACHE_DIR": str(tmp_path / "cache")})


@pytest.fixture
def digits(settings):
    return load_assignment("digits-mlp", settings)


def test_two_threads_needing_one_reference_run_it_once(settings, digits):
    evaluator = SlowEvaluator(seconds=1.0)
    got = []

    def need_it():
        got.append(ReferenceResults(evaluator, settings.cache_dir).metrics(digits, "keras"))

    threads = [threading.Thread(target=need_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert evaluator.runs == ["reference_keras.py"]  # the second waited for the first, then read its result
    assert got == [MEASURED, MEASURED]


def _build_keras(cache_dir, runs_file, assignment) -> None:
    ReferenceResults(SlowEvaluator(1.0, runs_file), cache_dir).metrics(assignment, "keras")


def test_two_processes_needing_one_reference_run_it_once(settings, digits, tmp_path):
    runs_file = tmp_path / "runs.txt"
    fork = multiprocessing.get_context("fork")
    workers = [fork.Process(target=_build_keras, args=(settings.cache_dir, runs_file, digits)) for _ in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
    assert [process.exitcode for process in workers] == [0, 0]
    assert runs_file.read_text().splitlines() == ["reference_keras.py"]
    assert ReferenceResults(None, settings.cache_dir).cached(digits) == {"keras": MEASURED}


def test_a_rebuild_asked_while_another_rebuilds_reads_the_fresh_result(settings, digits):
    evaluator = SlowEvaluator(seconds=1.0)
    references = ReferenceResults(evaluator, settings.cache_dir)
    references.metrics(digits, "keras")
    threads = [threading.Thread(target=references.metrics, args=(digits, "keras", True)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert evaluator.runs == ["reference_keras.py"] * 2  # the first build and one rebuild, not two


def test_a_grading_says_it_waits_only_when_a_reference_is_missing(settings, digits):
    references = ReferenceResults(SlowEvaluator(), settings.cache_dir)
    told = []
    references.on_wait = lambda: told.append(references.waiting)
    assert references.for_rubric(digits) == {"keras": MEASURED, "torch": MEASURED}
    assert told == [True] and references.waiting is False
    references.for_rubric(digits)
    assert told == [True]  # cached: nothing to wait for


@pytest.fixture
def submission(sessions, tmp_path):
    store = BlobStore(tmp_path / "blobs")
    sha = store.put(b"def build_model(i, n):\n    pass\n")
    with transaction(sessions) as session:
        user = User(email="ada@example.org", role=Role.STUDENT, password_hash="x")
        assignment = Assignment(slug="digits-mlp", title="Digits")
        session.add_all([user, assignment])
        session.flush()
        row = Submission(
            user_id=user.id, assignment_id=assignment.id, filename="m.py", blob_sha256=sha, size_bytes=9,
            dispatched_at=utcnow(),
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id, store


def test_a_grading_that_must_build_references_shows_the_phase_references(sessions, submission, settings):
    sid, store = submission
    seen = []

    class WatchingEvaluator(SlowEvaluator):
        """Notes what the student's status says while each reference runs."""

        def evaluate(self, name, data, assignment):
            if name.startswith("reference_"):
                with sessions() as session:
                    seen.append(session.get(Submission, sid).progress)
            return super().evaluate(name, data, assignment)

    service = GradingService(settings, runner=None)
    service.evaluator = service.references.evaluator = WatchingEvaluator()  # the sandbox's stand-in
    slow_beats = dataclasses.replace(settings, heartbeat_seconds=60)  # only the announcement can have written it
    state = run_submission(sid, sessions=sessions, store=store, grader=service, settings=slow_beats)
    assert state is State.SCORED
    assert seen == [{"phase": "references"}, {"phase": "references"}]
    assert service.references.on_wait is None  # not left pointing at a finished grading's heartbeat
