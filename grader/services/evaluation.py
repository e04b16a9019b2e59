"""Evaluate a submission: run it in the sandbox, check its predictions, measure.

This is the expensive step of grading (training happens here). Its result, an
Evaluation, is stored; scoring it against a rubric is a separate, cheap step.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from grader.assignments import Assignment
from grader.core.curves import clean_curve
from grader.core.errors import BadOutput, BadSubmission, InfrastructureError
from grader.core.grading import Evaluation
from grader.core.imports import pool_for
from grader.core.kinds import Aids, TaskKind
from grader.core.outcomes import Outcome
from grader.core.validate import Where
from grader.datasets import PreparedData, documents, hidden_package_data, prepare_dataset
from grader.files import make_readable
from grader.gpu import Gpu, GpuMonitor
from grader.harness import protocol
from grader.sandbox.spec import Mount, Runner, RunResult, RunSpec, Termination
from grader.services import outputs
from grader.services.episodes import EpisodeDriver, episode_seeds, load_secret, random_episodes, replay
from grader.services.submissions import PreparedSubmission, UploadLimits, prepare_submission

log = logging.getLogger("grader.evaluation")

HARNESS_DIR = Path(__file__).resolve().parent.parent / "harness"
MAX_OUTPUT_BYTES = 64 * 1024**2  # per output array
_SHORTER = "Train for fewer epochs or use a smaller model."


class Evaluator:
    """Runs submissions of assignments in a sandbox and measures them."""

    def __init__(
        self,
        runner: Runner,
        cache_dir: Path,
        run_dir: Path,
        upload_limits: UploadLimits = UploadLimits(),
        gpu: Gpu | None = None,
        threads: int | None = None,
    ):
        self.runner = runner
        self.threads = threads or os.cpu_count() or 1  # the run's CPU share: its framework thread count
        self.cache_dir = cache_dir
        self.run_dir = run_dir
        self.upload_limits = upload_limits
        self.gpu = gpu  # runs are pinned to this GPU; None: CPU only
        self.live_output: Path | None = None  # the output folder of the run in progress
        self.secret: bytes | None = None  # seeds the evaluation episodes of rl assignments (load_secret)

    def live_progress(self) -> dict[str, Any]:
        """What the run in progress says of itself (phase, epochs done); {} between runs."""
        folder = self.live_output
        return outputs.read_json(folder / protocol.PROGRESS_FILE, 4096) if folder is not None else {}

    def evaluate(self, name: str, data: bytes, assignment: Assignment) -> Evaluation:
        """Evaluate an uploaded file; infrastructure failures raise InfrastructureError."""
        _preload_metrics()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        workspace = Path(tempfile.mkdtemp(prefix="run-", dir=self.run_dir))
        try:
            (workspace / "submission").mkdir()
            try:
                prepared = prepare_submission(name, data, workspace / "submission", self.upload_limits)
            except BadSubmission as exc:
                return _failure(Outcome.BAD_SUBMISSION, exc.student_message, exc.staff_detail, "", {}, {"upload": name})
            return self._run(prepared, assignment, workspace)
        finally:
            shutil.rmtree(workspace, ignore_errors=True)

    def _run(self, prepared: PreparedSubmission, assignment: Assignment, workspace: Path) -> Evaluation:
        spec = assignment.spec
        source = f"assignments/{assignment.slug}/assignment.yaml"
        dataset, public, hidden = None, {}, {}
        if spec.dataset is not None:
            dataset = prepare_dataset(spec.dataset, self.cache_dir, source)
            public, hidden = dataset.arrays("public"), dataset.arrays("hidden")
            spec.kind.check_data(spec.task_spec, public, hidden, Where(source, "dataset"))
        output, job_dir = workspace / "output", workspace / "job"
        output.mkdir()
        job_dir.mkdir()
        run_spec = self._run_spec(prepared, assignment, dataset, public, output, job_dir)
        driver = self._driver(assignment) if spec.kind.live else None
        self.live_output = output
        try:
            result, gpu_usage = self._run_measured(run_spec, driver)
        finally:
            self.live_output = None
        report = outputs.read_json(output / protocol.REPORT_FILE)
        environment = _environment(assignment, dataset, prepared, report)
        if gpu_usage:
            environment["gpu"] = gpu_usage
        log_text = "".join(f"[grader] {n}\n" for n in prepared.notes) + result.log
        resources = {
            "wall_s": round(result.wall_s, 3),
            "cpu_s": round(result.cpu_s, 3),
            "peak_memory_bytes": result.peak_memory_bytes,
            "tasks_refused": result.tasks_refused,
            "start": "warm" if result.warm else "cold",  # warm: limits and times count from the handover
            **({"handover_s": result.handover_s} if result.handover_s is not None else {}),
        }
        curve = clean_curve(report.get("curve"))
        phase = str(outputs.read_json(output / protocol.PROGRESS_FILE).get("phase", report.get("phase", "start")))
        failure = _run_failure(result, report, phase, assignment, prepared)
        if failure is not None:
            outcome, student, staff = failure
            if result.tasks_refused:
                cap = spec.limits.max_processes
                student += f" It also reached the limit of {cap} processes and threads: new ones were refused."
                staff += f" tasks_refused={result.tasks_refused}"
            return _failure(outcome, student, staff, log_text, resources, environment, curve)
        scoring_started = time.perf_counter()
        try:
            produced = _load_outputs(spec.kind, spec.task_spec, output)
            aids = Aids(
                documents(dataset) if dataset else {},
                self._judge(spec.kind, dataset, spec.training.seed),
                self._played(assignment, driver),
            )
            metrics = spec.kind.score(spec.task_spec, produced, {**public, **hidden}, aids)
        except BadOutput as exc:
            return _failure(
                Outcome.BAD_OUTPUT, exc.student_message, exc.staff_detail, log_text, resources, environment, curve
            )
        resources["scoring_s"] = round(time.perf_counter() - scoring_started, 3)  # trusted checks and metrics
        for name in spec.kind.reported:  # the run's own claims: kept as reported (see the kind)
            value = report.get(name)
            metrics[name] = value if isinstance(value, int) and not isinstance(value, bool) else None
        return Evaluation(
            Outcome.OK,
            metrics,
            "Your code ran and its results were scored.",
            "ok",
            log_text,
            resources,
            environment,
            curve,
        )

    def _judge(self, kind: TaskKind, dataset: PreparedData, seed: int) -> Any:
        """Grader's own judge network for the data set, when the kind scores with one (trained once, cached)."""
        if not kind.needs_judge:
            return None
        from grader.judges import load_judge  # torch: imported only when a judge is needed

        return load_judge(dataset, self.cache_dir, seed)

    def _driver(self, assignment: Assignment) -> EpisodeDriver:
        """The trusted side of a live evaluation: grader's own episodes, with seeds the run cannot know."""
        spec = assignment.spec
        seeds = episode_seeds(self._secret(), assignment.slug, spec.task_spec.episodes)
        return EpisodeDriver(spec.task_spec, seeds, ready_seconds=spec.limits.wall_seconds)

    def _played(self, assignment: Assignment, driver: EpisodeDriver | None) -> dict[str, Any] | None:
        """What the driver recorded, the random baseline on the same episodes, and episode 1 replayed."""
        if driver is None:
            return None
        task = assignment.spec.task_spec
        baseline = random_episodes(task, driver.seeds)
        return {
            "episodes": [episode.record() for episode in driver.episodes],
            "random": [episode.record() for episode in baseline],
            "replay": replay(task, driver.episodes[0]) if driver.episodes else {},
        }

    def _secret(self) -> bytes:
        if self.secret is None:
            self.secret = load_secret(self.cache_dir)
        return self.secret

    def _run_measured(self, spec: RunSpec, driver: EpisodeDriver | None) -> tuple[RunResult, dict[str, Any] | None]:
        """Run the spec; on a GPU, also record the device, its peak memory and utilisation."""
        if self.gpu is None:
            return self.runner.run(spec, driver), None
        with GpuMonitor(self.gpu) as monitor:
            result = self.runner.run(spec, driver)
        return result, monitor.summary()

    def _run_spec(
        self,
        prepared: PreparedSubmission,
        assignment: Assignment,
        dataset: PreparedData | None,
        public: dict,
        output: Path,
        job_dir: Path,
    ) -> RunSpec:
        """Describe the sandboxed run: what it sees, what it may write, its limits."""
        spec = assignment.spec
        harness = Mount(HARNESS_DIR, "/opt/grader/harness")
        mounts = {
            "submission": Mount(prepared.folder, "/submission", per_job=True),
            **({"data": Mount(dataset.public_dir, "/data")} if dataset else {}),
            "job": Mount(job_dir, "/job", per_job=True),
            "output": Mount(output, "/output", writable=True, per_job=True),
        }
        see = {key: self.runner.visible_path(mount) for key, mount in mounts.items()}
        job = {
            protocol.JOB_TASK: spec.task,
            protocol.JOB_KIND: spec.kind.job(spec.task_spec, public),
            protocol.JOB_SUBMISSION_DIR: see["submission"],
            protocol.JOB_OUTPUT_DIR: see["output"],
            protocol.JOB_DATA: {name: f"{see['data']}/{name}.npy" for name in sorted(public)},
            protocol.JOB_FRAMEWORKS: list(spec.frameworks),
            protocol.JOB_TRAINING: {
                "epochs": spec.training.epochs,
                "batch_size": spec.training.batch_size,
                "learning_rate": spec.training.learning_rate,
                "seed": spec.training.seed,
            },
        }
        (job_dir / protocol.JOB_FILE).write_text(json.dumps(job))
        make_readable(job_dir)
        make_readable(prepared.folder)
        harness_parent = str(Path(self.runner.visible_path(harness)).parent)
        job_file = f"{see['job']}/{protocol.JOB_FILE}"
        pool = pool_for(prepared.folder)
        return RunSpec(
            argv=(sys.executable, "-s", "-c", _launcher(harness_parent, "main"), job_file),
            pool=pool,
            warm_argv=(sys.executable, "-s", "-c", _launcher(harness_parent, "warm"), pool, job_file) if pool else (),
            mounts=(harness, *mounts.values()),
            limits=spec.limits,
            env={
                **sandbox_env(spec.training.seed, self.threads),
                **(self.gpu.sandbox_env() if self.gpu else {}),
            },
            cwd="/tmp",
            hidden=hidden_package_data(),
            devices=self.gpu.device_nodes() if self.gpu else (),
        )


