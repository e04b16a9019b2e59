"""The sandbox side of the language_model kind: build, train, score the contexts, generate (grader.core.kinds.language_model).

Without the student's predict, the model's own output on the contexts is taken,
batch by batch after eval(); a tuple's first element, and the last position
when the model answers one row per position ((n, length, vocab)). Models that
read sequence-first or need a hidden state cannot be guessed: their failure
says to define predict.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import frameworks
from .report import SubmissionFailure, note

_PREDICT_HINT = (
    "Without a predict function the grader calls your model on a batch of contexts, int64 of shape (batch, {length}), "
    "and takes its output at the last position. If your model reads (length, batch) or needs a hidden state, "
    "define predict(model, contexts) (the statement shows one to copy)."
)


def run(run: Any, module: Any, data: dict[str, np.ndarray]) -> None:
    """Build and train the model, write its scores for every context, then a sample when it can generate."""
    kind = run.kind
    build_model = run.student_function(module, "build_model", True, "build_model(vocab_size)")
    train = run.student_function(module, "train", True, "train(model, tokens)")
    model = run.call("build_model", build_model, kind["vocab_size"])
    framework = run.check_framework(model)
    model = _trained(model, run.call("train", train, model, data["tokens"]))
    run.report["parameters"] = frameworks.count_parameters(model, framework)
    contexts = data["contexts"]
    predict = run.student_function(module, "predict", False, "predict(model, contexts)")
    if predict is None:
        batch_size = max(int(run.training["batch_size"]), 256)
        scores = _hinted(run, kind, default_predict, model, framework, contexts, batch_size)
    else:
        scores = run.call("predict", predict, model, contexts)
    run.save_output("scores", scores, source="predict")
    generate = run.student_function(module, "generate", False, "generate(model, prompt, length)")
    if generate is not None:
        sample = kind["sample"]
        prompt = np.array(contexts[sample["prompt"]])
        run.save_output("sample", run.call("generate", generate, model, prompt, sample["length"]), source="generate")


def _trained(model: Any, returned: Any) -> Any:
    """What train returned when it is a model; the model it was given otherwise (trained in place)."""
    if returned is None:
        note("train() returned None: using the model it was given, trained in place")
        return model
    if frameworks.detect(returned) is None:
        note(f"train() returned a {type(returned).__name__}, not a model: using the model it was given")
        return model
    return returned


def _hinted(run: Any, kind: dict[str, Any], function: Any, *args: Any) -> Any:
    """Run the default predict; a failure says what it did and when to define predict."""
    try:
        return run.call("predict", function, *args)
    except SubmissionFailure as failure:
        failure.message = f"{failure.message}. {_PREDICT_HINT.format(length=kind['context_length'])}"
        raise


def default_predict(model: Any, framework: str, contexts: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's next-token scores for each context: its output at the last position, batch by batch."""
    parts = []
    for start in range(0, len(contexts), batch_size):
        output = frameworks.default_predict(model, framework, contexts[start : start + batch_size], batch_size)
        if isinstance(output, (list, tuple)):  # a Keras model with several outputs: the first is the answer
            output = output[0]
        output = frameworks.to_numpy(output)
        parts.append(output[:, -1, :] if output.ndim == 3 else output)
    return np.concatenate(parts)
