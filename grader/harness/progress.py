"""Training progress a run reports: the live epoch count and the loss curve per epoch.

Students' own training loops report their epochs with one call, importable
inside the grader as `grader_progress`:

    try:
        from grader_progress import report_epoch
    except ImportError:  # outside the grader
        def report_epoch(epoch, loss=None, **values): pass

    for epoch in range(1, epochs + 1):
        ...
        report_epoch(epoch, loss=float(loss), epochs=epochs, val_loss=float(val_loss))

The default loops and every Keras `fit` report by themselves. What is
reported is shown as reported (a curve, the live status); it never earns points.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

from .protocol import CURVE_MAX_EPOCHS

_publish: Callable[[dict[str, Any]], None] = lambda state: None  # noqa: E731 - set by the run
curve: list[dict[str, Any]] = []


def connect(publish: Callable[[dict[str, Any]], None]) -> None:
    """Send each reported epoch to `publish` (the run writes progress.json)."""
    global _publish
    _publish = publish


def report_epoch(epoch: int, loss: float | None = None, *, epochs: int | None = None, **values: float) -> None:
    """Record that `epoch` (counted from 1) ended, with its training loss and any other per-epoch values."""
    point: dict[str, Any] = {"epoch": int(epoch)}
    for name, value in {"loss": loss, **values}.items():
        number = _number(value)
        if number is not None:
            point[str(name)[:32]] = number
    if len(curve) < CURVE_MAX_EPOCHS:
        curve.append(point)
    _publish(
        {
            "phase": "train",
            "epoch": point["epoch"],
            "epochs": int(epochs) if epochs else None,
            "loss": point.get("loss"),
        }
    )


def _number(value: Any) -> float | None:
    """A finite float from a Python, NumPy or framework scalar; None otherwise."""
    try:
        if hasattr(value, "detach"):  # a torch loss that still needs grad: .item() alone would warn
            value = value.detach()
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    except (TypeError, ValueError, RuntimeError):
        pass
    return None
