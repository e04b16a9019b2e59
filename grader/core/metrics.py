"""Classification metrics of validated class ids against the hidden labels, with torcheval.

This is the one core module that imports torch (slow to import): other core
modules must not import it.

Classes absent from the labels: their per-class accuracy is None (there is
nothing to be right or wrong about), and torcheval's macro F1 leaves out the
classes that appear in neither the labels nor the predictions (a class that is
predicted but absent from the labels counts as F1 0).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import torch

with warnings.catch_warnings():
    # torcheval decorates with torch.jit.script, which torch now deprecates; not ours to fix.
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=DeprecationWarning)
    from torcheval.metrics.functional import multiclass_accuracy, multiclass_confusion_matrix, multiclass_f1_score

_DIGITS = 6  # stored metrics are rounded, so float32 noise never decides a threshold


@dataclasses.dataclass(frozen=True)
class ClassificationMetrics:
    """What a classifier's predictions achieved on the hidden test set."""

    accuracy: float
    macro_f1: float
    per_class_accuracy: tuple[float | None, ...]  # None: the class is absent from the labels
    confusion_matrix: tuple[tuple[int, ...], ...]  # [true class][predicted class] -> count

    def as_dict(self) -> dict[str, object]:
        """Return plain JSON-friendly data (floats rounded to 6 digits)."""
        return {
            "accuracy": round(self.accuracy, _DIGITS),
            "macro_f1": round(self.macro_f1, _DIGITS),
            "per_class_accuracy": [
                None if value is None else round(value, _DIGITS) for value in self.per_class_accuracy
            ],
            "confusion_matrix": [list(row) for row in self.confusion_matrix],
        }


def compute_metrics(class_ids: np.ndarray, labels: np.ndarray, num_classes: int) -> ClassificationMetrics:
    """Compute accuracy, macro F1, per-class accuracy and the confusion matrix."""
    _check_inputs(class_ids, labels, num_classes)
    predicted = torch.from_numpy(np.asarray(class_ids, dtype=np.int64))
    target = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    with warnings.catch_warnings():
        # torcheval calls a deprecated torch.scatter form internally; not ours to fix.
        warnings.filterwarnings("ignore", message="The reduce argument of torch.scatter", category=UserWarning)
        per_class = multiclass_accuracy(predicted, target, num_classes=num_classes, average=None)
    return ClassificationMetrics(
        accuracy=_rounded(multiclass_accuracy(predicted, target)),
        macro_f1=_rounded(multiclass_f1_score(predicted, target, num_classes=num_classes, average="macro")),
        per_class_accuracy=tuple(None if math.isnan(value) else round(value, _DIGITS) for value in per_class.tolist()),
        confusion_matrix=tuple(
            tuple(row) for row in multiclass_confusion_matrix(predicted, target, num_classes).tolist()
        ),
    )


def _rounded(value: torch.Tensor) -> float:
    return round(float(value.item()), _DIGITS)


def _check_inputs(class_ids: np.ndarray, labels: np.ndarray, num_classes: int) -> None:
    """Raise ValueError unless ids and labels are matching, non-empty 1-d integer arrays in range."""
    for name, array in (("class_ids", class_ids), ("labels", labels)):
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise ValueError(f"{name} must be a 1-d integer array, got shape {array.shape} dtype {array.dtype}")
        if array.size and (array.min() < 0 or array.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got values from {array.min()} to {array.max()}")
    if class_ids.shape != labels.shape or labels.size == 0:
        raise ValueError(f"class_ids {class_ids.shape} and labels {labels.shape} must have the same non-zero length")
