"""The result page's charts: well-formed, accessible SVG that shows what a student checks, whatever a run reported."""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET

import pytest
from jinja2 import Environment
from markupsafe import Markup

from grader.web.charts import confusion_matrix, per_class_accuracy, training_curve

HOSTILE = ['<script>alert("x")</script>', "a & b", '"quoted"', "it's", "</svg><img src=x onerror=alert(1)>"]
CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def parse(chart: Markup) -> ET.Element:
    """Parse a chart as XML and check what every chart carries: one accessible, scalable, self-contained <svg>."""
    assert isinstance(chart, Markup)
    text = str(chart)
    root = ET.fromstring(text)
    assert root.tag == "svg" and root.get("role") == "img" and root.get("aria-label")
    assert root.find("title").text == root.get("aria-label")
    assert root.get("width") == "100%" and len(root.get("viewBox").split()) == 4
    for external in ("http", "href", "url(", "@import", "<script", "<img", "<foreignObject"):
        assert external not in text
    return root


def texts(root: ET.Element) -> list[str]:
    return [element.text for element in root.iter("text")]


def points(polyline: ET.Element) -> list[tuple[float, float]]:
    return [tuple(map(float, pair.split(","))) for pair in polyline.get("points").split()]


def curve(epochs: int = 30, **extra: object) -> list[dict]:
    return [
        {"epoch": e, "loss": 2.3 * math.exp(-e / 8), "val_loss": 2.4 * math.exp(-e / 9) + 0.2, **extra}
        for e in range(1, epochs + 1)
    ]


def test_training_curve_draws_one_line_and_legend_entry_per_series_with_axes():
    root = parse(training_curve(curve()))
    lines = root.findall("polyline")
    assert [line.get("data-series") for line in lines] == ["loss", "val_loss"]
    assert all(len(points(line)) == 30 for line in lines)
    legend = root.findall(".//g[@class='legend-entry']")
    assert [entry.find("text").text for entry in legend] == ["loss", "val_loss"]
    assert {"loss", "epoch", "0", "10", "20", "30"} <= set(texts(root))
    assert "loss, val_loss" in root.get("aria-label")


def test_training_curve_gives_lines_apart_in_grey_by_dash_and_starts_the_loss_axis_at_zero():
    root = parse(training_curve(curve()))
    assert len({line.get("stroke-dasharray") for line in root.findall("polyline")}) == 2
    ticks = [float(t) for t in texts(root) if t.replace(".", "").isdigit()]
    assert 0.0 in ticks


def test_accuracies_get_their_own_panel_below_the_losses():
    reported = [dict(row, accuracy=0.5 + row["epoch"] / 100, val_accuracy=0.4 + row["epoch"] / 100) for row in curve()]
    root = parse(training_curve(reported))
    lines = {line.get("data-series"): points(line) for line in root.findall("polyline")}
    assert list(lines) == ["loss", "val_loss", "accuracy", "val_accuracy"]
    assert len(root.findall(".//g[@class='legend-entry']")) == 4
    lowest_loss = max(y for name in ("loss", "val_loss") for _, y in lines[name])
    assert all(y > lowest_loss for name in ("accuracy", "val_accuracy") for _, y in lines[name])
    assert "accuracy" in texts(root) and "1" in texts(root)


def test_a_loss_spanning_many_decades_is_drawn_on_a_log_scale():
    root = parse(training_curve([{"epoch": e, "loss": 10.0 ** (2 - e)} for e in range(8)]))
    assert "loss (log scale)" in texts(root)
    ys = [y for _, y in points(root.find("polyline"))]
    steps = [b - a for a, b in zip(ys, ys[1:], strict=False)]
    assert max(steps) - min(steps) < 0.5  # one decade per epoch: evenly spaced on a log axis


