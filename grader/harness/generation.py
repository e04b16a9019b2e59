"""The sandbox side of the generation kind: build, train, sample one image per label (grader.core.kinds.generation).

Training images reach the student's code in the framework's own layout, as for
classification: (n, H, W, C) for Keras, (n, C, H, W) for PyTorch and
Lightning, and `sample` answers in the same layout. Samples in the PyTorch
layout are turned back to (n, H, W, C) before they are saved; anything else is
saved as it came, for the trusted side to check and explain.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import frameworks
from .classification import Layout
from .report import SubmissionFailure, note


def run(run: Any, module: Any, data: dict[str, np.ndarray]) -> None:
    """Build and train the model, then ask it for one image per label and save them."""
    kind = run.kind
    build_model = run.student_function(module, "build_model", True, "build_model(input_shape, num_classes)")
    train = run.student_function(module, "train", True, "train(model, x_train, y_train)")
    sample = run.student_function(module, "sample", True, "sample(model, labels)")
    model = run.call("build_model", build_model, tuple(kind["input_shape"]), kind["num_classes"])
    framework = run.check_framework(model)
    layout = Layout({"input": "images", "input_shape": kind["input_shape"]}, framework)
    x_train = layout.convert(data["x_train"])
    model = _trained(model, _train(run, layout, train, model, x_train, data["y_train"]))
    run.report["parameters"] = frameworks.count_parameters(model, framework)
    labels = np.asarray(kind["labels"], dtype=np.int64)
    samples = run.call("sample", sample, model, labels)
    run.save_output("samples", channels_last(samples, layout), source="sample")


def _train(run: Any, layout: Layout, train: Any, model: Any, x_train: np.ndarray, y_train: np.ndarray) -> Any:
    """Call the student's train; a failure that looks like a layout mistake says what the model was given."""
    try:
        return run.call("train", train, model, x_train, y_train)
    except SubmissionFailure as failure:
        hint = layout.hint(failure.message, x_train.shape)
        if hint:
            failure.message = f"{failure.message}. {hint}"
        raise


def _trained(model: Any, returned: Any) -> Any:
    """What train returned when it is a model; the model it was given otherwise (trained in place)."""
    if returned is None:
        note("train() returned None: using the model it was given, trained in place")
        return model
    if frameworks.detect(returned) is None:
        note(f"train() returned a {type(returned).__name__}, not a model: using the model it was given")
        return model
    return returned


def channels_last(samples: Any, layout: Layout) -> Any:
    """Samples in the PyTorch layout (n, C, H, W) as (n, H, W, C); anything else unchanged."""
    if not layout.channels_first:
        return samples
    try:
        array = frameworks.to_numpy(samples)
    except (ValueError, TypeError):  # not an array of numbers: save_output says so
        return samples
    height, width, channels = layout.input_shape
    if array.ndim == 4 and array.shape[1:] == (channels, height, width):
        return np.ascontiguousarray(array.transpose(0, 2, 3, 1))
    note(f"sample returned shape {array.shape}, not (n, {channels}, {height}, {width}): saved as it is")
    return array
