"""Which warm pool a submission goes to, read from its imports without running it."""

from __future__ import annotations

import pytest

from grader.core.imports import imported_modules, pool_for


@pytest.mark.parametrize(
    ("source", "pool"),
    [
        ("import torch\nfrom torch import nn\n", "torch"),
        ("import torchvision.transforms as T\n", "torch"),
        ("from tensorflow import keras\n", "keras"),
        ("import keras\nfrom keras import layers\n", "keras"),
        ("import lightning as L\nimport torch\n", "lightning"),
        ("import pytorch_lightning as pl\n", "lightning"),
        ("import numpy as np\nfrom sklearn.linear_model import LogisticRegression\n", "none"),
        (
            "def build_model():\n    import torch\n    return torch.nn.Linear(64, 10)\n",
            "torch",
        ),  # inside a function too
        ("import torch\nimport keras\n", None),  # two frameworks: no pool fits
        ("def broken(:\n", None),  # unreadable: cold
    ],
)
def test_the_pool_follows_the_imports(tmp_path, source, pool):
    (tmp_path / "submission.py").write_text(source)
    assert pool_for(tmp_path) == pool


def test_every_file_of_a_package_counts(tmp_path):
    (tmp_path / "submission.py").write_text("from model import Net\n")
    (tmp_path / "model.py").write_text("import keras\n")
    assert pool_for(tmp_path) == "keras"


def test_relative_imports_are_the_submissions_own():
    assert imported_modules("from . import torch\nfrom .keras import x\nimport os.path\n") == {"os"}
