"""Training curves the run reports: kept bounded and well formed, whatever the run wrote."""

from __future__ import annotations

import math

from grader.core.curves import MAX_POINTS, MAX_SERIES, clean_curve


def test_a_well_formed_curve_is_kept():
    curve = [{"epoch": 1, "loss": 0.9, "val_loss": 1.1}, {"epoch": 2, "loss": 0.5, "val_loss": 0.8}]
    assert clean_curve(curve) == curve


def test_what_is_not_data_is_dropped():
    reported = [
        {"epoch": 1, "loss": math.nan, "accuracy": 0.5, "<b>": 1.0, "ok": True},
        {"epoch": 1, "loss": 0.4},  # an epoch that does not advance
        "epoch 3",
        {"epoch": True, "loss": 1.0},
        {"epoch": 4, "loss": "0.3", "lr": 1e-3},
    ]
    assert clean_curve(reported) == [{"epoch": 1, "accuracy": 0.5}, {"epoch": 4, "lr": 0.001}]
    assert clean_curve({"epoch": 1}) == [] and clean_curve(None) == []


def test_a_flood_is_thinned_and_bounded():
    many = [{"epoch": n, "loss": 1 / n, **{f"s{k}": 1.0 for k in range(50)}} for n in range(1, 20_001)]
    kept = clean_curve(many)
    assert len(kept) == MAX_POINTS and kept[0]["epoch"] == 1
    assert all(len(point) <= MAX_SERIES + 1 for point in kept)
