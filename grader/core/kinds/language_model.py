"""Language models: given a context of tokens, score every token of the vocabulary as the next one.

Student contract (DESIGN.md, exact):

    build_model(vocab_size)          # required
    train(model, tokens)             # required; tokens: int64 (n,), the training text
    predict(model, contexts)         # optional; int64 (n, length) -> next-token scores (n, vocab_size)
    generate(model, prompt, length)  # optional; ids, shown in feedback, not scored

The data set provides `tokens` and `contexts` (public) and `next_tokens`
(hidden): the token that followed each context. The run writes `scores`, and
`sample` when the submission defines generate. The trusted side reads the
scores as log-probabilities (grader.core.next_tokens), measures them, and
measures three counting baselines from the training text on the same hidden
tokens, shown beside the student's figures with the source's entropy floor
when the data set publishes one (its document `entropy`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.core import next_tokens
from grader.core.kinds.base import Aids, TaskKind, TaskSpec
from grader.core.rubric.spec import Metric
from grader.core.validate import Section, Where

SAMPLE = {"prompt": 0, "length": 200}  # generate() continues contexts[prompt] by `length` tokens
SHOWN_TOKENS = 400  # of a sample, at most
SHOWN_PROMPT = 80  # the end of the prompt shown before the sample
UNKNOWN = "\ufffd"  # a sample's id outside the vocabulary
BASELINES = ("uniform", "unigram", "bigram")


@dataclasses.dataclass(frozen=True)
class LanguageModelSpec(TaskSpec):
    """What a language-model assignment declares: the vocabulary's size and the contexts' length."""

    vocab_size: int
    context_length: int


class LanguageModel(TaskKind):
    name = "language_model"
    keys = ("vocab_size", "context_length")
    metrics = {
        "perplexity": Metric("perplexity", "Perplexity", False, "{:.3f}"),
        "bits_per_token": Metric("bits_per_token", "Bits per character", False, "{:.3f}"),
        "accuracy": Metric("accuracy", "Top-1 accuracy", True, "{:.3f}"),
        "parameters": Metric("parameters", "Parameter count", False, "{:,.0f}", reported=True),
    }
    summary_metrics = ("perplexity", "bits_per_token", "accuracy")
    feedback_template = "kinds/language_model.html"

    def parse(self, root: Section) -> LanguageModelSpec:
        return LanguageModelSpec(
            vocab_size=root.integer("vocab_size", minimum=2, what="an integer >= 2 (token ids 0..vocab_size-1)"),
            context_length=root.integer("context_length", minimum=1, what="a positive integer (tokens per context)"),
        )

    def check_data(
        self, spec: LanguageModelSpec, public: Mapping[str, np.ndarray], hidden: Mapping[str, np.ndarray], where: Where
    ) -> None:
        for name in ("tokens", "contexts"):
            if name not in public:
                raise where.error(f"the data set has no {name}; a language-model data set provides tokens, contexts")
        if "next_tokens" not in hidden:
            raise where.error("the data set has no hidden next_tokens")
        tokens, contexts, next_tokens = public["tokens"], public["contexts"], hidden["next_tokens"]
        if tokens.ndim != 1 or len(tokens) < 2:
            raise where.error(f"tokens must be one text of at least 2 token ids, shape (n,), got shape {tokens.shape}")
        if contexts.ndim != 2 or contexts.shape[1] != spec.context_length or len(contexts) == 0:
            raise where.error(
                f"contexts has shape {contexts.shape}, but the assignment declares (n, {spec.context_length}) "
                f"(context_length {spec.context_length})"
            )
        if next_tokens.shape != (len(contexts),):
            raise where.error(
                f"next_tokens must hold one token per context, shape ({len(contexts)},), got {next_tokens.shape}"
            )
        for name, array in (("tokens", tokens), ("contexts", contexts), ("next_tokens", next_tokens)):
            _check_ids(spec, name, array, where)

    def job(self, spec: LanguageModelSpec, public: Mapping[str, np.ndarray]) -> dict[str, Any]:
        return {"vocab_size": spec.vocab_size, "context_length": spec.context_length, "sample": dict(SAMPLE)}

    def outputs(self, spec: LanguageModelSpec) -> tuple[str, ...]:
        return ("scores",)

    def optional_outputs(self, spec: LanguageModelSpec) -> tuple[str, ...]:
        return ("sample",)

    def score(
        self, spec: LanguageModelSpec, outputs: Mapping[str, np.ndarray], data: Mapping[str, np.ndarray], aids: Aids
    ) -> dict[str, Any]:
        targets = data["next_tokens"]
        read = next_tokens.read_scores(outputs["scores"], len(targets), spec.vocab_size, spec.context_length)
        metrics: dict[str, Any] = next_tokens.measure(read.log_probabilities, targets)
        metrics["score_form"] = read.form
        metrics["improbable_tokens"] = int(
            np.sum(read.log_probabilities[np.arange(len(targets)), targets] < math.log(next_tokens.MIN_PROBABILITY))
        )
        counted = next_tokens.baselines(data["tokens"], data["contexts"], spec.vocab_size)
        metrics["baselines"] = {name: next_tokens.measure(counted[name], targets) for name in BASELINES}
        floor = _entropy_floor(aids.documents)
        if floor is not None:
            metrics["entropy_floor"] = floor
        if "sample" in outputs:
            metrics.update(_sample(outputs["sample"], data["contexts"][SAMPLE["prompt"]], aids.documents))
        return metrics

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        lines = []
        baselines = metrics.get("baselines")
        if isinstance(baselines, dict):
            shown = [f"{name} {_figures(baselines[name])}" for name in BASELINES if name in baselines]
            lines.append("baselines counted from the training text: " + "; ".join(shown))
        floor = metrics.get("entropy_floor")
        if isinstance(floor, dict):
            lines.append(f"entropy floor of the source: {_figures(floor)}")
        if metrics.get("improbable_tokens"):
            lines.append(
                f"{metrics['improbable_tokens']} next tokens had probability below "
                "1e-9 under the model (each counted as 1e-9)"
            )
        if "sample" in metrics:
            lines.append(f"sample after ...{json.dumps(metrics.get('prompt', ''), ensure_ascii=False)}:")
            lines.append(f"  {json.dumps(metrics['sample'], ensure_ascii=False)}")
        elif "sample_problem" in metrics:
            lines.append(f"sample not shown: {metrics['sample_problem']}")
        return lines


def _check_ids(spec: LanguageModelSpec, name: str, array: np.ndarray, where: Where) -> None:
    if array.dtype != np.int64:
        raise where.error(f"{name} must hold int64 token ids, not {array.dtype}")
    if array.min() < 0 or array.max() >= spec.vocab_size:
        raise where.error(
            f"{name} holds token ids from {array.min()} to {array.max()}, outside 0..{spec.vocab_size - 1} "
            f"(vocab_size {spec.vocab_size})"
        )


def _entropy_floor(documents: Mapping[str, Any]) -> dict[str, float] | None:
    """The source's entropy rate, when the data set publishes it: no model can beat it on average."""
    entropy = documents.get("entropy")
    bits = entropy.get("bits_per_character") if isinstance(entropy, dict) else None
    if not isinstance(bits, (int, float)) or isinstance(bits, bool):
        return None
    return {"bits_per_token": round(float(bits), 6), "perplexity": round(2.0 ** float(bits), 6)}


