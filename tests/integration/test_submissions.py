"""Fixture submissions, named after their behaviour, graded end to end in the real sandbox."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import time
import zipfile

import pytest
import redis

from grader.config import PROJECT_ROOT
from grader.core.outcomes import Outcome, Status
from grader.sandbox import WarmRunner
from tests.integration.conftest import SECRET, SUBMISSIONS, leftover_processes, repository_state, warm_service

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

RUN_MARKERS = ("/job/job.json", "sleep 31337")
HOST_PATHS = ("/dev/shm", "/work", "/root", "/home", "grader-runs", str(PROJECT_ROOT))

# fixture file -> (assignment, status, outcome, words the student message must hold)
EXPECTED = {
    "below_threshold.py": ("quick-digits", Status.SCORED, Outcome.OK, ""),
    "partial_credit.py": ("quick-digits", Status.SCORED, Outcome.OK, ""),
    "lightning_module.py": ("quick-digits", Status.SCORED, Outcome.OK, ""),
    "notebook.ipynb": ("quick-digits", Status.SCORED, Outcome.OK, ""),
    "syntax_error.py": ("tight-digits", Status.FAILED, Outcome.BAD_SUBMISSION, "syntax error (line 4)"),
    "missing_build_model.py": ("tight-digits", Status.FAILED, Outcome.BAD_SUBMISSION, "does not define build_model"),
    "wrong_prediction_shape.py": ("tight-digits", Status.FAILED, Outcome.BAD_OUTPUT, "449"),
    "nan_scores.py": ("tight-digits", Status.FAILED, Outcome.BAD_OUTPUT, "NaN"),
    "pickle_predictions.py": ("tight-digits", Status.FAILED, Outcome.BAD_OUTPUT, "Python objects"),
    "symlink_predictions.py": ("tight-digits", Status.FAILED, Outcome.BAD_OUTPUT, "No predictions were written"),
    "spins_forever.py": ("tight-digits", Status.FAILED, Outcome.TIMEOUT, "CPU time"),
    "sleeps_forever.py": ("tight-digits", Status.FAILED, Outcome.TIMEOUT, "10 s limit"),
    "stops_itself.py": ("tight-digits", Status.FAILED, Outcome.TIMEOUT, "10 s limit"),
    "ignores_sigterm.py": ("tight-digits", Status.FAILED, Outcome.TIMEOUT, "10 s limit"),
    "unbounded_memory.py": ("tight-digits", Status.FAILED, Outcome.MEMORY_LIMIT, "512 MiB"),
    "fork_bomb.py": ("tight-digits", Status.FAILED, Outcome.TIMEOUT, "reached the limit of 64 processes and threads"),
    "thousands_of_threads.py": ("tight-digits", Status.FAILED, Outcome.BAD_SUBMISSION, "thread"),
    "disk_fill.py": ("tight-digits", Status.FAILED, Outcome.MEMORY_LIMIT, "memory"),
    "fake_results.py": ("tight-digits", Status.FAILED, Outcome.BAD_OUTPUT, "before it saved its results"),
    "output_flood.py": ("quick-digits", Status.SCORED, Outcome.OK, ""),
    "tries_network.py": ("quick-digits", Status.SCORED, Outcome.OK, ""),
    "reads_test_labels.py": ("quick-digits", Status.SCORED, Outcome.OK, ""),
    "reads_env_secrets.py": ("quick-digits", Status.SCORED, Outcome.OK, ""),
    "kills_parent.py": ("quick-digits", Status.SCORED, Outcome.OK, ""),
    "leaves_daemon.py": ("quick-digits", Status.SCORED, Outcome.OK, ""),
    "forges_parameter_count.py": ("quick-digits", Status.SCORED, Outcome.OK, ""),
}


@pytest.fixture(scope="module", params=["cold", "warm"])
def graded(request, service, grader_environ, fixture_assignments, monkeypatch_module_secret):
    """Grade every fixture once, in a sandbox started for it (cold) or handed over by a warm pool (warm);
    remember the host's state around each run."""
    with contextlib.ExitStack() as stack:
        if request.param == "warm":
            service = stack.enter_context(warm_service(grader_environ))
        return grade_all(service, fixture_assignments)


