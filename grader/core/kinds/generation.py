"""Generation: a model learns the training images and draws new ones, one per label asked for.

Student contract (DESIGN.md, exact):

    build_model(input_shape, num_classes)  # required
    train(model, x_train, y_train)         # required
    sample(model, labels)                  # required; labels int64 (n,) -> images (n, ...) in [0, 1]

The run writes `samples`, one image per label of the job, in (n, H, W, C)
(the harness turns PyTorch's (n, C, H, W) back). The trusted side checks them
and scores them through grader's own judge network (grader.judges), trained on
the same training images:

- the Frechet distance between the judge's features of the samples and of the
  held-out real images, which no run sees (lower is better);
- the copy rate: the share of samples that are near-copies of a training image
  (see nearness_ratios; lower is better). A near-copy is memorised, not generated, so the other
  measures leave copies out: the Frechet distance, confidence and coverage are
  computed over the other samples, and label agreement counts a copy as a miss;
- judge confidence (the mean top class probability), class coverage (the
  entropy of the judge's class histogram, 0 to 1) and label agreement (the
  share of samples the judge reads as the label they were drawn for; chance,
  about 1/num_classes, for an unconditional model, which an assignment that
  does not ask for a conditional model must not score).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.core.errors import BadOutput
from grader.core.kinds.base import Aids, TaskKind, TaskSpec
from grader.core.rubric.spec import Metric
from grader.core.validate import Section, Where, expect_int, expect_list

MIN_SAMPLES = 1000  # fewer: the Frechet distance of one model's samples varies by more than 3% between draws
MIN_HELD_OUT = 200  # real images the samples are compared with: enough for the judge features' covariance
COPY_PERCENTILE = 5.0  # near-copies: nearer one training image than 95% of held-out images are (nearness_ratios)
MIN_SCORED_SHARE = 0.1  # fewer samples that are not copies: no Frechet distance or confidence is measured
RANGE_TOLERANCE = 1e-3  # pixel values this far outside [0, 1] are float noise, clipped
GRID_COLUMNS = 8  # samples per label shown in the feedback grid
_DIGITS = 6


@dataclasses.dataclass(frozen=True)
class GenerationSpec(TaskSpec):
    """What a generation assignment declares: the images, the classes, and what is asked of the model."""

    input_shape: tuple[int, int, int]  # (height, width, channels)
    num_classes: int
    conditional: bool  # whether samples must show the digit they were asked for (label agreement is scored)
    samples_per_class: int

    @property
    def sample_count(self) -> int:
        return self.num_classes * self.samples_per_class


def sample_labels(spec: GenerationSpec) -> np.ndarray:
    """The labels `sample` is asked for: samples_per_class of each class, in class order."""
    return np.repeat(np.arange(spec.num_classes, dtype=np.int64), spec.samples_per_class)


class Generation(TaskKind):
    name = "generation"
    keys = ("input_shape", "num_classes", "conditional", "samples_per_class")
    metrics = {
        "frechet_distance": Metric("frechet_distance", "Frechet distance", False, "{:.3f}"),
        # a reference's copy rate (near zero) is no yardstick: fixed levels only
        "copy_rate": Metric("copy_rate", "Copy rate", False, "{:.3f}", relative=False),
        "coverage": Metric("coverage", "Class coverage", True, "{:.3f}"),
        "label_agreement": Metric("label_agreement", "Label agreement", True, "{:.3f}"),
        "confidence": Metric("confidence", "Judge confidence", True, "{:.3f}"),
    }
    summary_metrics = ("frechet_distance", "coverage", "label_agreement", "copy_rate")
    feedback_template = "kinds/generation.html"
    needs_judge = True

    def parse(self, root: Section) -> GenerationSpec:
        shape = _parse_input_shape(root)
        num_classes = root.integer("num_classes", minimum=2)
        per_class = root.integer("samples_per_class", 100, minimum=1)
        if per_class * num_classes < MIN_SAMPLES:
            raise root.at("samples_per_class").error(
                f"{per_class} x {num_classes} classes = {per_class * num_classes} samples; at least {MIN_SAMPLES:,} "
                f"keep the Frechet distance stable: samples_per_class >= {math.ceil(MIN_SAMPLES / num_classes)}"
            )
        return GenerationSpec(shape, num_classes, root.boolean("conditional", False), per_class)

    def check_data(
        self, spec: GenerationSpec, public: Mapping[str, np.ndarray], hidden: Mapping[str, np.ndarray], where: Where
    ) -> None:
        for name, part in (("x_train", public), ("y_train", public), ("x_test", hidden), ("y_test", hidden)):
            if name not in part:
                where_now = "public" if part is public else "hidden"
                raise where.error(
                    f"the data set has no {where_now} {name}; a generation data set provides public x_train, y_train "
                    "and hidden x_test, y_test (held-out real images)"
                )
        if "x_test" in public:
            raise where.error("the held-out images x_test must be hidden: a run that reads them could return them")
        arrays = {**public, **hidden}
        for x, y in (("x_train", "y_train"), ("x_test", "y_test")):
            _check_images(spec, x, arrays[x], where)
            _check_labels(spec, y, arrays[y], len(arrays[x]), where)
        if len(hidden["x_test"]) < MIN_HELD_OUT:
            raise where.error(
                f"x_test holds {len(hidden['x_test'])} held-out images; the Frechet distance needs at least {MIN_HELD_OUT}"
            )

    def job(self, spec: GenerationSpec, public: Mapping[str, np.ndarray]) -> dict[str, Any]:
        return {
            "input_shape": list(spec.input_shape),
            "num_classes": spec.num_classes,
            "conditional": spec.conditional,
            "labels": sample_labels(spec).tolist(),
        }

    def outputs(self, spec: GenerationSpec) -> tuple[str, ...]:
        return ("samples",)

    def score(
        self, spec: GenerationSpec, outputs: Mapping[str, np.ndarray], data: Mapping[str, np.ndarray], aids: Aids
    ) -> dict[str, Any]:
        labels = sample_labels(spec)
        samples = checked_samples(outputs["samples"], spec)
        x_train, x_test = data["x_train"], data["x_test"]
        threshold = copy_threshold(x_test, x_train)
        copies = nearness_ratios(samples, x_train) <= threshold
        judge = aids.judge
        features, probabilities = judge.features(samples), judge.probabilities(samples)
        judged = probabilities.argmax(axis=1)
        kept = ~copies
        measurable = kept.sum() >= MIN_SCORED_SHARE * len(samples)  # enough samples that are not copies
        distance = frechet_distance(features[kept], judge.features(x_test)) if measurable else None
        confidence = probabilities[kept].max(axis=1).mean() if measurable else None
        return {
            "frechet_distance": None if distance is None else _rounded(distance),
            "copy_rate": _rounded(copies.mean()),
            "coverage": _rounded(coverage(judged[kept], spec.num_classes)),
            "label_agreement": _rounded(np.mean(kept & (judged == labels))),
            "confidence": None if confidence is None else _rounded(confidence),
            "conditional": spec.conditional,
            "scored_samples": int(kept.sum()),
            "copy_threshold": _rounded(threshold),
            "per_label": _per_label(labels, judged, copies, spec.num_classes),
            "grid": _grid(samples, labels, judged, copies, spec.num_classes),
        }

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        """A few samples per label drawn in characters, then what the judge read for each label."""
        grid, per_label = metrics.get("grid"), metrics.get("per_label")
        if not isinstance(grid, dict) or not isinstance(per_label, list):
            return []
        lines = ["", "samples (one column per label; the judge's reading under each):"]
        lines += ascii_grid(grid, rows=2)
        lines += ["", "what the judge reads:"] + [f"  {verdict(entry)}" for entry in per_label]
        return lines


def checked_samples(samples: np.ndarray, spec: GenerationSpec) -> np.ndarray:
    """The samples as float64 (n, H, W, C) in [0, 1]; BadOutput says what is wrong with any other array."""
    expected = (spec.sample_count, *spec.input_shape)
    if samples.shape != expected:
        raise BadOutput(_shape_message(samples.shape, spec), f"samples shape {samples.shape}, expected {expected}")
    if samples.dtype.kind != "f":
        raise BadOutput(
            f"sample returned {samples.dtype} values; return floating-point pixel values in [0, 1]"
            + (" (divide 0-255 images by 255)" if samples.dtype.kind in "iu" else ""),
            f"samples dtype {samples.dtype}",
        )
    values = samples.astype(np.float64)
    bad = ~np.isfinite(values).reshape(len(values), -1).all(axis=1)
    if bad.any():
        raise BadOutput(
            f"{bad.sum()} of your {len(values)} samples hold NaN or infinite pixel values (the first is sample "
            f"{np.flatnonzero(bad)[0]}); check your model's output layer and training loss",
            f"non-finite samples: {bad.sum()}",
        )
    low, high = values.min(), values.max()
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise BadOutput(_range_message(low, high), f"samples range {low:g} to {high:g}")
    return np.clip(values, 0.0, 1.0)


def _shape_message(shape: tuple[int, ...], spec: GenerationSpec) -> str:
    height, width, channels = spec.input_shape
    n = spec.sample_count
    layouts = f"({n}, {height}, {width}, {channels}) from a Keras model, ({n}, {channels}, {height}, {width}) from a PyTorch or Lightning model"
    if len(shape) >= 1 and shape[0] != n:
        return f"sample returned {shape[0]} images for {n} labels; return one image per label, in the labels' order: shape {layouts}"
    return f"sample returned an array of shape {_shape_text(shape)}; expected one image per label: {layouts}"


def _range_message(low: float, high: float) -> str:
    found = f"sample returned pixel values from {low:.3g} to {high:.3g}"
    if low >= -1 - RANGE_TOLERANCE and high <= 1 + RANGE_TOLERANCE:
        return (
            f"{found}: values in [-1, 1], as a tanh output gives; rescale them to [0, 1] with (x + 1) / 2 "
            "before returning them"
        )
    if low >= -RANGE_TOLERANCE and high <= 255 + RANGE_TOLERANCE:
        return f"{found}; pixel values must lie in [0, 1]: divide 0-255 values by 255 (a sigmoid output is in [0, 1])"
    return f"{found}; pixel values must lie in [0, 1] (a sigmoid output is in [0, 1])"


def nearness_ratios(images: np.ndarray, references: np.ndarray) -> np.ndarray:
    """For each image, its pixel distance to the nearest reference image over that to the second nearest.

    A near-copy is one training image slightly changed: its nearest training image
    is much nearer than any other (ratio near 0). A new digit, real or generated
    (even a blurry one), sits among several similar training digits (ratio near
    1). Measured on the digits, with the threshold at the 5th percentile of real
    held-out digits' ratios: about 1% of the reference VAEs' samples fall below
    it, and 92% of training digits with pixel noise (standard deviation 0.1)
    added. A threshold on the plain distance, at the same percentile, flagged
    13-19% of the VAE samples: blurry digits are near many training digits.
    """
    a = images.reshape(len(images), -1).astype(np.float64)
    b = references.reshape(len(references), -1).astype(np.float64)
    squared = np.maximum((a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T, 0.0)
    nearest = np.sqrt(np.partition(squared, 1, axis=1)[:, :2])
    return nearest[:, 0] / np.maximum(nearest[:, 1], 1e-12)  # an exact copy: 0, even of a duplicated image


def copy_threshold(x_test: np.ndarray, x_train: np.ndarray) -> float:
    """The nearness ratio at or below which a sample is a near-copy: only 5% of real held-out digits come as low."""
    return float(np.percentile(nearness_ratios(x_test, x_train), COPY_PERCENTILE))


def frechet_distance(features: np.ndarray, real: np.ndarray) -> float:
    """The Frechet distance between Gaussians fitted to two sets of features (as FID, on the judge's features).

    Both sets are first standardised by the real features' mean and spread: each
    feature then counts alike, and the distance no longer depends on the scale
    the judge's training happened to give its features (measured over three
    judges, four reference models spread by 12-26% instead of 17-52%).
    """
    from scipy import linalg  # slow import: only to score

    centre, spread = real.mean(axis=0), np.maximum(real.std(axis=0), 1e-12)
    features, real = (features - centre) / spread, (real - centre) / spread
    mean_a, mean_b = features.mean(axis=0), real.mean(axis=0)
    cov_a, cov_b = np.cov(features, rowvar=False), np.cov(real, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():  # a singular product (samples that barely vary): nudge both, as FID code does
        nudge = np.eye(len(cov_a)) * 1e-6
        root = linalg.sqrtm((cov_a + nudge) @ (cov_b + nudge))
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(root.real)
    return max(float(distance), 0.0)


def coverage(judged: np.ndarray, num_classes: int) -> float:
    """The entropy of the judged classes' histogram, over its maximum: 1 = every class equally often, 0 = one class."""
    if len(judged) == 0:
        return 0.0
    shares = np.bincount(judged, minlength=num_classes) / len(judged)
    shares = shares[shares > 0]
    return float(-(shares * np.log(shares)).sum() / np.log(num_classes)) + 0.0  # + 0.0: never -0.0


