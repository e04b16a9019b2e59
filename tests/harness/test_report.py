"""Failures of the student's code, as the harness reports them: readable, with the line that matters."""

from __future__ import annotations

from grader.harness.report import SubmissionFailure

TF_ERROR = """Graph execution error:

Detected at node sequential_1/embedding_1/GatherV2 defined at (most recent call last):
  File "/opt/grader/harness/main.py", line 80, in call
    return function(*args)
  File "/work/main/.venv/lib/python3.11/site-packages/keras/src/backend/tensorflow/trainer.py", line 59, in train_step
    y_pred = self(x, training=True)

indices[0,12] = 152 is not in [0, 100)
\t [[{{node sequential_1/embedding_1/GatherV2}}]] [Op:__inference_multi_step_on_iterator_1234]"""


class InvalidArgumentError(Exception):
    pass


def test_a_tensorflow_node_traceback_is_left_out_and_the_reason_kept():
    failure = SubmissionFailure.from_exception("train", InvalidArgumentError(TF_ERROR), "/submission")
    assert failure.message == "InvalidArgumentError: Graph execution error:\nindices[0,12] = 152 is not in [0, 100)"
    assert "/opt/grader" not in failure.message and ".venv" not in failure.message
    assert "Detected at node" in failure.detail  # staff keep the whole traceback


def test_an_ordinary_error_is_unchanged():
    failure = SubmissionFailure.from_exception("train", ValueError("bad shape (3, 4)"), "/submission")
    assert failure.message == "ValueError: bad shape (3, 4)"