def grade_all(service, assignments) -> dict:
    runner = service.evaluator.runner
    results = {}
    for name, (slug, *_expected) in EXPECTED.items():
        if isinstance(runner, WarmRunner):
            assert runner.wait_ready(120), "the warm pool did not get ready"
        before = (repository_state(), shutil.disk_usage("/").free)
        result = service.grade_file(SUBMISSIONS / name, assignments[slug])
        after = (repository_state(), shutil.disk_usage("/").free)
        results[name] = (result, before, after, _leftovers(runner))
    return results


def _leftovers(runner) -> list[str]:
    """Run processes still alive after a grading, but not the warm sandboxes waiting for the next job.

    A warm sandbox that is starting has processes before its pool lists it (bwrap forks its
    child meanwhile): what is found is looked at again a second later, and only what is still
    there and still no waiting sandbox's counts.
    """
    if not isinstance(runner, WarmRunner):
        return leftover_processes(*RUN_MARKERS)
    found = _not_waiting(runner)
    if found:
        time.sleep(1)
        found = [line for line in _not_waiting(runner) if line in found]
    return found


def _not_waiting(runner: WarmRunner) -> list[str]:
    waiting = runner.idle_pids()
    return [line for line in leftover_processes(*RUN_MARKERS) if int(line.split(":")[0]) not in waiting]


@pytest.fixture(scope="module")
def monkeypatch_module_secret():
    """A secret in the grader's own environment, which no run may see."""
    os.environ["GRADER_TEST_SECRET"] = SECRET
    yield
    os.environ.pop("GRADER_TEST_SECRET", None)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_gets_its_status_and_leaves_nothing_behind(graded, name):
    result, before, after, leftovers = graded[name]
    _slug, status, outcome, words = EXPECTED[name]
    ev = result.evaluation
    assert (result.status, result.outcome) == (status, outcome), (
        f"{ev.student_message}\n{ev.staff_detail}\n{ev.log[-3000:]}"
    )
    assert words in ev.student_message
    assert leftovers == []
    assert before[0] == after[0], "the repository changed"
    assert before[1] - after[1] < 64 * 1024**2, "the host disk filled"
    if status is Status.FAILED:
        assert result.score == 0
        assert not any(path in ev.student_message for path in HOST_PATHS), "a host path reached the student"


def test_the_warm_path_really_was_warm(request, graded):
    starts = {name: result.evaluation.resources.get("start") for name, (result, *_rest) in graded.items()}
    if request.node.callspec.params["graded"] == "cold":
        assert set(starts.values()) == {"cold"}
        return
    cold = sorted(name for name, start in starts.items() if start != "warm")
    # Cold only: the first job of a pool for an assignment (each fills its pool for the next), and what fits no pool
    assert cold == [
        "below_threshold.py",  # the first torch job (quick-digits)
        "lightning_module.py",  # the first lightning job
        "missing_build_model.py",  # torch, now for tight-digits: another profile (its limits, its data)
        "output_flood.py",  # torch, back to quick-digits
        "spins_forever.py",  # the first job that imports no framework
        "syntax_error.py",  # unreadable: no pool fits
    ], starts


def test_below_threshold_gets_nothing_and_its_small_size_earns_nothing_either(graded):
    result = graded["below_threshold.py"][0]
    assert result.evaluation.metrics["accuracy"] < 0.3
    assert result.score == 0  # the parameter budget is a check (reported by the run), never points
    assert [(c["id"], c["flagged"]) for c in result.checks] == [("parameter-budget", False)]


def test_weaker_model_gets_partial_credit(graded):
    result = graded["partial_credit.py"][0]
    assert 0 < result.score < 100, result.criteria


def test_lightning_module_is_trained_by_the_default_trainer(graded):
    result = graded["lightning_module.py"][0]
    assert result.evaluation.environment["framework"] == "lightning"
    assert result.evaluation.metrics["accuracy"] > 0.85


