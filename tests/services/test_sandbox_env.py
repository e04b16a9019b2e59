"""What a run's environment holds: seeds, and thread counts fitted to its CPU share."""

from __future__ import annotations

from grader.services.evaluation import sandbox_env


def test_framework_threads_follow_the_runs_cpu_share_and_never_spin():
    env = sandbox_env(seed=7, threads=4)
    assert {env[name] for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")} == {"4"}
    assert env["TF_NUM_INTRAOP_THREADS"] == "4" and env["OMP_WAIT_POLICY"] == "PASSIVE"
    assert env["PYTHONHASHSEED"] == "7"
    assert sandbox_env(seed=7, threads=0)["OMP_NUM_THREADS"] == "1"


def test_nothing_of_the_workers_environment_leaks_in(monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_KEY", "s3cr3t")
    assert all("s3cr3t" not in value for value in sandbox_env(seed=1, threads=2).values())
