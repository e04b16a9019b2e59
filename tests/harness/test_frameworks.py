"""The harness's own conversions make no warning appear in a student's log."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from grader.harness.frameworks import to_numpy


def test_a_list_of_tensors_that_need_grad_converts_without_a_warning():
    scores = [torch.tensor([0.1, 0.9], requires_grad=True) * 2, torch.tensor([0.7, 0.3], requires_grad=True) * 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        array = to_numpy(scores)
    assert array.shape == (2, 2) and np.allclose(array, [[0.2, 1.8], [1.4, 0.6]])


def test_a_tensor_a_number_and_nested_lists_convert():
    assert to_numpy(torch.ones(3, requires_grad=True) * 1).tolist() == [1.0, 1.0, 1.0]
    assert to_numpy([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert to_numpy(5).tolist() == 5


def test_reporting_a_loss_that_still_needs_grad_makes_no_warning():
    from grader.harness import progress

    loss = torch.tensor(0.5, requires_grad=True) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert progress._number(loss) == 1.0
