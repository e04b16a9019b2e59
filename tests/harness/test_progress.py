"""The progress call students' own loops make: each epoch recorded and published, bad values dropped."""

from __future__ import annotations

import numpy as np
import pytest

from grader.harness import progress


@pytest.fixture
def published(monkeypatch):
    states = []
    monkeypatch.setattr(progress, "curve", [])
    progress.connect(states.append)
    yield states
    progress.connect(lambda state: None)


def test_each_epoch_is_recorded_with_its_values(published):
    progress.report_epoch(1, loss=np.float32(0.5), epochs=3, val_loss=0.7)
    progress.report_epoch(2, loss=float("nan"), epochs=3, accuracy="high")
    assert progress.curve == [{"epoch": 1, "loss": 0.5, "val_loss": pytest.approx(0.7)}, {"epoch": 2}]
    assert published[-1] == {"phase": "train", "epoch": 2, "epochs": 3, "loss": None}