@pytest.mark.parametrize(
    "reported",
    [
        None,
        "loss",
        42,
        {"loss": [1, 2]},
        [],
        [1, 2, 3],
        ["epoch", None, [0.5]],
        [{"epoch": 1, "loss": "0.5"}],
        [{"epoch": 1, "loss": float("nan")}, {"epoch": 2, "loss": float("inf")}, {"epoch": 3, "loss": -math.inf}],
        [{"epoch": 1, "loss": True}, {"epoch": 2, "loss": None}, {"epoch": 3, "loss": {"a": 1}}],
        [{"epoch": 1, "loss": 1e300}, {"epoch": 2, "loss": 10**400}],
        [{"epoch": -1, "loss": 0.5}, {"epoch": "one", "loss": 0.5}, {"epoch": float("nan"), "loss": 0.5}],
        [{"Lo ss": 1.0, "val-loss": 1.0, "a" * 33: 1.0, "2lr": 0.1, "<script>": 1.0, 7: 1.0, "": 1.0}],
    ],
    ids=lambda reported: repr(reported)[:40],
)
def test_a_curve_with_nothing_drawable_gives_no_chart(reported):
    assert training_curve(reported) == Markup("")


def test_garbage_among_good_points_is_skipped():
    reported = [{"epoch": 1, "loss": 1.0}, "junk", {"epoch": 2, "loss": "x"}, {"epoch": 3, "loss": 0.5}, [4], None]
    reported += [{"epoch": 4, "loss": float("nan")}, {"epoch": 5, "loss": 0.25, "note": "fine", "<b>": 2}]
    root = parse(training_curve(reported))
    assert len(root.findall("polyline")) == 1 and len(points(root.find("polyline"))) == 3


def test_negative_epochs_are_dropped_and_a_repeated_epoch_keeps_its_later_report():
    reported = [
        {"epoch": -3, "loss": 9.0},
        {"epoch": 1, "loss": 4.0},
        {"epoch": 1, "loss": 2.0},
        {"epoch": 2, "loss": 1.0},
    ]
    root = parse(training_curve(reported))
    assert len(points(root.find("polyline"))) == 2
    assert "Training curve: loss for epochs 1 to 2" == root.get("aria-label")
    assert "4" not in texts(root)  # the y axis reaches 2, the later report of epoch 1, not 4


def test_entries_without_epochs_are_numbered_in_order():
    root = parse(training_curve([{"loss": 1.0}, {"loss": 0.5}, {"loss": 0.25}]))
    assert root.get("aria-label").endswith("epochs 1 to 3")


def test_huge_numbers_are_left_out_not_allowed_to_break_the_axes():
    root = parse(training_curve([{"epoch": 1, "loss": 1e14}, {"epoch": 2, "loss": 1e300}, {"epoch": 3, "loss": 3.0}]))
    assert len(points(root.find("polyline"))) == 2


def test_a_curve_of_100000_points_is_thinned_to_at_most_2000():
    reported = [{"epoch": e, "loss": 1 / (e + 1), "val_loss": 1 / (e + 2)} for e in range(100_000)]
    started = time.perf_counter()
    root = parse(training_curve(reported))
    assert time.perf_counter() - started < 2
    for line in root.findall("polyline"):
        xs = [x for x, _ in points(line)]
        assert 1000 <= len(xs) <= 2000 and xs == sorted(xs)
    assert root.get("aria-label").endswith("epochs 0 to 99999")  # the first and last entries are kept


