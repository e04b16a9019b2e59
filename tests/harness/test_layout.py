"""The harness hands images in each framework's layout, and explains layout and vocabulary mistakes."""

from __future__ import annotations

import numpy as np

from grader.harness.classification import Layout

IMAGES = {"input": "images", "input_shape": [28, 28, 1], "vocab_size": None}
TOKENS = {"input": "tokens", "input_shape": [40], "vocab_size": 500}


def test_pytorch_and_lightning_get_channels_first_keras_channels_last():
    x = np.arange(2 * 28 * 28, dtype=np.float32).reshape(2, 28, 28, 1)
    assert Layout(IMAGES, "torch").convert(x).shape == (2, 1, 28, 28)
    assert Layout(IMAGES, "lightning").convert(x).flags["C_CONTIGUOUS"]
    assert np.array_equal(Layout(IMAGES, "torch").convert(x)[:, 0], x[..., 0])
    assert Layout(IMAGES, "keras").convert(x) is x


def test_a_shape_error_names_the_shape_received_and_the_one_expected():
    hint = Layout(IMAGES, "torch").hint(
        "RuntimeError: Given groups=1, expected input[2, 28, 28, 1] to have 1 channels", (2, 1, 28, 28)
    )
    assert hint == (
        "Your model was given images of shape (2, 1, 28, 28): PyTorch models get (n, channels, height, width) = "
        "(n, 1, 28, 28) (the assignment's input_shape (28, 28, 1) is (height, width, channels))"
    )
    keras = Layout(IMAGES, "keras").hint("ValueError: Input 0 is incompatible with the layer", (5, 28, 28, 1))
    assert "Keras models get (n, height, width, channels) = (n, 28, 28, 1)" in keras


def test_a_vocabulary_error_names_the_ids_handed_over():
    hint = Layout(TOKENS, "torch").hint("IndexError: index out of range in self", (100, 40))
    assert hint.startswith("Your model was given token ids from 0 to 499 (vocab_size 500, 0 = padding)")
    assert "an embedding needs vocab_size = 500 rows" in hint


def test_other_errors_get_no_hint():
    assert Layout(IMAGES, "torch").hint("ZeroDivisionError: division by zero", (2, 1, 28, 28)) == ""
    assert Layout({"input": "features", "input_shape": [64]}, "torch").hint("shape mismatch", (2, 64)) == ""