def _per_label(labels: np.ndarray, judged: np.ndarray, copies: np.ndarray, num_classes: int) -> list[dict[str, Any]]:
    """For each label asked for: how many samples, what the judge read most, how many it read as the label, copies."""
    entries = []
    for label in range(num_classes):
        chosen = labels == label
        counts = np.bincount(judged[chosen & ~copies], minlength=num_classes)
        entries.append(
            {
                "label": label,
                "samples": int(chosen.sum()),
                "agreeing": int(counts[label]),
                "read_as": int(counts.argmax()) if counts.any() else None,
                "read_as_count": int(counts.max()),
                "copies": int((chosen & copies).sum()),
            }
        )
    return entries


def _grid(
    samples: np.ndarray, labels: np.ndarray, judged: np.ndarray, copies: np.ndarray, num_classes: int
) -> dict[str, Any]:
    """The first GRID_COLUMNS samples of each label as 0-255 grey levels, with the judge's reading of each."""
    rows = [np.flatnonzero(labels == label)[:GRID_COLUMNS] for label in range(num_classes)]
    return {
        "labels": list(range(num_classes)),
        "images": [[_grey(samples[i]) for i in row] for row in rows],
        "judged": [[int(judged[i]) for i in row] for row in rows],
        "copies": [[bool(copies[i]) for i in row] for row in rows],
    }


