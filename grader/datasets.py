"""Data sets the assignments train on, prepared once and cached as .npy files.

Each prepared data set is a folder with two parts: `public/` (training inputs,
training labels, test inputs) is what a sandboxed run may read; `hidden/` (test
labels) never enters a sandbox. Only data that ships inside an installed
package or that the project generates is used: nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from grader.core.assignment import DatasetSpec
from grader.core.errors import SpecError
from grader.files import make_readable

PUBLIC_FILES = ("x_train.npy", "y_train.npy", "x_test.npy")
HIDDEN_FILES = ("y_test.npy",)

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test


def _sklearn_digits(spec: DatasetSpec) -> Arrays:
    """scikit-learn's bundled 8x8 digits, scaled to [0, 1], split stratified."""
    from sklearn.datasets import load_digits  # slow import: only when preparing
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=spec.test_fraction, random_state=spec.seed, stratify=y
    )
    return x_train, y_train, x_test, y_test


BUILDERS: dict[str, Callable[[DatasetSpec], Arrays]] = {"sklearn-digits": _sklearn_digits}


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """A prepared data set on disk."""

    public_dir: Path  # bound read-only into the sandbox
    labels_path: Path  # the hidden test labels: trusted side only
    sha256: str  # of every file, public and hidden

    def test_labels(self) -> np.ndarray:
        return np.load(self.labels_path, allow_pickle=False)


def prepare_dataset(spec: DatasetSpec, cache_dir: Path, source: str = "assignment") -> PreparedData:
    """Return the prepared data set, building it on first use."""
    if spec.name not in BUILDERS:
        known = ", ".join(sorted(BUILDERS))
        raise SpecError(source, "dataset.name", f"unknown data set {spec.name!r}; known: {known}")
    key = hashlib.sha256(json.dumps(dataclasses.asdict(spec), sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_dir / "data" / f"{spec.name}-{key}"
    if not (folder / "sha256").is_file():
        _build(spec, folder)
    return PreparedData(folder / "public", folder / "hidden" / HIDDEN_FILES[0], (folder / "sha256").read_text())


def _build(spec: DatasetSpec, folder: Path) -> None:
    """Write the arrays to a temporary folder, then move it into place atomically."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".staging-"))
    try:
        arrays = BUILDERS[spec.name](spec)
        digest = hashlib.sha256()
        for name, array in zip(PUBLIC_FILES + HIDDEN_FILES, arrays, strict=True):
            part = staging / ("hidden" if name in HIDDEN_FILES else "public")
            part.mkdir(exist_ok=True)
            np.save(part / name, array, allow_pickle=False)
            digest.update((part / name).read_bytes())
        (staging / "sha256").write_text(digest.hexdigest())
        make_readable(staging / "public")
        _move_into_place(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(staging: Path, folder: Path) -> None:
    """Rename staging to folder; a complete folder another process made wins."""
    if folder.exists() and not (folder / "sha256").is_file():
        shutil.rmtree(folder)  # left half-built by a crash
    try:
        os.replace(staging, folder)
    except OSError:
        if not (folder / "sha256").is_file():
            raise