def test_dicts_of_10000_keys_draw_at_most_six_series():
    names = ["".join(chr(97 + (i // 26**k) % 26) for k in range(3)) for i in range(10_000)]
    reported = [{"epoch": e, **{name: e / (i + 1) for i, name in enumerate(names)}} for e in range(1, 6)]
    root = parse(training_curve(reported))
    assert len(root.findall("polyline")) == 6 and len(root.findall(".//g[@class='legend-entry']")) == 6


def test_confusion_matrix_writes_each_count_in_its_cell_with_axis_titles_and_labels():
    matrix = [[90 if t == p else t + p for p in range(10)] for t in range(10)]
    root = parse(confusion_matrix(matrix, CIFAR))
    cells = root.find(".//g[@class='cells']")
    assert len(cells.findall("rect")) == 100
    assert [int(t.text) for t in cells.iter("text")] == [count for row in matrix for count in row]
    assert {"true class", "predicted class", *CIFAR} <= set(texts(root))
    assert cells.find("rect/title").text == "true airplane, predicted airplane: 90 of 135"


def test_confusion_matrix_shades_by_share_of_the_row_not_by_count():
    root = parse(confusion_matrix([[5, 5], [50, 50]]))
    assert len({rect.get("fill") for rect in root.find(".//g[@class='cells']").iter("rect")}) == 1
    fills = [
        rect.get("fill")
        for rect in parse(confusion_matrix([[9, 1], [0, 10]])).find(".//g[@class='cells']").iter("rect")
    ]
    darkness = [765 - sum(int(fill[i : i + 2], 16) for i in (1, 3, 5)) for fill in fills]
    assert darkness[0] > darkness[1] and darkness[3] > darkness[0] and fills[2] == "#ffffff"
    assert {"0", "1"} <= set(texts(root))  # default labels


def test_a_100_class_matrix_renders_shade_only_with_some_labels():
    matrix = [[50 if t == p else int((t * p) % 7 == 0) for p in range(100)] for t in range(100)]
    chart = confusion_matrix(matrix)
    root = parse(chart)
    cells = root.find(".//g[@class='cells']")
    assert len(cells.findall("rect")) == sum(1 for row in matrix for count in row if count)
    assert not cells.findall("text")
    assert 5 < sum(1 for t in texts(root) if t.isdigit()) < 100
    assert len(chart) < 400_000


@pytest.mark.parametrize(
    "matrix",
    [
        [],
        [[1, 2], [3]],
        [[1, 2, 3], [4, 5, 6]],
        [[1, -1], [0, 1]],
        [[1.0, 0], [0, 1]],
        [[True, 0], [0, 1]],
        [["1", 0], [0, 1]],
        "ab",
        [["a", "b"], ["c", "d"]],
        None,
        [[1] * 101] * 101,
    ],
    ids=repr,
)
def test_a_malformed_matrix_gives_no_chart(matrix):
    assert confusion_matrix(matrix) == Markup("")


def test_labels_that_do_not_fit_the_classes_fall_back_to_numbers():
    root = parse(confusion_matrix([[1, 0], [0, 1]], ["only one"]))
    assert "only one" not in texts(root) and {"0", "1"} <= set(texts(root))


def test_per_class_accuracy_draws_a_bar_per_class_and_na_for_an_absent_class():
    values = [0.81, 0.85, 0.83, 0.78, 0.84, 0.79, None, 0.98, 0.82, 0.91]
    root = parse(per_class_accuracy(values, CIFAR))
    bars = root.find(".//g[@class='bars']")
    assert len(bars.findall("rect")) == 9
    assert [t.text for t in bars.iter("text") if t.get("class") == "na"] == ["n/a"]
    assert {"0.81", "0.98", "n/a", "frog", "accuracy", "0", "1"} <= set(texts(root))
    widths = {rect.find("title").text: float(rect.get("width")) for rect in bars.findall("rect")}
    assert widths["horse: 0.98"] > widths["airplane: 0.81"] > 0


def test_per_class_accuracy_clamps_bars_and_treats_non_numbers_as_na():
    root = parse(per_class_accuracy([1.5, -0.2, float("nan"), "0.5", 1.0]))
    widths = [float(rect.get("width")) for rect in root.find(".//g[@class='bars']").findall("rect")]
    assert widths[0] == widths[2] and widths[1] == 0
    assert texts(root).count("n/a") == 2
    assert per_class_accuracy([]) == Markup("") and per_class_accuracy("0.5") == Markup("")


@pytest.mark.parametrize("draw", ["matrix", "bars"])
def test_hostile_labels_are_escaped(draw):
    labels = HOSTILE
    size = len(labels)
    chart = (
        confusion_matrix([[1] * size] * size, labels) if draw == "matrix" else per_class_accuracy([0.5] * size, labels)
    )
    root = parse(chart)
    shown = set(texts(root))
    assert "a & b" in shown and '"quoted"' in shown and "it's" in shown
    assert '<script>alert("…' in shown  # shortened before escaping, so no entity is cut
    assert "<script" not in str(chart) and "&lt;script&gt;" in str(chart)


def test_charts_are_not_escaped_again_in_an_autoescaping_template():
    html = Environment(autoescape=True).from_string("{{ chart }}").render(chart=per_class_accuracy([0.5]))
    assert html.startswith("<svg ") and "&lt;svg" not in html
