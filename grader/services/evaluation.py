"""Evaluate a submission: run it in the sandbox, check its predictions, measure.

This is the expensive step of grading (training happens here). Its result, an
Evaluation, is stored; scoring it against a rubric is a separate, cheap step.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from grader.assignments import Assignment
from grader.core.errors import BadOutput, BadSubmission, InfrastructureError
from grader.core.grading import Evaluation
from grader.core.outcomes import Outcome
from grader.core.predictions import to_class_ids
from grader.datasets import PreparedData, prepare_dataset
from grader.files import make_readable
from grader.gpu import Gpu, GpuMonitor
from grader.sandbox.spec import Mount, Runner, RunResult, RunSpec, Termination
from grader.services import outputs
from grader.services.submissions import PreparedSubmission, UploadLimits, prepare_submission

log = logging.getLogger("grader.evaluation")

HARNESS_DIR = Path(__file__).resolve().parent.parent / "harness"
EXIT_SUBMISSION_ERROR, EXIT_HARNESS_ERROR = 3, 4  # grader.harness.report; the harness is not imported here
MAX_PREDICTIONS_BYTES = 64 * 1024**2
_SHORTER = "Train for fewer epochs or use a smaller model."
PHASES = {
    "start": "start-up",
    "import": "loading your code",
    "build_model": "build_model",
    "train": "training",
    "predict": "prediction",
    "save": "saving predictions",
}


class Evaluator:
    """Runs submissions of assignments in a sandbox and measures them."""

    def __init__(
        self,
        runner: Runner,
        cache_dir: Path,
        run_dir: Path,
        upload_limits: UploadLimits = UploadLimits(),
        gpu: Gpu | None = None,
    ):
        self.runner = runner
        self.cache_dir = cache_dir
        self.run_dir = run_dir
        self.upload_limits = upload_limits
        self.gpu = gpu  # runs are pinned to this GPU; None: CPU only
        self.live_output: Path | None = None  # the output folder of the run in progress

    def live_progress(self) -> dict[str, Any]:
        """What the run in progress says of itself (phase, epochs done); {} between runs."""
        folder = self.live_output
        return outputs.read_json(folder / "progress.json", 4096) if folder is not None else {}

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
        dataset = prepare_dataset(
            assignment.spec.dataset, self.cache_dir, f"assignments/{assignment.slug}/assignment.yaml"
        )
        output, job_dir = workspace / "output", workspace / "job"
        output.mkdir()
        job_dir.mkdir()
        spec = self._run_spec(prepared, assignment, dataset, output, job_dir)
        self.live_output = output
        try:
            result, gpu_usage = self._run_measured(spec)
        finally:
            self.live_output = None
        report = outputs.read_json(output / "report.json")
        environment = _environment(assignment, dataset, prepared, report)
        if gpu_usage:
            environment["gpu"] = gpu_usage
        log_text = "".join(f"[grader] {n}\n" for n in prepared.notes) + result.log
        resources = {
            "wall_s": round(result.wall_s, 3),
            "cpu_s": round(result.cpu_s, 3),
            "peak_memory_bytes": result.peak_memory_bytes,
            "tasks_refused": result.tasks_refused,
        }
        phase = str(outputs.read_json(output / "progress.json").get("phase", report.get("phase", "start")))
        failure = _run_failure(result, report, phase, assignment, prepared)
        if failure is not None:
            outcome, student, staff = failure
            if result.tasks_refused:
                cap = assignment.spec.limits.max_processes
                student += f" It also reached the limit of {cap} processes and threads: new ones were refused."
                staff += f" tasks_refused={result.tasks_refused}"
            return _failure(outcome, student, staff, log_text, resources, environment)
        try:
            predictions = outputs.load_predictions(output / outputs.PREDICTIONS, MAX_PREDICTIONS_BYTES)
            labels = dataset.test_labels()
            class_ids = to_class_ids(predictions, len(labels), assignment.spec.num_classes)
        except BadOutput as exc:
            return _failure(Outcome.BAD_OUTPUT, exc.student_message, exc.staff_detail, log_text, resources, environment)
        from grader.core.metrics import compute_metrics  # preloaded while the sandbox ran

        metrics = compute_metrics(class_ids, labels, assignment.spec.num_classes).as_dict()
        metrics["parameters"] = report.get("parameters") if isinstance(report.get("parameters"), int) else None
        return Evaluation(
            Outcome.OK,
            metrics,
            "Your code ran and its predictions were scored.",
            "ok",
            log_text,
            resources,
            environment,
        )

    def _run_measured(self, spec: RunSpec) -> tuple[RunResult, dict[str, Any] | None]:
        """Run the spec; on a GPU, also record the device, its peak memory and utilisation."""
        if self.gpu is None:
            return self.runner.run(spec), None
        with GpuMonitor(self.gpu) as monitor:
            result = self.runner.run(spec)
        return result, monitor.summary()

    def _run_spec(
        self, prepared: PreparedSubmission, assignment: Assignment, dataset: PreparedData, output: Path, job_dir: Path
    ) -> RunSpec:
        """Describe the sandboxed run: what it sees, what it may write, its limits."""
        spec = assignment.spec
        harness = Mount(HARNESS_DIR, "/opt/grader/harness")
        mounts = {
            "submission": Mount(prepared.folder, "/submission"),
            "data": Mount(dataset.public_dir, "/data"),
            "job": Mount(job_dir, "/job"),
            "output": Mount(output, "/output", writable=True),
        }
        see = {key: self.runner.visible_path(mount) for key, mount in mounts.items()}
        job = {
            "submission_dir": see["submission"],
            "output_dir": see["output"],
            "data": {name: f"{see['data']}/{name}.npy" for name in ("x_train", "y_train", "x_test")},
            "input_shape": list(spec.input_shape),
            "num_classes": spec.num_classes,
            "frameworks": list(spec.frameworks),
            "training": {
                "epochs": spec.training.epochs,
                "batch_size": spec.training.batch_size,
                "learning_rate": spec.training.learning_rate,
                "seed": spec.training.seed,
            },
        }
        (job_dir / "job.json").write_text(json.dumps(job))
        make_readable(job_dir)
        make_readable(prepared.folder)
        harness_parent = str(Path(self.runner.visible_path(harness)).parent)
        launcher = f"import sys; sys.path.insert(0, {harness_parent!r}); from harness.main import main; sys.exit(main(sys.argv[1:]))"
        return RunSpec(
            argv=(sys.executable, "-s", "-c", launcher, f"{see['job']}/job.json"),
            mounts=(harness, *mounts.values()),
            limits=spec.limits,
            env={**_sandbox_env(spec.training.seed), **(self.gpu.sandbox_env() if self.gpu else {})},
            cwd="/tmp",
            hidden=_hidden_data_paths(),
            devices=self.gpu.device_nodes() if self.gpu else (),
        )


def _preload_metrics() -> None:
    """Import the metrics (torch, torcheval: about 2 s) while the sandbox runs, not after."""
    if "grader.core.metrics" not in sys.modules:
        threading.Thread(target=importlib.import_module, args=("grader.core.metrics",), daemon=True).start()


def _sandbox_env(seed: int) -> dict[str, str]:
    return {
        "PYTHONHASHSEED": str(seed),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        "MPLCONFIGDIR": "/tmp",
    }


def _hidden_data_paths() -> tuple[str, ...]:
    """The data files packages ship (scikit-learn's digits among them): hidden in runs."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return ()
    root = Path(spec.submodule_search_locations[0]) / "datasets"
    return tuple(str(root / name) for name in ("data", "descr", "images") if (root / name).is_dir())


def _environment(
    assignment: Assignment, dataset: PreparedData, prepared: PreparedSubmission, report: dict
) -> dict[str, Any]:
    """What the run ran with, for staff (values from the report are the run's own claims)."""
    keep = ("framework", "parameters", "versions", "seeds", "timings", "predictions_shape")
    return {
        "assignment": assignment.slug,
        "submission_kind": prepared.kind,
        "data_sha256": dataset.sha256,
        **{key: report[key] for key in keep if key in report},
    }


def _failure(
    outcome: Outcome, student: str, staff: str, log_text: str, resources: dict, environment: dict
) -> Evaluation:
    return Evaluation(outcome, {}, student, staff, log_text, resources, environment)


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
    during = f" during {PHASES.get(phase, 'the run')}"
    staff = f"termination={result.termination.value} exit_code={result.exit_code} signal={result.signal} phase={phase}"
    if result.termination in LIMIT_FAILURES:
        outcome, what, advice = LIMIT_FAILURES[result.termination]
        what = what.format(wall=limits.wall_seconds, cpu=limits.cpu_seconds, memory=limits.memory_bytes // 1024**2)
        return outcome, f"Your code {what}{during} and was stopped. {advice}", staff
    if result.termination is Termination.SIGNALED:
        return Outcome.KILLED, f"Your program was ended by signal {_signal_name(result.signal)}{during}.", staff
    if result.exit_code == EXIT_HARNESS_ERROR:
        raise InfrastructureError(f"harness failed before the submission ran: {staff}\n{result.log[-4000:]}")
    error = report.get("error")
    if result.exit_code == EXIT_SUBMISSION_ERROR and isinstance(error, dict):
        return Outcome.BAD_SUBMISSION, _describe_error(error, prepared), f"{staff}\n{error.get('detail', '')}"
    if result.exit_code != 0:
        return (
            Outcome.NONZERO_EXIT,
            f"Your program exited with code {result.exit_code}{during}; the log shows why.",
            staff,
        )
    if phase != "save":
        return (
            Outcome.BAD_OUTPUT,
            f"Your program ended{during}, before it made predictions (did it call exit()?).",
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
    return f"Your {PHASES.get(phase, phase)} failed{where}: {message}"


def _signal_name(number: int | None) -> str:
    try:
        return signal.Signals(number).name if number else "unknown"
    except ValueError:
        return str(number)
