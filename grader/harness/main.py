"""Run one job: load the submission, seed, then let the task kind's module drive it."""

from __future__ import annotations

import atexit
import gc
import importlib
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, NoReturn

import numpy as np

from . import classification, frameworks, generation, language_model, progress, rl
from .protocol import (
    EXIT_HARNESS_ERROR,
    EXIT_OK,
    EXIT_SUBMISSION_ERROR,
    FINAL_PHASE,
    JOB_DATA,
    JOB_FRAMEWORKS,
    JOB_KIND,
    JOB_OUTPUT_DIR,
    JOB_SUBMISSION_DIR,
    JOB_TASK,
    JOB_TRAINING,
    PROGRESS_FILE,
    PROGRESS_MODULE,
    REPORT_FILE,
    output_file,
)
from .report import SubmissionFailure, note

KINDS = {
    "classification": classification,
    "language_model": language_model,
    "generation": generation,
    "rl": rl,
}  # the sandbox side of each task kind (grader.core.kinds)


def exit_fast(code: int) -> NoReturn:
    """End the process as a normal exit would, without tearing the interpreter down (0.4 s with torch loaded).

    As at any exit, non-daemon threads are waited for and atexit hooks run (the
    submission's too); only the module teardown that follows is skipped.
    """
    threading._shutdown()  # what Python's own finalisation does first
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str]) -> int:
    """Run the job file named in argv; return the exit code."""
    job = json.loads(Path(argv[0]).read_text())
    run = Run(job)
    try:
        run.execute()
    except SubmissionFailure as failure:
        note(f"{failure.phase} failed: {failure.message}")
        run.report["error"] = failure.as_dict()
        run.write_report()
        return EXIT_SUBMISSION_ERROR
    except BaseException:  # the harness itself broke
        traceback.print_exc()
        if run.student_code_ran:  # the submission may have broken it: theirs
            run.report["error"] = {
                "phase": run.phase,
                "message": "the run failed after your code ran",
                "detail": traceback.format_exc(),
            }
            run.write_report()
            return EXIT_SUBMISSION_ERROR
        return EXIT_HARNESS_ERROR
    run.write_report()
    return EXIT_OK


class Run:
    """The state of one harness run, and what every kind's module uses of it."""

    def __init__(self, job: dict):
        self.job = job
        self.kind: dict[str, Any] = job[JOB_KIND]
        self.training: dict[str, Any] = job[JOB_TRAINING]
        self.root = job[JOB_SUBMISSION_DIR]
        self.output = Path(job[JOB_OUTPUT_DIR])
        self.phase = "start"
        self.student_code_ran = False
        self.report: dict[str, Any] = {"timings": {}}

    def execute(self) -> None:
        """Load the data and the submission, seed, and hand over to the kind."""
        data = {name: np.load(path, allow_pickle=False) for name, path in self.job[JOB_DATA].items()}
        progress.connect(lambda state: self.write_json(PROGRESS_FILE, state))
        sys.modules[PROGRESS_MODULE] = progress  # `from grader_progress import report_epoch`
        module = self.call("import", self.import_submission)
        self.report["seeds"] = frameworks.seed_everything(self.training["seed"])
        # The frameworks' objects (hundreds of thousands) live until the end: the collector stops walking
        # them, so a full collection (Keras's clear_session, or one during training) takes ms, not 0.1-0.2 s.
        gc.freeze()
        KINDS[self.job[JOB_TASK]].run(self, module, data)
        self.report["versions"] = frameworks.versions()

    def call(self, phase: str, function: Callable, *args: Any) -> Any:
        """Run a piece of the student's code, timing it and naming its failures."""
        self.enter(phase)
        started = time.perf_counter()
        self.student_code_ran = True
        try:
            return function(*args)
        except SubmissionFailure:
            raise
        except BaseException as exc:  # SystemExit and KeyboardInterrupt are the submission's too
            raise SubmissionFailure.from_exception(phase, exc, self.root) from None
        finally:
            timings = self.report["timings"]
            timings[phase] = round(timings.get(phase, 0.0) + time.perf_counter() - started, 3)

    def enter(self, phase: str) -> None:
        """Record the phase, so a run that dies says where it died."""
        self.phase = phase
        self.report["phase"] = phase
        self.write_json(PROGRESS_FILE, {"phase": phase})

    def import_submission(self) -> Any:
        sys.path.insert(0, self.root)
        return importlib.import_module("submission")

    def student_function(self, module: Any, name: str, required: bool, signature: str) -> Callable | None:
        """The submission's function `name`, None when optional and absent."""
        function = getattr(module, name, None)
        if callable(function):
            return function
        if required:
            raise SubmissionFailure("import", f"the submission does not define {signature}")
        return None

    def check_framework(
        self,
        model: Any,
        what: str = "a Keras model, a torch.nn.Module or a LightningModule",
        phase: str = "build_model",
    ) -> str:
        """The framework of what `phase` (build_model, build_agent) returned, allowed by the assignment."""
        framework = frameworks.detect(model)
        allowed = self.job[JOB_FRAMEWORKS]
        if framework is None:
            raise SubmissionFailure(phase, f"{phase} returned a {type(model).__name__}, not {what}")
        if framework not in allowed:
            raise SubmissionFailure(phase, f"this assignment accepts {', '.join(allowed)} models, not {framework}")
        self.report["framework"] = framework
        note(f"framework: {framework}")
        frameworks.watch_training(framework)
        return framework

    def save_output(self, name: str, outputs: Any, source: str = "predict") -> None:
        """Write one output array (never pickled) for the trusted side to check; `source` returned it."""
        self.enter(FINAL_PHASE)
        try:
            array = frameworks.to_numpy(outputs)
            with open(self.output / f".{name}.tmp", "wb") as handle:
                np.save(handle, array, allow_pickle=False)
        except (ValueError, TypeError) as exc:
            raise SubmissionFailure(
                source,
                f"{source} returned something that is not an array of numbers ({type(outputs).__name__}): {exc}",
            ) from None
        os.replace(self.output / f".{name}.tmp", self.output / output_file(name))
        self.report.setdefault("output_shapes", {})[name] = list(array.shape)
        note(f"{name}: shape {tuple(array.shape)}, dtype {array.dtype}")

    def write_json(self, name: str, value: dict) -> None:
        tmp = self.output / f".{name}.tmp"
        tmp.write_text(json.dumps(value))
        os.replace(tmp, self.output / name)

    def write_report(self) -> None:
        if progress.curve:
            self.report["curve"] = progress.curve
        self.write_json(REPORT_FILE, self.report)
