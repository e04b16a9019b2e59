"""Next-token scores: read them as log-probabilities, measure them, and compare them with counting baselines.

A language model answers one row of scores per context, one score per token of
the vocabulary. The rows may be probabilities, log-probabilities or logits;
which one is decided from the numbers themselves, in float64:

- every row sums to one (within TOLERANCE): probabilities. A negative value is
  an error; rows are divided by their sums before the log.
- every value lies in [0, 1] but some row does not sum to one: an error (not
  probabilities, and almost never meant as logits), with what to do; unless
  every row is constant (equal scores are uniform however they are read).
- every value is at most 0 and the exponentials of every row sum to one:
  log-probabilities.
- anything else: logits, normalised with a log-softmax.

A token the model gave less than MIN_PROBABILITY is counted as MIN_PROBABILITY
(about 30 bits): one confident mistake costs a lot, but cannot make the
perplexity infinite.

Metrics: perplexity (torcheval), bits per token (its base-2 log: the mean
cross-entropy in bits) and top-1 accuracy, where a row whose best score is
shared by k tokens earns 1/k when the hidden token is among them (so equal
scores everywhere earn chance, 1/vocab_size, whatever the order).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np

from grader.core.errors import BadOutput

TOLERANCE = 1e-3  # a row of probabilities sums to one within this
MIN_PROBABILITY = 1e-9  # what a token given (almost) nothing counts as
PROBABILITIES, LOG_PROBABILITIES, LOGITS = "probabilities", "log-probabilities", "logits"
_CHUNK = 1024  # rows per torcheval update (it builds a rows x rows matrix)
_DIGITS = 6
_CONTRACT = "Return one row of scores per context, one score per token of the vocabulary (logits, log-probabilities or probabilities)."


@dataclasses.dataclass(frozen=True)
class ReadScores:
    """Scores read as log-probabilities, and what they were read as."""

    log_probabilities: np.ndarray  # float64 (n, vocab_size); rows normalised
    form: str  # PROBABILITIES, LOG_PROBABILITIES or LOGITS


def read_scores(scores: np.ndarray, n: int, vocab_size: int, context_length: int) -> ReadScores:
    """Check the scores' type, shape and values; return them as normalised log-probabilities, or raise BadOutput."""
    _check_shape(scores, n, vocab_size, context_length)
    values = scores.astype(np.float64)
    _check_finite(values)
    sums = values.sum(axis=1)
    if np.all(np.abs(sums - 1.0) <= TOLERANCE):
        return ReadScores(_from_probabilities(values, sums), PROBABILITIES)
    constant = np.all(values.max(axis=1) == values.min(axis=1))  # equal scores: uniform, however read
    if values.min() >= 0.0 and values.max() <= 1.0 and not constant:
        row = int(np.argmax(np.abs(sums - 1.0)))
        raise BadOutput(
            f"Your scores are all between 0 and 1, so they read as probabilities, but their rows do not sum to one "
            f"(row {row} sums to {sums[row]:.4g}). Apply a softmax to each row (torch.softmax(scores, dim=-1), or "
            'activation="softmax" on the last Dense layer, not a sigmoid), or return the raw logits of a last layer '
            "without activation: the grader normalises them.",
            f"scores in [0, 1] with row sums from {sums.min():.6g} to {sums.max():.6g}",
        )
    if values.max() <= 0.0 and np.all(np.abs(np.exp(values).sum(axis=1) - 1.0) <= TOLERANCE):
        return ReadScores(_log_softmax(values), LOG_PROBABILITIES)  # renormalised: the sums are only near one
    return ReadScores(_log_softmax(values), LOGITS)


