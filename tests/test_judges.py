"""The judge of generated images: trained deterministically, cached by what it depends on, reading digits well."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from grader.core.assignment import DatasetSpec
from grader.datasets import prepare_dataset
from grader.judges import FEATURES, judge_key, load_judge

DIGITS = DatasetSpec("digits-generation", 20250213, {})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The digits data set and its judge for seed 7, trained in a cache of its own."""
    cache = tmp_path_factory.mktemp("judges")
    dataset = prepare_dataset(DIGITS, cache)
    return dataset, cache, load_judge(dataset, cache, seed=7)


def weights(judge) -> dict[str, torch.Tensor]:
    return judge.net.state_dict()


def test_training_the_same_judge_again_gives_the_same_weights_and_leaves_the_process_alone(trained, tmp_path):
    dataset, _, judge = trained
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    again = load_judge(dataset, tmp_path, seed=7)  # an empty cache: trained anew
    assert all(torch.equal(weights(judge)[name], tensor) for name, tensor in weights(again).items())
    assert torch.equal(torch.get_rng_state(), state) and torch.get_num_threads() == threads


def test_a_cached_judge_is_loaded_not_trained_again(trained):
    dataset, cache, _ = trained
    about = cache / "judges" / judge_key(dataset, 7) / "judge.json"
    stored = json.loads(about.read_text())
    about.write_text(json.dumps({**stored, "training_seconds": -1}))  # a mark only the stored file carries
    try:
        assert load_judge(dataset, cache, seed=7).about["training_seconds"] == -1
    finally:
        about.write_text(json.dumps(stored))


def test_another_seed_trains_another_judge_beside_the_first(trained):
    dataset, cache, judge = trained
    other = load_judge(dataset, cache, seed=8)
    assert judge_key(dataset, 8) != judge_key(dataset, 7)
    assert {path.name for path in (cache / "judges").iterdir()} >= {judge_key(dataset, 7), judge_key(dataset, 8)}
    assert not torch.equal(weights(judge)["head.1.weight"], weights(other)["head.1.weight"])


def test_other_data_means_another_judge(trained):
    dataset, _, _ = trained
    assert judge_key(dataset, 7) != judge_key(dataset_with_sha(dataset, "0" * 64), 7)


def dataset_with_sha(dataset, sha256):
    return dataclasses.replace(dataset, sha256=sha256)


def test_the_judge_reads_held_out_digits_it_never_trained_on(trained):
    dataset, _, judge = trained
    hidden = dataset.arrays("hidden")
    assert judge.about["held_out_accuracy"] > 0.95
    probabilities = judge.probabilities(hidden["x_test"])
    assert probabilities.dtype == np.float64 and np.allclose(probabilities.sum(axis=1), 1.0)
    assert np.mean(probabilities.argmax(axis=1) == hidden["y_test"]) == pytest.approx(judge.about["held_out_accuracy"])
    assert judge.features(hidden["x_test"][:5]).shape == (5, FEATURES)
