"""Each scoring policy at its boundaries."""

import pytest

from grader.core.rubric.policies import Absolute, Band, Bands, Bound, Level, Linear, Measured, Resolved, Threshold


def accuracy(value: float) -> Measured:
    return Measured("Accuracy", value, f"{value:.3f}", True, lambda level: Resolved(level.value, f"{level.value:.3f}"))


def parameters(value: float) -> Measured:
    return Measured(
        "Parameter count", value, f"{value:,.0f}", False, lambda level: Resolved(level.value, f"{level.value:,.0f}")
    )


def at_least(value: float) -> Bound:
    return Bound(True, Absolute(value))


def at_most(value: float) -> Bound:
    return Bound(False, Absolute(value))


# threshold


@pytest.mark.parametrize(("value", "points"), [(0.9, 20), (0.95, 20), (0.8999, 0)])
def test_threshold_at_least_is_inclusive(value, points):
    assert Threshold(at_least(0.9)).score(accuracy(value), 20)[0] == points


@pytest.mark.parametrize(("value", "points"), [(50000, 10), (49999, 10), (50001, 0)])
def test_threshold_at_most_is_inclusive(value, points):
    assert Threshold(at_most(50000)).score(parameters(value), 10)[0] == points


def test_threshold_forgives_float_noise_at_the_boundary():
    assert Threshold(at_least(0.9)).score(accuracy(0.8999999999999999), 20)[0] == 20
    assert Threshold(at_least(0.9)).score(accuracy(0.89999), 20)[0] == 0


def test_threshold_feedback():
    assert (
        Threshold(at_least(0.9)).score(accuracy(0.93), 20)[1]
        == "Accuracy 0.930 meets the requirement of at least 0.900"
    )
    assert (
        Threshold(at_most(50000)).score(parameters(60000), 10)[1]
        == "Parameter count 60,000 misses the requirement of at most 50,000"
    )


# linear


@pytest.mark.parametrize(
    ("value", "points"),
    [(0.4, 0.0), (0.5, 0.0), (0.6, 15.0), (0.7, 30.0), (0.9, 60.0), (0.95, 60.0)],
)
def test_linear_rising(value, points):
    assert Linear(Absolute(0.5), Absolute(0.9)).score(accuracy(value), 60)[0] == pytest.approx(points)


@pytest.mark.parametrize(
    ("value", "points"),
    [(120000, 0.0), (100000, 0.0), (75000, 5.0), (50000, 10.0), (10000, 10.0)],
)
def test_linear_falling_when_zero_at_is_above_full_at(value, points):
    assert Linear(Absolute(100000), Absolute(50000)).score(parameters(value), 10)[0] == pytest.approx(points)


def test_linear_feedback_in_each_region():
    policy = Linear(Absolute(0.5), Absolute(0.9))
    assert policy.score(accuracy(0.95), 60)[1] == "Accuracy 0.950 reached the full-marks level 0.900"
    assert policy.score(accuracy(0.7), 60)[1] == "Accuracy 0.700 is between 0.500 (no points) and 0.900 (full points)"
    assert policy.score(accuracy(0.5), 60)[1] == "Accuracy 0.500 is not above 0.500 (no points)"
    falling = Linear(Absolute(100000), Absolute(50000))
    assert falling.score(parameters(100001), 10)[1] == "Parameter count 100,001 is not below 100,000 (no points)"


def test_linear_with_levels_that_resolve_equal_falls_back_to_the_metric_direction():
    def same(level: Level) -> Resolved:
        return Resolved(0.9, "0.900")

    policy = Linear(Absolute(0.5), Absolute(0.7))  # both resolve to 0.9 below
    assert policy.score(Measured("Accuracy", 0.9, "0.900", True, same), 60)[0] == 60
    assert policy.score(Measured("Accuracy", 0.89, "0.890", True, same), 60)[0] == 0


# bands

BANDS = (Band(at_least(0.95), 10), Band(at_least(0.90), 7), Band(at_least(0.80), 4))


@pytest.mark.parametrize(
    ("value", "points"),
    [(0.99, 10), (0.95, 10), (0.9499, 7), (0.90, 7), (0.85, 4), (0.80, 4), (0.7999, 0)],
)
def test_bands_give_the_highest_band_reached(value, points):
    assert Bands(BANDS).score(accuracy(value), 10)[0] == points


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
def test_band_order_does_not_matter(order):
    policy = Bands(tuple(BANDS[i] for i in order))
    assert [policy.score(accuracy(v), 10)[0] for v in (0.97, 0.92, 0.81, 0.5)] == [10, 7, 4, 0]


def test_bands_with_at_most():
    policy = Bands((Band(at_most(10000), 10), Band(at_most(50000), 5)))
    assert [policy.score(parameters(v), 10)[0] for v in (10000, 10001, 50000, 50001)] == [10, 5, 5, 0]


def test_bands_feedback():
    assert Bands(BANDS).score(accuracy(0.92), 10)[1] == "Accuracy 0.920 reached the band for at least 0.900"
    assert (
        Bands(BANDS).score(accuracy(0.5), 10)[1] == "Accuracy 0.500 reached no band; the lowest asks for at least 0.800"
    )


def test_resolved_text_joins_note_and_origin():
    level = Resolved(0.955, "0.955", "98% of the best reference, 0.974")
    assert level.text() == "0.955 (98% of the best reference, 0.974)"
    assert level.text("full points") == "0.955 (full points; 98% of the best reference, 0.974)"
    assert Resolved(0.5, "0.500").text("no points") == "0.500 (no points)"
