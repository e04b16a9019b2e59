"""The closed vocabularies of a grading run: how it ended and what that means."""

from __future__ import annotations

import enum


class Outcome(str, enum.Enum):
    """How a run ended. Each value is stable: it is stored and shown."""

    OK = "ok"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    KILLED = "killed"
    NONZERO_EXIT = "nonzero_exit"
    BAD_OUTPUT = "bad_output"
    BAD_SUBMISSION = "bad_submission"
    SANDBOX_ERROR = "sandbox_error"

    @property
    def is_infrastructure(self) -> bool:
        """True when the failure is ours: retry, never cost the student."""
        return self is Outcome.SANDBOX_ERROR

    def describe(self) -> str:
        """One sentence for a person reading a result."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Outcome.OK: "The run finished and produced predictions.",
    Outcome.TIMEOUT: "The run went over its time limit and was stopped.",
    Outcome.MEMORY_LIMIT: "The run went over its memory limit and was stopped.",
    Outcome.KILLED: "The run was ended by a signal.",
    Outcome.NONZERO_EXIT: "The program exited with an error.",
    Outcome.BAD_OUTPUT: "The predictions were missing or malformed.",
    Outcome.BAD_SUBMISSION: "The submission does not follow the assignment's contract.",
    Outcome.SANDBOX_ERROR: "The grading infrastructure failed; this is not your fault.",
}


class Status(str, enum.Enum):
    """Where a graded submission ended."""

    SCORED = "scored"  # ran and was scored against the rubric
    FAILED = "failed"  # the submission's own failure: a graded zero with feedback
    ERROR = "error"  # our failure: no grade, retried, never costs the student

    @classmethod
    def for_outcome(cls, outcome: Outcome) -> Status:
        if outcome is Outcome.OK:
            return cls.SCORED
        if outcome.is_infrastructure:
            return cls.ERROR
        return cls.FAILED
