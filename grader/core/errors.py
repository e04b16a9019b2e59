"""The error tree of grader. Every error carries two texts.

    GraderError                      student_message + staff_detail
    ├── SubmissionError              the submission's fault: a graded result
    │   ├── BadSubmission            unreadable upload, broken contract
    │   └── BadOutput                predictions missing or malformed
    ├── SpecError                    a malformed assignment, rubric or course file
    │   └── ScoresFileError          a staff score sheet with mistakes (grader.core.scores_csv)
    ├── ActionRefused                a staff action refused as asked (grader.services.overrides)
    └── InfrastructureError          our fault: retry, never cost the student
        └── SandboxError             the sandbox could not run or measure

`student_message` is safe to show a student: no paths, no hidden data, no other
student's details. `staff_detail` keeps everything staff need to debug.
Foreign exceptions are mapped to these at the boundary that catches them.
"""

from __future__ import annotations

from grader.core.outcomes import Outcome


class GraderError(Exception):
    """Base of all grader errors."""

    outcome: Outcome = Outcome.SANDBOX_ERROR

    def __init__(self, student_message: str, staff_detail: str | None = None):
        super().__init__(student_message)
        self.student_message = student_message
        self.staff_detail = staff_detail if staff_detail is not None else student_message


class SubmissionError(GraderError):
    """The submission failed: graded as a zero with feedback."""

    outcome = Outcome.BAD_SUBMISSION


class BadSubmission(SubmissionError):
    """The upload cannot be read or does not follow the contract."""

    outcome = Outcome.BAD_SUBMISSION


class BadOutput(SubmissionError):
    """The predictions the submission produced cannot be scored."""

    outcome = Outcome.BAD_OUTPUT


class SpecError(GraderError):
    """A staff-written file (assignment, rubric, course) is malformed.

    The message names the file, the field and what was expected, so the same
    text serves both audiences (staff wrote the file).
    """

    def __init__(self, source: str, field: str, problem: str):
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.field = field
        self.problem = problem


class InfrastructureError(GraderError):
    """Our failure: retry, and never cost the student."""

    outcome = Outcome.SANDBOX_ERROR

    def __init__(self, staff_detail: str, student_message: str | None = None):
        super().__init__(
            student_message
            or "Grading failed on our side; your submission will be graded again. This is not your fault.",
            staff_detail,
        )


class SandboxError(InfrastructureError):
    """The sandbox could not be set up, run or measured."""