def _check_shape(scores: np.ndarray, n: int, vocab_size: int, context_length: int) -> None:
    expected = f"({n}, {vocab_size})"
    staff = f"scores shape {scores.shape}, dtype {scores.dtype}; expected {expected}"
    if scores.dtype.names is not None or scores.dtype.kind not in "biuf":
        raise BadOutput(f"Your scores are not plain numbers (their type is {scores.dtype}). {_CONTRACT}", staff)
    every_position = {
        (n, context_length, vocab_size),
        (context_length, n, vocab_size),
        (n * context_length, vocab_size),
    }
    if scores.shape in every_position:
        raise BadOutput(
            f"Your scores have shape {scores.shape}: scores for every position of every context. The grader needs "
            f"the scores of the next token only, shape {expected}: one row per context, for its last position "
            "(scores[:, -1, :] for batch-first outputs; the statement shows a predict for sequence-first models).",
            staff,
        )
    if scores.ndim != 2:
        raise BadOutput(
            f"Your scores have shape {scores.shape}, but this assignment expects shape {expected}: {n} contexts, "
            f"{vocab_size} tokens in the vocabulary. {_CONTRACT}",
            staff,
        )
    if scores.shape[0] != n:
        raise BadOutput(
            f"Expected {n} rows of scores, one per context, got {scores.shape[0]}. Score every context you are "
            "given, in order.",
            staff,
        )
    if scores.shape[1] != vocab_size:
        raise BadOutput(
            f"Each row of scores must have {vocab_size} values, one per token of the vocabulary (vocab_size "
            f"{vocab_size}), but yours have {scores.shape[1]}. Give your model's last layer vocab_size outputs.",
            staff,
        )


def _check_finite(values: np.ndarray) -> None:
    nan, inf = np.isnan(values), np.isinf(values)
    if nan.any() or inf.any():
        row = int(np.flatnonzero((nan | inf).any(axis=1))[0])
        raise BadOutput(
            f"Your scores contain {int(nan.sum())} NaN and {int(inf.sum())} infinite values (the first in row {row}). "
            "A diverging loss gives NaN: check your training (a lower learning rate, gradient clipping), and return "
            "finite numbers.",
            f"scores contain {int(nan.sum())} NaN and {int(inf.sum())} inf; first bad row {row}",
        )


def _from_probabilities(values: np.ndarray, sums: np.ndarray) -> np.ndarray:
    negative = values < 0
    if negative.any():
        row = int(np.flatnonzero(negative.any(axis=1))[0])
        raise BadOutput(
            f"Your scores read as probabilities (every row sums to one), but {int(negative.sum())} are negative "
            f"(the first in row {row}), and probabilities cannot be negative. Return softmax outputs, or the raw "
            "logits: the grader normalises them.",
            f"{int(negative.sum())} negative probabilities; minimum {values.min():.6g}",
        )
    with np.errstate(divide="ignore"):
        return np.log(values / sums[:, None])


def _log_softmax(values: np.ndarray) -> np.ndarray:
    shifted = values - values.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def measure(log_probabilities: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Perplexity (torcheval), bits per token and top-1 accuracy of normalised log-probabilities."""
    floored = np.maximum(log_probabilities, math.log(MIN_PROBABILITY))
    perplexity = _perplexity(floored, targets)
    best = log_probabilities.max(axis=1, keepdims=True)
    tied = log_probabilities == best
    hits = tied[np.arange(len(targets)), targets] / tied.sum(axis=1)
    return {
        "perplexity": round(perplexity, _DIGITS),
        "bits_per_token": round(math.log2(perplexity), _DIGITS),
        "accuracy": round(float(hits.mean()), _DIGITS),
    }


def _perplexity(log_probabilities: np.ndarray, targets: np.ndarray) -> float:
    """torcheval's perplexity, fed in chunks: each update builds a rows x rows matrix."""
    import torch  # slow to import: only when scoring

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=DeprecationWarning)
        from torcheval.metrics.text import Perplexity

    metric = Perplexity()  # its sums are float64
    for start in range(0, len(targets), _CHUNK):
        rows = slice(start, start + _CHUNK)
        metric.update(
            torch.from_numpy(log_probabilities[rows, None, :]), torch.from_numpy(targets[rows, None].astype(np.int64))
        )
    return float(metric.compute().item())


def baselines(tokens: np.ndarray, contexts: np.ndarray, vocab_size: int) -> dict[str, np.ndarray]:
    """Log-probabilities of three models counted from the training text: uniform, unigram and bigram.

    Counts are add-one smoothed, so no token the training text lacks gets zero.
    The bigram model looks at the context's last token only.
    """
    unigram = np.bincount(tokens, minlength=vocab_size) + 1.0
    pairs = np.ones((vocab_size, vocab_size))
    np.add.at(pairs, (tokens[:-1], tokens[1:]), 1.0)
    rows = len(contexts)
    return {
        "uniform": np.full((rows, vocab_size), -math.log(vocab_size)),
        "unigram": np.broadcast_to(np.log(unigram / unigram.sum()), (rows, vocab_size)),
        "bigram": np.log(pairs / pairs.sum(axis=1, keepdims=True))[contexts[:, -1]],
    }