def _figures(measured: Mapping[str, Any]) -> str:
    parts = [f"perplexity {measured['perplexity']:.3f}", f"{measured['bits_per_token']:.3f} bits"]
    if "accuracy" in measured:
        parts.append(f"accuracy {measured['accuracy']:.3f}")
    return ", ".join(parts)


def _sample(sample: np.ndarray, prompt: np.ndarray, documents: Mapping[str, Any]) -> dict[str, str]:
    """The generated ids as text (bounded; ids outside the vocabulary as U+FFFD), or why they cannot be shown."""
    ids = sample.reshape(-1) if sample.ndim == 2 and sample.shape[0] == 1 else sample
    if ids.dtype.kind not in "iuf" or ids.ndim != 1:
        return {
            "sample_problem": f"generate must return token ids, shape (length,); it returned {ids.dtype} {sample.shape}"
        }
    ids = ids[:SHOWN_TOKENS]
    if ids.dtype.kind == "f" and not (np.isfinite(ids).all() and (ids == np.round(ids)).all()):
        return {"sample_problem": "generate must return whole-number token ids; it returned fractions"}
    vocabulary = documents.get("vocabulary")
    return {"prompt": _decode(prompt, vocabulary)[-SHOWN_PROMPT:], "sample": _decode(ids.astype(np.int64), vocabulary)}


def _decode(ids: np.ndarray, vocabulary: Any) -> str:
    if not isinstance(vocabulary, list) or not all(isinstance(token, str) for token in vocabulary):
        return " ".join(str(int(token)) for token in ids)
    separator = "" if all(len(token) == 1 for token in vocabulary) else " "  # characters, or words
    return separator.join(vocabulary[token] if 0 <= token < len(vocabulary) else UNKNOWN for token in ids.tolist())


LANGUAGE_MODEL = LanguageModel()