def test_notebook_drops_shell_lines_and_magics_with_a_note(graded):
    ev = graded["notebook.ipynb"][0].evaluation
    assert "cell 2, line 1: dropped '!pip install torch'" in ev.log
    assert "cell 3 is a %%bash cell and was left out" in ev.log
    assert "the notebook defined build_model" in ev.log
    assert ev.environment["submission_kind"] == "ipynb"


def test_zip_package_imports_its_own_modules(service, fixture_assignments, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((SUBMISSIONS / "zip_package").iterdir()):
            archive.write(path, path.name)
    result = service.grade_upload("package.zip", buffer.getvalue(), fixture_assignments["quick-digits"])
    assert result.status is Status.SCORED, result.evaluation.log[-2000:]
    assert result.evaluation.metrics["accuracy"] > 0.85
    assert leftover_processes(*RUN_MARKERS) == []


def test_pickle_payload_never_ran_on_the_host(graded):
    assert graded["pickle_predictions.py"][0].outcome is Outcome.BAD_OUTPUT
    assert not os.path.exists("/tmp/grader-pickle-ran")


def test_output_flood_is_capped_with_a_note(graded):
    ev = graded["output_flood.py"][0].evaluation
    assert len(ev.log.encode()) < 64 * 1024 + 2048
    assert "output truncated" in ev.log


def test_network_is_unreachable_and_redis_untouched(graded):
    ev = graded["tries_network.py"][0].evaluation
    assert "NETWORK-REACHED" not in ev.log
    assert ev.log.count("network blocked") == 4
    assert redis.Redis(host="127.0.0.1", port=6379).get("grader-sandbox-escape") is None


def test_test_labels_and_data_set_files_are_out_of_reach(graded):
    ev = graded["reads_test_labels.py"][0].evaluation
    assert "FOUND" not in ev.log and "LOADED" not in ev.log
    assert "load_digits failed" in ev.log
    assert "data folder holds: ['x_test.npy', 'x_train.npy', 'y_train.npy']" in ev.log


def test_environment_holds_no_secrets(graded):
    ev = graded["reads_env_secrets.py"][0].evaluation
    assert "ENV PATH=" in ev.log
    assert SECRET not in ev.log and "GRADER_" not in ev.log


def test_a_forged_parameter_count_is_shown_as_reported_and_earns_nothing(graded):
    """The run's own report claims 1 parameter for a 300,000-parameter model (rewritten by an atexit hook)."""
    result = graded["forges_parameter_count.py"][0]
    assert result.evaluation.metrics["parameters"] == 1  # the forged claim, kept as reported
    assert [c["id"] for c in result.criteria] == ["accuracy"]  # no points hang on it
    (accuracy,) = result.criteria
    assert result.score == accuracy["points"]
    (check,) = result.checks
    assert (check["id"], check["value"]) == ("parameter-budget", 1)
    assert "as reported by your run" in check["feedback"] and "staff check it" in check["feedback"]


def test_fake_results_score_nothing(graded):
    result = graded["fake_results.py"][0]
    assert result.score == 0 and result.evaluation.metrics == {}


@pytest.mark.parametrize("pool", ["torch", "keras", "lightning"])
def test_a_warm_run_trains_and_predicts_exactly_as_a_cold_one(service, grader_environ, fixture_assignments, pool):
    """The warm-up's imports and throwaway training step leave nothing that changes a job's results."""
    assignment = fixture_assignments["quick-digits"]
    path = SUBMISSIONS / "lightning_module.py" if pool == "lightning" else assignment.reference_path(pool)
    cold = service.grade_file(path, assignment)
    with warm_service(grader_environ) as warm:
        warm.grade_file(path, assignment)  # fills the pool
        assert warm.evaluator.runner.wait_ready(120)
        again = warm.grade_file(path, assignment)
    assert [run.evaluation.resources["start"] for run in (cold, again)] == ["cold", "warm"]
    assert again.evaluation.metrics == cold.evaluation.metrics and again.score == cold.score
    losses = [[epoch.get("loss") for epoch in run.evaluation.curve] for run in (cold, again)]
    assert losses[0] == losses[1] and len(losses[0]) > 1 and None not in losses[0]  # the same training, epoch by epoch
