"""Run one job: load, seed, build, train, predict, write predictions."""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import frameworks
from .report import EXIT_HARNESS_ERROR, EXIT_OK, EXIT_SUBMISSION_ERROR, SubmissionFailure, note


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
    """The state of one harness run."""

    def __init__(self, job: dict):
        self.job = job
        self.root = job["submission_dir"]
        self.output = Path(job["output_dir"])
        self.phase = "start"
        self.student_code_ran = False
        self.report: dict[str, Any] = {"timings": {}}

    def execute(self) -> None:
        """Do every phase in order."""
        job, training = self.job, self.job["training"]
        data = {name: np.load(path, allow_pickle=False) for name, path in job["data"].items()}
        module = self.call("import", self.import_submission)
        self.report["seeds"] = frameworks.seed_everything(training["seed"])
        build_model = getattr(module, "build_model", None)
        if not callable(build_model):
            raise SubmissionFailure("import", "the submission does not define build_model(input_dim, num_classes)")
        model = self.call("build_model", build_model, self.model_input(), job["num_classes"])
        framework = self.check_framework(model)
        model = self.train(module, model, framework, data["x_train"], data["y_train"])
        self.report["parameters"] = frameworks.count_parameters(model, framework)
        predict = getattr(module, "predict", None)
        if callable(predict):
            outputs = self.call("predict", predict, model, data["x_test"])
        else:
            outputs = self.call("predict", frameworks.default_predict, model, framework, data["x_test"])
        self.save_predictions(outputs)
        self.report["versions"] = frameworks.versions()

    def call(self, phase: str, function: Callable, *args: Any) -> Any:
        """Run a piece of the student's code, timing it and naming its failures."""
        self.enter(phase)
        started = time.perf_counter()
        self.student_code_ran = True
        try:
            return function(*args)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt are the submission's too
            raise SubmissionFailure.from_exception(phase, exc, self.root) from None
        finally:
            self.report["timings"][phase] = round(time.perf_counter() - started, 3)

    def enter(self, phase: str) -> None:
        """Record the phase, so a run that dies says where it died."""
        self.phase = phase
        self.report["phase"] = phase
        self.write_json("progress.json", {"phase": phase})

    def import_submission(self) -> Any:
        sys.path.insert(0, self.root)
        return importlib.import_module("submission")

    def model_input(self) -> int | tuple[int, ...]:
        shape = tuple(self.job["input_shape"])
        return shape[0] if len(shape) == 1 else shape

    def check_framework(self, model: Any) -> str:
        framework = frameworks.detect(model)
        allowed = self.job["frameworks"]
        if framework is None:
            raise SubmissionFailure(
                "build_model",
                f"build_model returned a {type(model).__name__}, not a Keras model, a torch.nn.Module or a LightningModule",
            )
        if framework not in allowed:
            raise SubmissionFailure(
                "build_model", f"this assignment accepts {', '.join(allowed)} models, not {framework}"
            )
        self.report["framework"] = framework
        note(f"framework: {framework}")
        return framework

    def train(self, module: Any, model: Any, framework: str, x: np.ndarray, y: np.ndarray) -> Any:
        train = getattr(module, "train", None)
        if not callable(train):
            return self.call(
                "train", frameworks.default_train, model, framework, x, y, self.job["training"], self.progress
            )
        trained = self.call("train", train, model, x, y)
        if trained is None:
            note("train() returned None: using the model it was given, trained in place")
            return model
        return trained

    def progress(self, epoch: int, epochs: int, loss: float | None) -> None:
        """Publish training progress (epochs done) for the live status."""
        self.write_json("progress.json", {"phase": "train", "epoch": epoch, "epochs": epochs, "loss": loss})

    def save_predictions(self, outputs: Any) -> None:
        self.enter("save")
        try:
            array = frameworks.to_numpy(outputs)
            with open(self.output / ".predictions.tmp", "wb") as handle:
                np.save(handle, array, allow_pickle=False)
        except (ValueError, TypeError) as exc:
            raise SubmissionFailure(
                "predict",
                f"predict returned something that is not an array of numbers ({type(outputs).__name__}): {exc}",
            ) from None
        os.replace(self.output / ".predictions.tmp", self.output / "predictions.npy")
        self.report["predictions_shape"] = list(array.shape)
        note(f"predictions: shape {tuple(array.shape)}, dtype {array.dtype}")

    def write_json(self, name: str, value: dict) -> None:
        tmp = self.output / f".{name}.tmp"
        tmp.write_text(json.dumps(value))
        os.replace(tmp, self.output / name)

    def write_report(self) -> None:
        self.write_json("report.json", self.report)
