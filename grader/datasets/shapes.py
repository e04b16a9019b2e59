"""Generated 28x28 grey images of six shapes, placed anywhere: the data set of topic 3 (image processing).

Each image shows one shape (circle, square, triangle, cross, star or ring) at a
random position, size and rotation, on a random background intensity, with
Gaussian pixel noise. Because the shape can sit anywhere, a network that looks
at every pixel separately (a dense network) has to learn each shape at every
position, while a convolutional network learns local patterns once and pools
them: the gap between the two is the lesson, and it shows in the test accuracy.

Shapes are rasterised with NumPy alone: every pixel is split into sub-pixels,
each sub-pixel is mapped into the shape's own frame (shifted, rotated, scaled)
and tested against the shape's outline; the pixel's coverage is the share of its
sub-pixels inside, which gives anti-aliased edges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from grader.datasets.source import DataParts, DataSource, Parameter, classification_parts

SIZE = 28  # image height and width, in pixels
CLASSES = ("circle", "square", "triangle", "cross", "star", "ring")
_SUBPIXELS = 3  # per axis: 9 samples per pixel for anti-aliasing
_RADIUS = (7.0, 12.0)  # the shape's outer radius in pixels, drawn uniformly from this range
_MARGIN = 1.0  # pixels kept free between the shape's outer circle and the image border
_CHUNK = 2048  # images rasterised at once, to bound memory

Outline = Callable[[np.ndarray, np.ndarray], np.ndarray]  # shape frame (u, v) -> inside, both within the unit circle


def _circle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u * u + v * v <= 0.8**2


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) <= 0.68  # half side: the square just fits the unit circle


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """An equilateral triangle with its corners on the unit circle."""
    inside = np.ones(u.shape, dtype=bool)
    for angle in (np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3):
        inside &= u * np.cos(angle + np.pi) + v * np.sin(angle + np.pi) <= 0.5  # edge opposite each corner
    return inside


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """A plus sign: two bars of width 0.5 and length 1.7."""
    au, av = np.abs(u), np.abs(v)
    return ((au <= 0.25) & (av <= 0.85)) | ((av <= 0.25) & (au <= 0.85))


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """A filled five-pointed star (pentagram) with its points on the unit circle.

    The five lines of a pentagram each leave the star's points on one side; a
    point is inside the star when at most one of the five lines has it on the
    far side (the inner pentagon: none; a point: exactly one).
    """
    outside = np.zeros(u.shape, dtype=np.int8)
    distance = np.cos(2 * np.pi / 5)  # of each line from the centre, for points on the unit circle
    for k in range(5):
        angle = np.pi / 2 + np.pi + 2 * np.pi * k / 5  # each line faces away from one point
        outside += u * np.cos(angle) + v * np.sin(angle) > distance
    return outside <= 1


def _ring(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    squared = u * u + v * v
    return (squared <= 0.9**2) & (squared >= 0.55**2)


OUTLINES: tuple[Outline, ...] = (_circle, _square, _triangle, _cross, _star, _ring)


def render(labels: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Draw one image per label: float32 (n, 28, 28, 1) in [0, 1]."""
    n = len(labels)
    radius = rng.uniform(*_RADIUS, size=n)
    low, high = radius + _MARGIN - 0.5, SIZE - 0.5 - radius - _MARGIN  # pixel centres run 0..27
    centre_x, centre_y = rng.uniform(low, high), rng.uniform(low, high)
    rotation = rng.uniform(0, 2 * np.pi, size=n)
    background = rng.uniform(0.0, 0.35, size=n)
    foreground = background + rng.uniform(0.35, 0.65, size=n)
    coverage = np.empty((n, SIZE, SIZE), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        part = slice(start, start + _CHUNK)
        coverage[part] = _coverage(labels[part], centre_x[part], centre_y[part], rotation[part], radius[part])
    images = background[:, None, None] + (foreground - background)[:, None, None] * coverage
    images += rng.normal(0.0, noise, size=images.shape)
    return np.clip(images, 0.0, 1.0).astype(np.float32)[..., None]


def _coverage(
    labels: np.ndarray, centre_x: np.ndarray, centre_y: np.ndarray, rotation: np.ndarray, radius: np.ndarray
) -> np.ndarray:
    """Return the share of each pixel the shape covers, shape (n, 28, 28)."""
    offsets = (np.arange(_SUBPIXELS) + 0.5) / _SUBPIXELS - 0.5
    fine = (np.arange(SIZE)[:, None] + offsets[None, :]).reshape(-1).astype(np.float32)  # sub-pixel centres
    dy = fine[None, :, None] - centre_y.astype(np.float32)[:, None, None]  # (n, rows, 1)
    dx = fine[None, None, :] - centre_x.astype(np.float32)[:, None, None]  # (n, 1, columns)
    cos = np.cos(rotation).astype(np.float32)[:, None, None]
    sin = np.sin(rotation).astype(np.float32)[:, None, None]
    scale = (1.0 / radius).astype(np.float32)[:, None, None]
    u = (dx * cos + dy * sin) * scale  # the shape's frame: rotated, unit outer radius
    v = (dy * cos - dx * sin) * scale
    inside = np.zeros(u.shape, dtype=bool)
    for label, outline in enumerate(OUTLINES):
        chosen = labels == label
        if chosen.any():
            inside[chosen] = outline(u[chosen], v[chosen])
    blocks = inside.reshape(len(labels), SIZE, _SUBPIXELS, SIZE, _SUBPIXELS)
    return blocks.mean(axis=(2, 4), dtype=np.float32)


def _balanced_labels(count: int, rng: np.random.Generator) -> np.ndarray:
    """Return count labels, the classes as equal as possible, in random order."""
    return rng.permutation(np.arange(count) % len(CLASSES)).astype(np.int64)


def build(options: Mapping[str, Any], seed: int) -> DataParts:
    """Generate the training and test images from the seed (training order shuffled)."""
    rng = np.random.default_rng(seed)
    noise = float(options["noise"])
    y_train = _balanced_labels(int(options["train_size"]), rng)
    y_test = _balanced_labels(int(options["test_size"]), rng)
    x_train = render(y_train, rng, noise)
    x_test = render(y_test, rng, noise)
    return classification_parts(x_train, y_train, x_test, y_test, classes=list(CLASSES))


SOURCE = DataSource(
    name="shapes",
    build=build,
    parameters={
        "train_size": Parameter(10_000, minimum=12, maximum=100_000, integer=True, help="training images"),
        "test_size": Parameter(2000, minimum=12, maximum=100_000, integer=True, help="test images"),
        "noise": Parameter(0.1, minimum=0.0, maximum=0.5, help="standard deviation of the Gaussian pixel noise"),
    },
    description=(
        "28x28 grey images (NHWC, one channel) of six shapes (circle, square, triangle, cross, star, ring) at a random "
        "position, size and rotation, with a random background and Gaussian noise; generated from the seed"
    ),
)
