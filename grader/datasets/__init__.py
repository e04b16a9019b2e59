"""Data sets the assignments train on, prepared once and cached as .npy files.

Each prepared data set is a folder with two parts: `public/` (training inputs,
training labels, test inputs, and JSON documents such as a vocabulary) is what
a sandboxed run may read; `hidden/` (test labels) never enters a sandbox. Only
data that ships inside an installed package or that the project generates is
used: nothing is downloaded. Data sets are registered in SOURCES, one module
each (grader/datasets/<module>.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from grader.core.assignment import DatasetSpec
from grader.core.validate import Where, expect_int, expect_number
from grader.datasets import digits, digits_generation, sentiment, sequences, shapes, sklearn_digits, word_chain
from grader.datasets.source import DataParts, DataSource
from grader.files import make_readable

SOURCES: dict[str, DataSource] = {
    module.SOURCE.name: module.SOURCE
    for module in (sklearn_digits, digits, digits_generation, shapes, sentiment, sequences, word_chain)
}
_FORMAT = 2  # bump when the folder layout changes: prepared folders are rebuilt


def resolve_options(spec: DatasetSpec, source: str = "assignment") -> dict[str, Any]:
    """The data set's options with defaults filled in; SpecError names an unknown data set or a bad option."""
    where = Where(source, "dataset")
    if spec.name not in SOURCES:
        raise where.at("name").error(f"unknown data set {spec.name!r}; known: {', '.join(sorted(SOURCES))}")
    declared = SOURCES[spec.name].parameters
    unknown = sorted(set(spec.options) - set(declared))
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none besides name and seed"
        raise where.error(f"unknown option {unknown[0]!r} of data set {spec.name!r}; its options: {allowed}")
    options = {}
    for key, parameter in declared.items():
        value = spec.options.get(key, parameter.default)
        bounds = {"minimum": parameter.minimum, "maximum": parameter.maximum}
        if parameter.integer:
            options[key] = expect_int(value, where.at(key), **bounds)
        else:
            options[key] = expect_number(value, where.at(key), **bounds, above=parameter.above, below=parameter.below)
    return options


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """A prepared data set on disk."""

    public_dir: Path  # bound read-only into the sandbox
    hidden_dir: Path  # trusted side only
    sha256: str  # of every array, public and hidden

    def arrays(self, part: str) -> dict[str, np.ndarray]:
        """Load the arrays of `part` ("public" or "hidden") by name."""
        folder = self.public_dir if part == "public" else self.hidden_dir
        return {path.stem: np.load(path, allow_pickle=False) for path in sorted(folder.glob("*.npy"))}

    def public_names(self) -> list[str]:
        """The names of the public arrays (what the run's job lists)."""
        return sorted(path.stem for path in self.public_dir.glob("*.npy"))

    def test_labels(self) -> np.ndarray:
        return np.load(self.hidden_dir / "y_test.npy", allow_pickle=False)


def prepare_dataset(spec: DatasetSpec, cache_dir: Path, source: str = "assignment") -> PreparedData:
    """Return the prepared data set, building it on first use."""
    options = resolve_options(spec, source)
    identity = {
        "name": spec.name,
        "seed": spec.seed,
        "options": options,
        "format": _FORMAT,
        "code": _code_of(spec.name),
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_dir / "data" / f"{spec.name}-{key}"
    if not (folder / "sha256").is_file():
        _build(SOURCES[spec.name].build(options, spec.seed), folder)
    return PreparedData(folder / "public", folder / "hidden", (folder / "sha256").read_text())


def _code_of(name: str) -> str:
    """A hash of the data set's module: a changed generator makes new data, never reuses stale folders."""
    module = sys.modules[SOURCES[name].build.__module__]
    return hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()[:16]


def hidden_package_data() -> tuple[str, ...]:
    """Every package data file a registered data set is built from: hidden from every run."""
    return tuple(sorted({path for source in SOURCES.values() for path in source.hidden_package_data()}))


def _build(parts: DataParts, folder: Path) -> None:
    """Write the parts to a temporary folder, then move it into place atomically."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".staging-"))
    try:
        digest = hashlib.sha256()
        for part, arrays in (("public", parts.public), ("hidden", parts.hidden)):
            (staging / part).mkdir()
            for name, array in arrays.items():
                np.save(staging / part / f"{name}.npy", array, allow_pickle=False)
                digest.update((staging / part / f"{name}.npy").read_bytes())
        for name, value in parts.documents.items():
            text = json.dumps(value, ensure_ascii=False)
            (staging / "public" / f"{name}.json").write_text(text, encoding="utf-8")
            digest.update(text.encode())
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


def documents(data: PreparedData) -> Mapping[str, Any]:
    """The public JSON documents of a prepared data set (a vocabulary, say)."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(data.public_dir.glob("*.json"))}