def _launcher(harness_parent: str, module: str) -> str:
    """The Python one-liner that runs the harness module `module` (main: a job; warm: a warm sandbox)."""
    return (
        f"import sys; sys.path.insert(0, {harness_parent!r}); "
        f"from harness.main import exit_fast; from harness.{module} import main; exit_fast(main(sys.argv[1:]))"
    )


def _load_outputs(kind: TaskKind, task: Any, folder: Path) -> dict[str, Any]:
    """The run's output arrays, loaded safely: every required one, and the optional ones it wrote."""
    produced = {
        name: outputs.load_array(folder / protocol.output_file(name), MAX_OUTPUT_BYTES) for name in kind.outputs(task)
    }
    for name in kind.optional_outputs(task):
        if (folder / protocol.output_file(name)).exists():
            produced[name] = outputs.load_array(folder / protocol.output_file(name), MAX_OUTPUT_BYTES)
    return produced


def _preload_metrics() -> None:
    """Import the metrics (torch, torcheval: about 2 s) while the sandbox runs, not after."""
    if "grader.core.metrics" not in sys.modules:
        threading.Thread(target=importlib.import_module, args=("grader.core.metrics",), daemon=True).start()


def sandbox_env(seed: int, threads: int) -> dict[str, str]:
    """The run's whole environment: seeds, quiet frameworks, and thread counts fitted to its CPU share."""
    threads_text = str(max(1, threads))
    return {
        "OMP_NUM_THREADS": threads_text,  # torch's intra-op pool, and OpenMP in general
        # Waiting OpenMP threads sleep instead of spinning: on a busy machine spinning threads made a
        # small GRU 20x slower (48 s against 2.3 s with one thread; 4.5 s passive).
        "OMP_WAIT_POLICY": "PASSIVE",
        "MKL_NUM_THREADS": threads_text,
        "OPENBLAS_NUM_THREADS": threads_text,
        "TF_NUM_INTRAOP_THREADS": threads_text,
        "TF_NUM_INTEROP_THREADS": "1" if threads <= 2 else "2",
        "PYTHONHASHSEED": str(seed),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        "MPLCONFIGDIR": "/tmp",
    }


