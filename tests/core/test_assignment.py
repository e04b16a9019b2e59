"""Assignment files: the full example, defaults, and every kind of mistake."""

import copy

import pytest
import yaml

from grader.core.assignment import TOPICS, parse_assignment
from grader.core.errors import SpecError
from grader.core.kinds.classification import CLASSIFICATION, ClassificationSpec
from grader.core.limits import Limits

SOURCE = "assignments/digits-mlp/assignment.yaml"
EXAMPLE = yaml.safe_load(
    """
title: "Digits: a first classifier"
topic: 1
task: classification
dataset:
  name: sklearn-digits
  test_fraction: 0.25
  seed: 20250213
input_shape: [64]
num_classes: 10
frameworks: [keras, torch, lightning]
training:
  epochs: 30
  batch_size: 32
  learning_rate: 0.001
  seed: 1234
limits:
  wall_seconds: 300
  cpu_seconds: 600
  memory_mb: 4096
  max_processes: 256
  output_kb: 128
  disk_mb: 512
"""
)


def with_changes(yaml_text: str, drop: tuple[str, ...] = ()) -> dict:
    """Return the example with keys dropped and a YAML fragment merged in (one level deep)."""
    data = copy.deepcopy(EXAMPLE)
    for key in drop:
        del data[key]
    for key, value in (yaml.safe_load(yaml_text) or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    return data


def error(data: object) -> str:
    with pytest.raises(SpecError) as caught:
        parse_assignment(data, SOURCE, "digits-mlp")
    return str(caught.value)


def test_full_example_parses():
    spec = parse_assignment(EXAMPLE, SOURCE, "digits-mlp")
    assert (spec.slug, spec.title, spec.topic, spec.task) == (
        "digits-mlp",
        "Digits: a first classifier",
        1,
        "classification",
    )
    assert (spec.dataset.name, spec.dataset.options, spec.dataset.seed) == (
        "sklearn-digits",
        {"test_fraction": 0.25},
        20250213,
    )
    assert spec.task_spec == ClassificationSpec("features", (64,), 10)
    assert spec.kind is CLASSIFICATION
    assert spec.frameworks == ("keras", "torch", "lightning")
    assert (spec.training.epochs, spec.training.batch_size, spec.training.learning_rate, spec.training.seed) == (
        30,
        32,
        0.001,
        1234,
    )
    assert spec.limits == Limits(
        wall_seconds=300.0,
        cpu_seconds=600.0,
        memory_bytes=4096 * 1024**2,
        max_processes=256,
        output_bytes=128 * 1024,
        disk_bytes=512 * 1024**2,
    )


def test_training_and_limits_default_when_absent():
    spec = parse_assignment(with_changes("", drop=("training", "limits")), SOURCE, "digits-mlp")
    assert (spec.training.epochs, spec.training.batch_size, spec.training.learning_rate, spec.training.seed) == (
        20,
        32,
        0.001,
        0,
    )
    assert spec.limits == Limits()


def test_partial_limits_keep_other_defaults():
    data = with_changes("", drop=("limits",))
    data["limits"] = {"memory_mb": 1024}
    limits = parse_assignment(data, SOURCE, "digits-mlp").limits
    assert limits.memory_bytes == 1024**3
    assert limits.wall_seconds == Limits().wall_seconds


def test_single_int_input_shape_and_image_shapes():
    assert parse_assignment(with_changes("input_shape: 64"), SOURCE, "digits-mlp").task_spec.input_shape == (64,)
    images = parse_assignment(with_changes("{input: images, input_shape: [28, 28, 1]}"), SOURCE, "digits-mlp")
    assert images.task_spec == ClassificationSpec("images", (28, 28, 1), 10)
    assert images.task_spec.build_input == [28, 28, 1]


def test_token_inputs_declare_their_vocabulary():
    tokens = parse_assignment(
        with_changes("{input: tokens, input_shape: [40], vocab_size: 500, num_classes: 2}"), SOURCE, "digits-mlp"
    )
    assert tokens.task_spec == ClassificationSpec("tokens", (40,), 2, vocab_size=500)
    assert tokens.task_spec.build_input == 500


def test_measure_generalization_is_a_yes_or_no():
    spec = parse_assignment(with_changes("measure_generalization: true"), SOURCE, "digits-mlp").task_spec
    assert spec.measure_generalization is True
    assert CLASSIFICATION.outputs(spec) == ("predictions", "train_predictions")


def test_topics_cover_the_curriculum():
    assert TOPICS[1] == "intro and basic models" and TOPICS[7] == "reinforcement learning" and len(TOPICS) == 7


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("limits: {memory_mb: lots}", 'limits.memory_mb: expected a positive integer, got "lots"'),
        ("limits: {wall_seconds: 0}", "limits.wall_seconds: expected a number > 0, got 0"),
        (
            "limits: {memory: 4096}",
            'limits: unknown key "memory" (did you mean "memory_mb"?); allowed keys: cpu_seconds, disk_mb,',
        ),
        (
            "titel: Digits",
            'unknown key "titel" (did you mean "title"?); allowed keys for a classification assignment: dataset, frameworks, input,',
        ),
        ("title: '  '", "title: expected a non-empty text, got"),
        ("topic: 8", "topic: expected a curriculum topic from 1 to 7 (1 intro and basic models,"),
        ("topic: yes", "topic: expected a curriculum topic from 1 to 7 (1 intro and basic models, 2 training"),
        ("task: regression", 'task: expected one of classification, language_model, generation, rl, got "regression"'),
        (
            "dataset: {name: Sklearn Digits}",
            'dataset.name: expected a name made of lowercase letters and digits, words joined by - or _ (like digits-mlp), got "Sklearn Digits"',
        ),
        ("dataset: {seed: -1}", "dataset.seed: expected an integer from 0 to 4294967295, got -1"),
        ("dataset: {shuffle: [1]}", "dataset.shuffle: expected a number, text or true/false, got a list"),
        ("dataset: sklearn-digits", 'dataset: expected a mapping (key: value lines), got "sklearn-digits"'),
        (
            "input_shape: []",
            "input_shape: expected for features inputs, a list of 1 positive integer: [d], e.g. [64], got a list",
        ),
        (
            "{input: images, input_shape: [28, 28]}",
            "input_shape: expected for images inputs, a list of 3 positive integers: [height, width, channels], e.g. [28, 28, 1], got a list",
        ),
        ("input: audio", 'input: expected one of features, images, tokens, got "audio"'),
        (
            "{input: tokens, input_shape: [40]}",
            "vocab_size: missing; expected an integer >= 2 (token ids 0..vocab_size-1",
        ),
        ("vocab_size: 100", 'vocab_size: only token inputs have a vocabulary; remove it or set "input: tokens"'),
        ("measure_generalization: 1", "measure_generalization: expected true or false, got 1"),
        ("{input: images, input_shape: [28, -1, 1]}", "input_shape[1]: expected a positive integer, got -1"),
        (
            "input_shape: '64'",
            'input_shape: expected for features inputs, a list of 1 positive integer: [d], e.g. [64], got "64"',
        ),
        ("num_classes: 1", "num_classes: expected an integer >= 2, got 1"),
        ("num_classes: 10.0", "num_classes: expected an integer >= 2, got 10.0"),
        ("frameworks: []", "frameworks: expected a non-empty list drawn from keras, torch, lightning, got a list"),
        ("frameworks: keras", 'frameworks: expected a non-empty list drawn from keras, torch, lightning, got "keras"'),
        ("frameworks: [keras, tensorflow]", 'frameworks[1]: expected one of keras, torch, lightning, got "tensorflow"'),
        ("frameworks: [torch, torch]", 'frameworks[1]: "torch" is listed twice'),
        ("training: {epochs: 0}", "training.epochs: expected a positive integer, got 0"),
        ("training: {batch_size: yes}", "training.batch_size: expected a positive integer, got true (a yes/no value)"),
        ("training: {learning_rate: 1e-3}", 'training.learning_rate: expected a number > 0, got "1e-3"'),
        (
            "training: {epoch: 5}",
            'training: unknown key "epoch" (did you mean "epochs"?); allowed keys: batch_size, epochs, learning_rate, seed',
        ),
    ],
)
def test_mistakes_name_the_file_the_field_and_the_expectation(change, expected):
    assert error(with_changes(change)).startswith(f"{SOURCE}: {expected}")


@pytest.mark.parametrize("key", ["title", "topic", "task", "dataset", "input_shape", "num_classes", "frameworks"])
def test_required_keys_are_reported_missing(key):
    assert error(with_changes("", drop=(key,))).startswith(f"{SOURCE}: {key}: missing; expected ")


@pytest.mark.parametrize(("data", "got"), [(None, "nothing"), ([1, 2], "a list"), ("title: x", '"title: x"')])
def test_a_file_that_is_not_a_mapping(data, got):
    assert error(data) == f"{SOURCE}: expected a mapping (key: value lines), got {got}"


def test_error_keeps_source_and_field_apart():
    with pytest.raises(SpecError) as caught:
        parse_assignment(with_changes("limits: {memory_mb: lots}"), SOURCE, "digits-mlp")
    assert (caught.value.source, caught.value.field) == (SOURCE, "limits.memory_mb")


def test_the_slug_must_be_a_slug():
    with pytest.raises(SpecError, match="the assignment name 'Digits MLP' must be made of"):
        parse_assignment(EXAMPLE, SOURCE, "Digits MLP")
