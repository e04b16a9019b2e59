"""Classification: a model maps each input (features, an image, a token sequence) to one of k classes.

Student contract (DESIGN.md, exact):

    build_model(input, num_classes)  # input: input_dim, input_shape (H, W, C) or vocab_size
    train(model, x_train, y_train)   # optional
    predict(model, x)                # optional: ids (n,) or scores (n, num_classes)

The run writes `predictions` for the test inputs and, when the assignment
measures generalization, `train_predictions` for the training inputs. The
trusted side checks both and computes every metric from the labels it holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.core.errors import BadOutput
from grader.core.kinds.base import Aids, TaskKind, TaskSpec
from grader.core.predictions import to_class_ids
from grader.core.rubric.spec import Metric
from grader.core.validate import Section, Where, expect_int, expect_list

FEATURES, IMAGES, TOKENS = "features", "images", "tokens"
INPUTS = {
    FEATURES: "float32 (n, d)",
    IMAGES: "float32 images in [0, 1], (n, H, W, C) for Keras and (n, C, H, W) for PyTorch",
    TOKENS: "int64 token ids (n, length), 0 = padding",
}
_RANKS = {
    FEATURES: (1, "[d], e.g. [64]"),
    IMAGES: (3, "[height, width, channels], e.g. [28, 28, 1]"),
    TOKENS: (1, "[sequence_length], e.g. [40]"),
}


@dataclasses.dataclass(frozen=True)
class ClassificationSpec(TaskSpec):
    """What a classification assignment declares about its inputs and classes."""

    input: str
    input_shape: tuple[int, ...]
    num_classes: int
    vocab_size: int | None = None  # tokens only
    measure_generalization: bool = False  # also predict the training inputs

    @property
    def build_input(self) -> int | list[int]:
        """The first argument of build_model: input_dim, input_shape or vocab_size."""
        if self.input == TOKENS:
            return self.vocab_size
        return self.input_shape[0] if self.input == FEATURES else list(self.input_shape)


class Classification(TaskKind):
    name = "classification"
    keys = ("input", "input_shape", "num_classes", "vocab_size", "measure_generalization")
    metrics = {
        "accuracy": Metric("accuracy", "Accuracy", True, "{:.3f}"),
        "macro_f1": Metric("macro_f1", "Macro F1", True, "{:.3f}"),
        "train_accuracy": Metric("train_accuracy", "Training accuracy", True, "{:.3f}"),
        # training minus test accuracy: near zero is good, and a reference's gap is no yardstick
        "generalization_gap": Metric("generalization_gap", "Generalization gap", False, "{:+.3f}", relative=False),
        # reported by the run itself (the harness counts them inside the sandbox)
        "parameters": Metric("parameters", "Parameter count", False, "{:,.0f}", reported=True),
    }
    summary_metrics = ("accuracy", "macro_f1", "parameters")
    feedback_template = "kinds/classification.html"

    def parse(self, root: Section) -> ClassificationSpec:
        kind = root.choice("input", INPUTS) if "input" in root else FEATURES
        shape = _parse_input_shape(root, kind)
        vocab_size = None
        if kind == TOKENS:
            vocab_size = root.integer(
                "vocab_size", minimum=2, what="an integer >= 2 (token ids 0..vocab_size-1, 0 = padding)"
            )
        elif "vocab_size" in root:
            raise root.at("vocab_size").error(
                f'only token inputs have a vocabulary; remove it or set "input: {TOKENS}"'
            )
        return ClassificationSpec(
            input=kind,
            input_shape=shape,
            num_classes=root.integer("num_classes", minimum=2),
            vocab_size=vocab_size,
            measure_generalization=root.boolean("measure_generalization", False),
        )

    def check_data(
        self, spec: ClassificationSpec, public: Mapping[str, np.ndarray], hidden: Mapping[str, np.ndarray], where: Where
    ) -> None:
        for name in ("x_train", "y_train", "x_test"):
            if name not in public:
                raise where.error(
                    f"the data set has no {name}; a classification data set provides x_train, y_train, x_test"
                )
        if "y_test" not in hidden:
            raise where.error("the data set has no hidden y_test")
        for x, y in (("x_train", public["y_train"]), ("x_test", hidden["y_test"])):
            _check_inputs(spec, x, public[x], where)
            _check_labels(spec, x.replace("x_", "y_"), y, len(public[x]), where)

    def job(self, spec: ClassificationSpec, public: Mapping[str, np.ndarray]) -> dict[str, Any]:
        predict = {"predictions": "x_test"}
        if spec.measure_generalization:
            predict["train_predictions"] = "x_train"
        return {
            "input": spec.input,
            "input_shape": list(spec.input_shape),
            "num_classes": spec.num_classes,
            "vocab_size": spec.vocab_size,
            "build_args": [spec.build_input, spec.num_classes],
            "predict": predict,
        }

    def outputs(self, spec: ClassificationSpec) -> tuple[str, ...]:
        return ("predictions", "train_predictions") if spec.measure_generalization else ("predictions",)

    def score(
        self,
        spec: ClassificationSpec,
        outputs: Mapping[str, np.ndarray],
        data: Mapping[str, np.ndarray],
        aids: Aids,
    ) -> dict[str, Any]:
        from grader.core.metrics import compute_metrics  # torch: imported only to score

        labels = data["y_test"]
        class_ids = to_class_ids(outputs["predictions"], len(labels), spec.num_classes)
        metrics = compute_metrics(class_ids, labels, spec.num_classes).as_dict()
        if spec.measure_generalization:
            train_labels = data["y_train"]
            try:
                train_ids = to_class_ids(
                    outputs["train_predictions"], len(train_labels), spec.num_classes, "training input"
                )
            except BadOutput as exc:
                raise BadOutput(
                    f"Your predictions on the training inputs cannot be scored: {exc.student_message}", exc.staff_detail
                ) from None
            train_accuracy = round(float(np.mean(train_ids == train_labels)), 6)
            metrics["train_accuracy"] = train_accuracy
            metrics["generalization_gap"] = round(train_accuracy - metrics["accuracy"], 6)
        return metrics


def _parse_input_shape(root: Section, kind: str) -> tuple[int, ...]:
    value, where = root.get("input_shape"), root.at("input_shape")
    rank, example = _RANKS[kind]
    what = f"for {kind} inputs, a list of {rank} positive integer{'s' if rank > 1 else ''}: {example}"
    if rank == 1 and not isinstance(value, list):
        return (expect_int(value, where, minimum=1, what=what),)
    values = expect_list(value, where, what)
    if len(values) != rank:
        raise where.expected(what, value)
    return tuple(expect_int(size, where.at(index), minimum=1) for index, size in enumerate(values))


def _check_inputs(spec: ClassificationSpec, name: str, x: np.ndarray, where: Where) -> None:
    expected = ("n", *spec.input_shape)
    if x.ndim != len(expected) or tuple(x.shape[1:]) != spec.input_shape or len(x) == 0:
        raise where.error(
            f"{name} has shape {x.shape}, but the assignment declares {_shape_text(expected)} ({spec.input} input_shape {list(spec.input_shape)})"
        )
    if spec.input == TOKENS:
        if x.dtype != np.int64:
            raise where.error(f"{name} must hold int64 token ids, not {x.dtype}")
        if x.min() < 0 or x.max() >= spec.vocab_size:
            raise where.error(
                f"{name} holds token ids from {x.min()} to {x.max()}, outside 0..{spec.vocab_size - 1} (vocab_size {spec.vocab_size})"
            )
        return
    if x.dtype != np.float32:
        raise where.error(f"{name} must be float32, not {x.dtype}")
    if spec.input == IMAGES and (x.min() < 0 or x.max() > 1):
        raise where.error(f"{name} must hold pixel values in [0, 1], got {x.min():g} to {x.max():g}")


def _check_labels(spec: ClassificationSpec, name: str, y: np.ndarray, n: int, where: Where) -> None:
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise where.error(f"{name} must be {n} integer class ids, got shape {y.shape} dtype {y.dtype}")
    if y.min() < 0 or y.max() >= spec.num_classes:
        raise where.error(
            f"{name} holds classes {y.min()} to {y.max()}, outside 0..{spec.num_classes - 1} (num_classes {spec.num_classes})"
        )


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ")"


CLASSIFICATION = Classification()
