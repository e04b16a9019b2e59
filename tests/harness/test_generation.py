"""The harness turns PyTorch's samples back to (n, H, W, C), and leaves every other answer for the grader to judge."""

from __future__ import annotations

import numpy as np
import torch

from grader.harness.classification import Layout
from grader.harness.generation import channels_last

DIGITS = {"input": "images", "input_shape": [8, 8, 1]}
COLOUR = {"input": "images", "input_shape": [4, 6, 3]}


def test_pytorch_and_lightning_samples_come_back_channels_last():
    samples = torch.arange(5 * 3 * 4 * 6, dtype=torch.float32).reshape(5, 3, 4, 6)
    for framework in ("torch", "lightning"):
        back = channels_last(samples, Layout(COLOUR, framework))
        assert back.shape == (5, 4, 6, 3) and back.flags["C_CONTIGUOUS"]
        assert np.array_equal(back[:, :, :, 1], samples[:, 1].numpy())


def test_keras_samples_are_kept_as_they_are():
    samples = np.zeros((5, 8, 8, 1), np.float32)
    assert channels_last(samples, Layout(DIGITS, "keras")) is samples


def test_pytorch_samples_in_another_shape_are_saved_unchanged_for_the_grader_to_explain():
    flat = np.zeros((5, 64), np.float32)
    assert channels_last(flat, Layout(DIGITS, "torch")).shape == (5, 64)
    assert channels_last("not an array", Layout(DIGITS, "torch")) == "not an array"