def _environment(
    assignment: Assignment, dataset: PreparedData | None, prepared: PreparedSubmission, report: dict
) -> dict[str, Any]:
    """What the run ran with, for staff (values from the report are the run's own claims)."""
    keep = ("framework", "parameters", "versions", "seeds", "timings", "output_shapes")
    return {
        "assignment": assignment.slug,
        "submission_kind": prepared.kind,
        "data_sha256": dataset.sha256 if dataset else None,
        **{key: report[key] for key in keep if key in report},
    }


def _failure(
    outcome: Outcome,
    student: str,
    staff: str,
    log_text: str,
    resources: dict,
    environment: dict,
    curve: list | None = None,
) -> Evaluation:
    return Evaluation(outcome, {}, student, staff, log_text, resources, environment, curve or [])


LIMIT_FAILURES = {  # termination -> (outcome, what happened, what to do)
    Termination.WALL_LIMIT: (Outcome.TIMEOUT, "ran longer than the {wall:g} s limit", _SHORTER),
    Termination.CPU_LIMIT: (Outcome.TIMEOUT, "used more than {cpu:g} s of CPU time", _SHORTER),
    Termination.MEMORY_LIMIT: (
        Outcome.MEMORY_LIMIT,
        "used more than {memory} MiB of memory",
        "Use a smaller model or smaller batches; files written to /tmp and to the output folder count too.",
    ),
}


