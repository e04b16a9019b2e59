"""The sandbox side of the classification kind: build, train, predict (grader.core.kinds.classification).

Images reach the student's code in the framework's own layout: (n, H, W, C)
for Keras, (n, C, H, W) for PyTorch and Lightning. The harness converts after
build_model, once it knows the framework. A failure that looks like a layout or
vocabulary mistake gets a hint naming the shape the model received.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import frameworks
from .report import SubmissionFailure, note

FIRST_ARGUMENT = {"features": "input_dim", "images": "input_shape", "tokens": "vocab_size"}
_SHAPE_WORDS = ("shape", "size", "dimension", "channel", "expected input", "mat1", "incompatible", "rank")
_INDEX_WORDS = ("index out of range", "out of bounds", "not in [", "indices[")


def run(run: Any, module: Any, data: dict[str, np.ndarray]) -> None:
    """Build, train (the student's train or the default loop), then predict every input set asked for."""
    kind = run.kind
    first = FIRST_ARGUMENT[kind["input"]]
    build_model = run.student_function(module, "build_model", True, f"build_model({first}, num_classes)")
    build_input, num_classes = kind["build_args"]
    if kind["input"] == "images":
        build_input = tuple(build_input)
    model = run.call("build_model", build_model, build_input, num_classes)
    framework = run.check_framework(model)
    layout = Layout(kind, framework)
    model = _train(run, module, model, framework, layout, data)
    run.report["parameters"] = frameworks.count_parameters(model, framework)
    predict = run.student_function(module, "predict", False, "predict(model, x)")
    batch_size = max(int(run.training["batch_size"]), 256)
    for output, source in kind["predict"].items():
        x = layout.convert(data[source])
        if predict is None:
            outputs = _guarded(run, layout, "predict", x, frameworks.default_predict, model, framework, x, batch_size)
        else:
            outputs = _guarded(run, layout, "predict", x, predict, model, x)
        run.save_output(output, outputs)


def _train(run: Any, module: Any, model: Any, framework: str, layout: Layout, data: dict[str, np.ndarray]) -> Any:
    x, y = layout.convert(data["x_train"]), data["y_train"]
    train = run.student_function(module, "train", False, "train(model, x_train, y_train)")
    if train is None:
        return _guarded(run, layout, "train", x, frameworks.default_train, model, framework, x, y, run.training)
    trained = _guarded(run, layout, "train", x, train, model, x, y)
    if trained is None:
        note("train() returned None: using the model it was given, trained in place")
        return model
    return trained


def _guarded(run: Any, layout: Layout, phase: str, x: np.ndarray, function: Any, *args: Any) -> Any:
    """Call the student's code; a failure that looks like a layout or vocabulary mistake says what was handed over."""
    try:
        return run.call(phase, function, *args)
    except SubmissionFailure as failure:
        hint = layout.hint(failure.message, x.shape)
        if hint:
            failure.message = f"{failure.message}. {hint}"
        raise


class Layout:
    """How this run's inputs are handed to the student's framework."""

    def __init__(self, kind: dict[str, Any], framework: str):
        self.input = kind["input"]
        self.input_shape = tuple(kind["input_shape"])
        self.vocab_size = kind.get("vocab_size")
        self.channels_first = self.input == "images" and framework in (frameworks.TORCH, frameworks.LIGHTNING)
        self.framework = framework

    def convert(self, x: np.ndarray) -> np.ndarray:
        """The array as the framework expects it (images: NCHW for PyTorch and Lightning)."""
        if self.channels_first:
            return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        return x

    def hint(self, message: str, shape: tuple[int, ...]) -> str:
        """What the student's model was given, when the error looks like a layout or vocabulary mistake."""
        text = message.lower()
        if self.input == "tokens" and any(word in text for word in _INDEX_WORDS):
            return (
                f"Your model was given token ids from 0 to {self.vocab_size - 1} (vocab_size {self.vocab_size}, "
                f"0 = padding), as int64 of shape {_shape(shape)}: an embedding needs vocab_size = {self.vocab_size} rows"
            )
        if self.input == "features" or not any(word in text for word in _SHAPE_WORDS):
            return ""
        if self.input == "tokens":
            return f"Your model was given token ids as int64 of shape {_shape(shape)} (n, sequence_length)"
        height, width, channels = self.input_shape
        if self.channels_first:
            order = f"(n, channels, height, width) = (n, {channels}, {height}, {width})"
            name = "PyTorch"
        else:
            order = f"(n, height, width, channels) = (n, {height}, {width}, {channels})"
            name = "Keras"
        return (
            f"Your model was given images of shape {_shape(shape)}: {name} models get {order} "
            f"(the assignment's input_shape {self.input_shape} is (height, width, channels))"
        )


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ")"
