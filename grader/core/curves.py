"""The training curve a run reports about itself, made safe to store and draw.

The curve comes from inside the sandbox, so it is a claim, never a measure:
it is shown as reported and earns no points. Whatever the run wrote, what is
kept is a bounded list of {"epoch": int, <series>: float} with short names.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_POINTS = 2_000
MAX_SERIES = 8
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")


def clean_curve(value: Any) -> list[dict[str, float | int]]:
    """Keep the well-formed points of a reported curve (epochs rising), at most MAX_POINTS, evenly thinned."""
    if not isinstance(value, list):
        return []
    points: list[dict[str, float | int]] = []
    last_epoch = 0
    for item in value[: MAX_POINTS * 50]:
        point = _clean_point(item)
        if point is not None and point["epoch"] > last_epoch:
            points.append(point)
            last_epoch = point["epoch"]
    if len(points) > MAX_POINTS:
        step = len(points) / MAX_POINTS
        points = [points[int(index * step)] for index in range(MAX_POINTS)]
    return points


def _clean_point(item: Any) -> dict[str, float | int] | None:
    if not isinstance(item, dict):
        return None
    epoch = item.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 < epoch < 10**7:
        return None
    point: dict[str, float | int] = {"epoch": epoch}
    for name, number in list(item.items())[: MAX_SERIES * 4]:
        if name == "epoch" or not isinstance(name, str) or not _NAME.fullmatch(name):
            continue
        if isinstance(number, (int, float)) and not isinstance(number, bool) and math.isfinite(number):
            point[name] = round(float(number), 6)
        if len(point) > MAX_SERIES:
            break
    return point