def _run_failure(result: RunResult, report: dict, phase: str, assignment: Assignment, prepared: PreparedSubmission):
    """Return (outcome, student message, staff detail) for a run that failed, else None."""
    limits = assignment.spec.limits
    during = f" during {protocol.PHASES.get(phase, 'the run')}"
    staff = f"termination={result.termination.value} exit_code={result.exit_code} signal={result.signal} phase={phase}"
    if result.termination in LIMIT_FAILURES:
        outcome, what, advice = LIMIT_FAILURES[result.termination]
        what = what.format(wall=limits.wall_seconds, cpu=limits.cpu_seconds, memory=limits.memory_bytes // 1024**2)
        return outcome, f"Your code {what}{during} and was stopped. {advice}", staff
    if result.termination is Termination.SIGNALED:
        return Outcome.KILLED, f"Your program was ended by signal {_signal_name(result.signal)}{during}.", staff
    if result.exit_code == protocol.EXIT_HARNESS_ERROR:
        raise InfrastructureError(f"harness failed before the submission ran: {staff}\n{result.log[-4000:]}")
    error = report.get("error")
    if result.exit_code == protocol.EXIT_SUBMISSION_ERROR and isinstance(error, dict):
        return Outcome.BAD_SUBMISSION, _describe_error(error, prepared), f"{staff}\n{error.get('detail', '')}"
    if result.channel_failure is not None:  # the run broke the live evaluation's rules
        failure = result.channel_failure
        outcome = Outcome.TIMEOUT if failure.timed_out else Outcome.BAD_OUTPUT
        return outcome, f"{failure.student_message} The evaluation was stopped.", f"{staff}\n{failure.staff_detail}"
    if result.exit_code != 0:
        return (
            Outcome.NONZERO_EXIT,
            f"Your program exited with code {result.exit_code}{during}; the log shows why.",
            staff,
        )
    if phase != protocol.FINAL_PHASE:
        return (
            Outcome.BAD_OUTPUT,
            f"Your program ended{during}, before it saved its results (did it call exit()?).",
            staff,
        )
    return None


def _describe_error(error: dict, prepared: PreparedSubmission) -> str:
    """A student's error in their own terms: phase, place, message."""
    phase = str(error.get("phase", ""))
    message = str(error.get("message", "the code failed"))[:2000]
    file = error.get("file") if isinstance(error.get("file"), str) else None
    line = error.get("line") if isinstance(error.get("line"), int) else None
    where = prepared.describe_line(file, line)
    where = f" ({where})" if where else ""
    if message.startswith(("SyntaxError", "IndentationError", "TabError")):
        return f"Your code has a syntax error{where}: {message}"
    if phase == "import":
        return f"Your code failed while loading{where}: {message}"
    return f"Your {protocol.PHASES.get(phase, phase)} failed{where}: {message}"


def _signal_name(number: int | None) -> str:
    try:
        return signal.Signals(number).name if number else "unknown"
    except ValueError:
        return str(number)