def _grey(image: np.ndarray) -> list[list[int]]:
    """One image as rows of 0-255 grey levels (the channels averaged)."""
    return np.rint(image.mean(axis=-1) * 255).astype(int).tolist()


SHADES = " .:-=+*#%@"  # dark to light: one character per pixel in the text report


def ascii_grid(grid: Mapping[str, Any], rows: int) -> list[str]:
    """The first `rows` samples of each label side by side, one character per pixel, the judge's reading below."""
    images, judged, copies = grid.get("images") or [], grid.get("judged") or [], grid.get("copies") or []
    lines = ["  ".join(f"label {label}".ljust(_width(images)) for label in grid.get("labels") or [])]
    for row in range(rows):
        columns = [
            (column[row], judged[i][row], copies[i][row]) for i, column in enumerate(images) if len(column) > row
        ]
        if not columns:
            break
        for y in range(len(columns[0][0])):
            lines.append("  ".join(_shaded(image[y]) for image, _, _ in columns))
        lines.append(
            "  ".join(("copy" if copied else f"-> {read}").ljust(_width(images)) for _, read, copied in columns)
        )
    return lines


def _width(images: list) -> int:
    return max((len(image[0]) for column in images for image in column[:1]), default=8)


def _shaded(values: list[int]) -> str:
    return "".join(SHADES[min(len(SHADES) - 1, int(value) * len(SHADES) // 256)] for value in values)


def verdict(entry: Mapping[str, Any]) -> str:
    """One label's verdict, e.g. 'label 3: read as 3 in 97 of 100 samples; 2 near-copies of training images'."""
    label, total = entry["label"], entry["samples"]
    text = f"label {label}: read as {label} in {entry['agreeing']} of {total} samples"
    read_as = entry.get("read_as")
    if read_as is not None and read_as != label:
        text += f", most often as {read_as} ({entry['read_as_count']})"
    copies = entry.get("copies")
    if copies:
        text += f"; {copies} near-cop{'y' if copies == 1 else 'ies'} of training images (not counted)"
    return text


def _parse_input_shape(root: Section) -> tuple[int, int, int]:
    value, where = root.get("input_shape"), root.at("input_shape")
    what = "a list of 3 positive integers [height, width, channels], e.g. [8, 8, 1]"
    values = expect_list(value, where, what)
    if len(values) != 3:
        raise where.expected(what, value)
    height, width, channels = (expect_int(size, where.at(index), minimum=1) for index, size in enumerate(values))
    return height, width, channels


def _check_images(spec: GenerationSpec, name: str, x: np.ndarray, where: Where) -> None:
    if x.ndim != 4 or tuple(x.shape[1:]) != spec.input_shape or len(x) == 0:
        raise where.error(
            f"{name} has shape {x.shape}, but the assignment declares (n, {', '.join(map(str, spec.input_shape))}) "
            f"(input_shape {list(spec.input_shape)})"
        )
    if x.dtype != np.float32:
        raise where.error(f"{name} must be float32, not {x.dtype}")
    if x.min() < 0 or x.max() > 1:
        raise where.error(f"{name} must hold pixel values in [0, 1], got {x.min():g} to {x.max():g}")


def _check_labels(spec: GenerationSpec, name: str, y: np.ndarray, n: int, where: Where) -> None:
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise where.error(f"{name} must be {n} integer class ids, got shape {y.shape} dtype {y.dtype}")
    missing = sorted(set(range(spec.num_classes)) - set(np.unique(y).tolist()))
    if missing or y.min() < 0 or y.max() >= spec.num_classes:
        raise where.error(
            f"{name} must hold every class 0..{spec.num_classes - 1} and no other (num_classes {spec.num_classes}); "
            f"it holds {y.min()} to {y.max()}" + (f", without {missing[:5]}" if missing else "")
        )


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ")"


def _rounded(value: float) -> float:
    return round(float(value), _DIGITS)


GENERATION = Generation()
