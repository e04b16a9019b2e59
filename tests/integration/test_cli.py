"""`grader grade` and `grader references build` as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from grader.config import PROJECT_ROOT
from tests.integration.conftest import SUBMISSIONS

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def grader(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def real_environ(tmp_path_factory, cache_dir) -> dict[str, str]:
    """The project's own assignments, with the session's reference cache and a database of their own."""
    data = tmp_path_factory.mktemp("data")
    return {
        "GRADER_CACHE_DIR": str(cache_dir),
        "GRADER_DATA_DIR": str(data),
        "GRADER_DATABASE_URL": f"sqlite:///{data / 'grader.db'}",
    }


@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_reference_solution_scores_full_marks(real_environ, framework):
    done = grader(
        "grade",
        f"assignments/digits-mlp/reference_{framework}.py",
        "--assignment",
        "digits-mlp",
        "--json",
        env=real_environ,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["outcome"]) == ("scored", "ok"), result["student_message"]
    assert result["score"] == result["max_score"] == 100, result["criteria"]
    assert result["metrics"]["accuracy"] > 0.95
    assert {c["id"] for c in result["criteria"]} >= {"accuracy", "matches-keras", "matches-torch"}
    assert all(c["points"] == c["max_points"] and c["feedback"] for c in result["criteria"])
    assert set(result["resources"]) == {"wall_s", "cpu_s", "peak_memory_bytes", "tasks_refused", "start", "scoring_s"}
    assert result["resources"]["start"] == "cold"  # `grader grade` starts a sandbox of its own
    assert result["resources"]["tasks_refused"] == 0
    assert result["resources"]["peak_memory_bytes"] > 0
    cached = list((PROJECT_ROOT / real_environ["GRADER_CACHE_DIR"] / "references" / "digits-mlp").glob("*.json"))
    assert {p.name.split("-")[0] for p in cached} == {"keras", "torch"}


def test_digits_rubric_gives_a_clearly_weaker_model_partial_credit(real_environ):
    done = grader("grade", str(SUBMISSIONS / "partial_credit.py"), "--assignment", "digits-mlp", env=real_environ)
    assert done.returncode == 0, done.stderr
    assert "status: scored (ok)" in done.stdout
    score = float(done.stdout.split("score: ")[1].split(" / ")[0])
    assert 20 < score < 80
    assert "misses the requirement of at least" in done.stdout and "of the Keras reference" in done.stdout


def test_references_build_prints_both_and_reuses_the_cache(real_environ):
    done = grader("references", "build", "digits-mlp", env=real_environ)
    assert done.returncode == 0, done.stderr
    assert "digits-mlp keras: accuracy" in done.stdout and "digits-mlp torch: accuracy" in done.stdout
    assert "digits-mlp: cached, but not stored in the database" in done.stderr  # no tables yet


def test_references_build_stores_the_metrics_for_rescoring_on_the_site(real_environ):
    import json
    import sqlite3

    for command in (("db", "upgrade"), ("assignments", "sync")):
        assert grader(*command, env=real_environ).returncode == 0
    done = grader("references", "build", "digits-mlp", env=real_environ)
    assert done.returncode == 0, done.stderr
    assert "digits-mlp: stored in the database, for rescoring on the site" in done.stdout
    database = real_environ["GRADER_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        [(stored,)] = connection.execute("SELECT \"references\" FROM assignments WHERE slug = 'digits-mlp'").fetchall()
    assert set(json.loads(stored)) == {"keras", "torch"} and json.loads(stored)["torch"]["accuracy"] > 0.9


def test_human_report_of_a_failed_submission(tmp_path):
    env = {
        "GRADER_CACHE_DIR": str(tmp_path),
        "GRADER_ASSIGNMENTS_DIR": str(PROJECT_ROOT / "tests/fixtures/assignments"),
        "GRADER_RUBRICS_DIR": str(PROJECT_ROOT / "tests/fixtures/rubrics"),
    }
    done = grader("grade", str(SUBMISSIONS / "syntax_error.py"), "--assignment", "tight-digits", env=env)
    assert done.returncode == 0, done.stderr
    assert "status: failed (bad_submission)" in done.stdout
    assert "syntax error (line 4)" in done.stdout
    assert "Test accuracy" in done.stdout


def test_missing_bubblewrap_refuses_to_grade(tmp_path):
    env = {"GRADER_CACHE_DIR": str(tmp_path), "GRADER_BWRAP": "/nonexistent/bwrap"}
    done = grader("grade", "assignments/digits-mlp/reference_torch.py", "--assignment", "digits-mlp", "--json", env=env)
    assert done.returncode == 2
    assert "bubblewrap" in done.stderr
    assert json.loads(done.stdout)["status"] == "error"


def test_unknown_assignment_names_the_known_ones(tmp_path):
    done = grader(
        "grade",
        "assignments/digits-mlp/reference_torch.py",
        "--assignment",
        "nope",
        env={"GRADER_CACHE_DIR": str(tmp_path)},
    )
    assert done.returncode == 2
    assert re.search(r"no assignment 'nope'; known: (\S+, )*digits-mlp, ", done.stderr), done.stderr


def test_unsafe_no_sandbox_grades_trusted_code_with_a_loud_warning(tmp_path):
    env = {
        "GRADER_CACHE_DIR": str(tmp_path),
        "GRADER_ASSIGNMENTS_DIR": str(PROJECT_ROOT / "tests/fixtures/assignments"),
        "GRADER_RUBRICS_DIR": str(PROJECT_ROOT / "tests/fixtures/rubrics"),
    }
    args = ("grade", str(SUBMISSIONS / "partial_credit.py"), "--assignment", "quick-digits", "--json")
    done = grader(*args, "--unsafe-no-sandbox", env=env)
    assert done.returncode == 0, done.stderr
    assert "WARNING" in done.stderr and "sandbox" in done.stderr.lower()
    result = json.loads(done.stdout)
    assert result["status"] == "scored" and 0 < result["score"] < 100
