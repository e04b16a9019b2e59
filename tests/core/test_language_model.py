"""The language_model kind: reading scores, the metrics, the baselines, the checks, and the word-chain data set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.core.errors import BadOutput, SpecError
from grader.core.kinds import Aids, kind_named
from grader.core.kinds.language_model import LANGUAGE_MODEL, LanguageModelSpec
from grader.core.next_tokens import LOG_PROBABILITIES, LOGITS, PROBABILITIES, baselines, measure, read_scores
from grader.core.validate import Section, Where
from grader.datasets import word_chain

WHERE = Where("assignments/x/assignment.yaml", "dataset")
SPEC = LanguageModelSpec(vocab_size=3, context_length=2)
VOCABULARY = ["a", "b", "c"]


def small_data():
    """Training text 'aabbcabc', and three contexts whose next tokens are 'a', 'c', 'c'."""
    public = {
        "tokens": np.array([0, 0, 1, 1, 2, 0, 1, 2], dtype=np.int64),
        "contexts": np.array([[2, 0], [1, 1], [0, 1]], dtype=np.int64),
    }
    return public, {"next_tokens": np.array([0, 2, 2], dtype=np.int64)}


# Reading scores


def test_rows_summing_to_one_are_probabilities_and_divided_by_their_sums():
    scores = np.array([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7004]], dtype=np.float32)
    read = read_scores(scores, 2, 3, 2)
    assert read.form == PROBABILITIES
    assert np.allclose(np.exp(read.log_probabilities).sum(axis=1), 1.0, atol=1e-12)
    assert read.log_probabilities[0, 0] == pytest.approx(math.log(0.5))


def test_non_positive_rows_whose_exponentials_sum_to_one_are_log_probabilities():
    log_p = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7]]))
    read = read_scores(log_p.astype(np.float32), 2, 3, 2)
    assert read.form == LOG_PROBABILITIES
    assert np.allclose(read.log_probabilities, log_p, atol=1e-6)


def test_anything_else_is_logits_normalised_with_a_log_softmax():
    logits = np.array([[2.0, 0.0, -1.0], [10.0, 10.0, 10.0]])
    read = read_scores(logits, 2, 3, 2)
    assert read.form == LOGITS
    expected = logits[0] - math.log(np.exp(logits[0]).sum())
    assert np.allclose(read.log_probabilities[0], expected)
    assert np.allclose(read.log_probabilities[1], -math.log(3))


def test_equal_scores_are_uniform_even_when_they_lie_between_zero_and_one():
    read = read_scores(np.zeros((2, 3), dtype=np.float32), 2, 3, 2)
    assert np.allclose(read.log_probabilities, -math.log(3))
    assert measure(read.log_probabilities, np.array([0, 2]))["perplexity"] == 3.0


BAD_SCORES = [
    (np.array([[0.5, np.nan, 0.5], [0.2, 0.3, np.inf]]), "Your scores contain 1 NaN and 1 infinite values (the first in row 0)"),
    (np.zeros((2, 4)), "Each row of scores must have 3 values, one per token of the vocabulary (vocab_size 3), but yours have 4"),
    (np.zeros((3, 3)), "Expected 2 rows of scores, one per context, got 3"),
    (np.array([0, 2]), "Your scores have shape (2,), but this assignment expects shape (2, 3): 2 contexts, 3 tokens"),
    (np.zeros((2, 2, 3)), "Your scores have shape (2, 2, 3): scores for every position of every context"),
    (np.zeros((4, 3)), "Your scores have shape (4, 3): scores for every position of every context"),
    (np.array([[1.5, -0.5, 0.0], [0.2, 0.3, 0.5]]), "Your scores read as probabilities (every row sums to one), but 1 are negative (the first in row 0)"),
    (np.array([[0.9, 0.8, 0.1], [0.2, 0.3, 0.5]]), "Your scores are all between 0 and 1, so they read as probabilities, but their rows do not sum to one (row 0 sums to 1.8)"),
    (np.array([[1 + 2j, 0, 0], [0, 0, 0]]), "Your scores are not plain numbers (their type is complex128)"),
]  # fmt: skip


@pytest.mark.parametrize(("scores", "message"), BAD_SCORES, ids=lambda value: str(value)[:40])
def test_scores_that_cannot_be_read_are_bad_output_that_names_the_problem(scores, message):
    with pytest.raises(BadOutput) as caught:
        read_scores(scores, 2, 3, 2)
    assert caught.value.student_message.startswith(message)


def test_rows_that_do_not_sum_to_one_say_what_to_do():
    with pytest.raises(BadOutput) as caught:
        read_scores(np.array([[0.9, 0.8, 0.1], [0.2, 0.3, 0.5]]), 2, 3, 2)
    assert "Apply a softmax to each row" in caught.value.student_message
    assert "return the raw logits" in caught.value.student_message


# Metrics


def test_metrics_match_values_computed_by_hand():
    log_p = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7]]))
    measured = measure(log_p, np.array([0, 2]))
    cross_entropy = -(math.log(0.5) + math.log(0.7)) / 2  # nats per token
    assert measured["perplexity"] == pytest.approx(math.exp(cross_entropy), abs=1e-6)
    assert measured["bits_per_token"] == pytest.approx(cross_entropy / math.log(2), abs=1e-6)
    assert measured["accuracy"] == 1.0


def test_a_tie_for_the_best_score_earns_a_share_of_the_hit():
    log_p = np.log(np.array([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2]]))
    assert measure(log_p, np.array([1, 2]))["accuracy"] == 0.25  # 1/2 for the tie it is part of, 0 for the other


def test_a_next_token_given_zero_probability_costs_thirty_bits_not_infinity():
    probabilities = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    read = read_scores(probabilities, 2, 3, 2)
    measured = measure(read.log_probabilities, np.array([0, 1]))
    assert measured["bits_per_token"] == pytest.approx(math.log2(1e9) / 2, abs=1e-6)
    assert measured["accuracy"] == 0.5


def test_baselines_are_counted_from_the_training_text_with_add_one_smoothing():
    public, hidden = small_data()
    counted = baselines(public["tokens"], public["contexts"], 3)
    assert np.allclose(counted["uniform"], -math.log(3))
    # 'aabbcabc': a 3, b 3, c 2, each count plus one, over 8 + 3
    assert np.allclose(np.exp(counted["unigram"][0]), [4 / 11, 4 / 11, 3 / 11])
    # after 'a': a once, b twice (aa, ab, ab), c never; plus one each: 2/6, 3/6, 1/6
    assert np.allclose(np.exp(counted["bigram"][0]), [2 / 6, 3 / 6, 1 / 6])
    # after 'b' (the last context ends in 'b'): b once, c twice; plus one each: 1/6, 2/6, 3/6
    assert np.allclose(np.exp(counted["bigram"][2]), [1 / 6, 2 / 6, 3 / 6])


# The kind


def test_the_kind_is_registered_with_its_metrics_and_directions():
    assert kind_named("language_model") is LANGUAGE_MODEL
    assert not LANGUAGE_MODEL.metrics["perplexity"].higher_is_better
    assert not LANGUAGE_MODEL.metrics["bits_per_token"].higher_is_better
    assert LANGUAGE_MODEL.metrics["accuracy"].higher_is_better


def test_the_assignment_keys_are_read_and_checked():
    spec = LANGUAGE_MODEL.parse(Section({"vocab_size": 28, "context_length": 64}, Where("a.yaml")))
    assert spec == LanguageModelSpec(28, 64)
    with pytest.raises(SpecError, match="a.yaml: context_length: missing; expected a positive integer"):
        LANGUAGE_MODEL.parse(Section({"vocab_size": 28}, Where("a.yaml")))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p, h: p.update(contexts=p["contexts"][:, :1]), "contexts has shape (3, 1), but the assignment declares (n, 2)"),
        (lambda p, h: p.update(tokens=p["tokens"] + 1), "tokens holds token ids from 1 to 3, outside 0..2 (vocab_size 3)"),
        (lambda p, h: p.update(tokens=p["tokens"].astype(np.int32)), "tokens must hold int64 token ids, not int32"),
        (lambda p, h: h.update(next_tokens=h["next_tokens"][:2]), "next_tokens must hold one token per context, shape (3,), got (2,)"),
        (lambda p, h: h.pop("next_tokens"), "the data set has no hidden next_tokens"),
        (lambda p, h: p.pop("contexts"), "the data set has no contexts"),
    ],
)  # fmt: skip
def test_data_that_does_not_fit_the_declared_shapes_names_what_differs(change, expected):
    public, hidden = small_data()
    LANGUAGE_MODEL.check_data(SPEC, public, hidden, WHERE)
    change(public, hidden)
    with pytest.raises(SpecError) as caught:
        LANGUAGE_MODEL.check_data(SPEC, public, hidden, WHERE)
    assert str(caught.value).startswith(f"{WHERE.source}: dataset: {expected}")


def test_scoring_reports_the_metrics_the_baselines_the_floor_and_the_decoded_sample():
    public, hidden = small_data()
    outputs = {
        "scores": np.log(np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8]])),
        "sample": np.array([2, 0, 1, 7, -1]),
    }
    documents = {"vocabulary": VOCABULARY, "entropy": {"bits_per_character": 1.0}}
    metrics = LANGUAGE_MODEL.score(SPEC, outputs, {**public, **hidden}, Aids(documents))
    assert metrics["perplexity"] == pytest.approx(1.25, abs=1e-6)  # every next token had probability 0.8
    assert metrics["accuracy"] == 1.0 and metrics["score_form"] == LOG_PROBABILITIES
    assert metrics["baselines"]["uniform"] == {"perplexity": 3.0, "bits_per_token": 1.584963, "accuracy": 0.333333}
    assert set(metrics["baselines"]) == {"uniform", "unigram", "bigram"}
    assert metrics["entropy_floor"] == {"bits_per_token": 1.0, "perplexity": 2.0}
    assert metrics["prompt"] == "ca" and metrics["sample"] == "cab\ufffd\ufffd"  # ids outside the vocabulary
    lines = LANGUAGE_MODEL.report_lines(metrics)
    assert lines[0].startswith("baselines counted from the training text: uniform perplexity 3.000, 1.585 bits")
    assert lines[1] == "entropy floor of the source: perplexity 2.000, 1.000 bits"
    assert lines[-1] == '  "cab\ufffd\ufffd"'


def test_a_sample_that_is_not_token_ids_is_explained_not_failed():
    public, hidden = small_data()
    outputs = {"scores": np.zeros((3, 3)), "sample": np.array([0.5, 1.0])}
    metrics = LANGUAGE_MODEL.score(SPEC, outputs, {**public, **hidden}, Aids({"vocabulary": VOCABULARY}))
    assert "sample" not in metrics
    assert metrics["sample_problem"] == "generate must return whole-number token ids; it returned fractions"
    assert LANGUAGE_MODEL.report_lines(metrics)[-1].startswith("sample not shown: generate must return")


def test_a_long_sample_is_cut_to_four_hundred_tokens():
    public, hidden = small_data()
    outputs = {"scores": np.zeros((3, 3)), "sample": np.zeros((1, 5000), dtype=np.int64)}
    metrics = LANGUAGE_MODEL.score(SPEC, outputs, {**public, **hidden}, Aids({"vocabulary": VOCABULARY}))
    assert metrics["sample"] == "a" * 400


# The word-chain data set


def oracle(chain: word_chain.WordChain, vocabulary: list[str], contexts: np.ndarray) -> np.ndarray:
    """The true next-character log-probabilities: the last whole word, and the part of the word begun after it."""
    ids = {character: index for index, character in enumerate(vocabulary)}
    spellings = chain.spellings
    index = {spelling: word for word, spelling in enumerate(spellings)}
    rows = np.empty((len(contexts), len(vocabulary)))
    for row, context in enumerate(contexts):
        text = "".join(vocabulary[token] for token in context)
        start = max(text.rfind(" "), text.rfind(word_chain.END))
        if text[start] == word_chain.END:  # a sentence just ended
            previous, begun = index[word_chain.END], ""
        else:
            before = max(text.rfind(" ", 0, start), text.rfind(word_chain.END, 0, start))
            previous, begun = (
                index[text[start - 1] if text[start - 1] == word_chain.END else text[before:start]],
                text[start:],
            )
        probabilities = np.zeros(len(vocabulary))
        for word, p in enumerate(chain.transitions[previous]):
            spelling = spellings[word]
            if p and spelling == begun:  # this word is complete: the next character begins the word after it
                for following, q in enumerate(chain.transitions[word]):
                    probabilities[ids[spellings[following][0]]] += p * q
            elif p and spelling.startswith(begun):
                probabilities[ids[spelling[len(begun)]]] += p
        with np.errstate(divide="ignore"):  # characters that cannot come next
            rows[row] = np.log(probabilities / probabilities.sum())
    return rows


def test_the_true_source_scores_the_stated_entropy_on_the_contexts():
    options = {"train_size": 1000, "test_size": 20_000, "context_length": 48}
    parts = word_chain.build(options, 7)
    chain = word_chain.make_chain(np.random.default_rng(7))
    vocabulary = parts.documents["vocabulary"]
    stated = parts.documents["entropy"]["bits_per_character"]
    truth = measure(oracle(chain, vocabulary, parts.public["contexts"]), parts.hidden["next_tokens"])
    assert truth["bits_per_token"] == pytest.approx(stated, abs=0.03)  # about 3 standard errors of the mean
    assert 0.4 < stated < 1.0


def test_the_data_set_fits_its_kind_and_is_the_same_for_the_same_seed():
    options = {"train_size": 5000, "test_size": 300, "context_length": 32}
    parts = word_chain.build(options, 3)
    spec = LanguageModelSpec(len(parts.documents["vocabulary"]), 32)
    LANGUAGE_MODEL.check_data(spec, parts.public, parts.hidden, WHERE)
    assert parts.public["tokens"].shape == (5000,) and parts.public["contexts"].shape == (300, 32)
    again = word_chain.build(options, 3)
    assert all(np.array_equal(parts.public[name], again.public[name]) for name in parts.public)
    assert np.array_equal(parts.hidden["next_tokens"], again.hidden["next_tokens"])
    assert parts.documents["vocabulary"][:2] == [" ", "."]


def test_the_training_text_reads_as_sentences_of_the_chain_s_words():
    parts = word_chain.build({"train_size": 3000, "test_size": 10, "context_length": 16}, 5)
    vocabulary = parts.documents["vocabulary"]
    text = "".join(vocabulary[token] for token in parts.public["tokens"])
    words = set(text.replace(".", " ").split()[1:-1])  # the first and last may be cut
    assert words <= set(word_chain.make_chain(np.random.default_rng(5)).words)
    assert ". " in text
