"""What the harness tells the grader: a JSON report, and its exit codes."""

from __future__ import annotations

import sys
import traceback

from .protocol import EXIT_HARNESS_ERROR, EXIT_OK, EXIT_SUBMISSION_ERROR  # noqa: F401 - re-exported


def note(message: str) -> None:
    """Write a line for the run's log, marked as the grader's own."""
    print(f"[grader] {message}", file=sys.stderr, flush=True)


class SubmissionFailure(Exception):
    """The student's code failed in a phase of the run."""

    def __init__(self, phase: str, message: str, location: tuple[str, int] | None = None, detail: str = ""):
        super().__init__(message)
        self.phase = phase
        self.message = message
        self.location = location  # (file relative to the submission, line)
        self.detail = detail

    @classmethod
    def from_exception(cls, phase: str, exc: BaseException, root: str) -> SubmissionFailure:
        """Describe an exception raised by the student's code (under `root`) in `phase`."""
        text = _readable(f"{type(exc).__name__}: {exc}").strip().rstrip(":")
        detail = "".join(traceback.format_exception(exc))
        return cls(phase, text, _submission_location(exc, root), detail)

    def as_dict(self) -> dict:
        file, line = self.location or (None, None)
        return {"phase": self.phase, "message": self.message, "file": file, "line": line, "detail": self.detail}


def _readable(message: str) -> str:
    """Drop what framework errors carry for their own developers: TensorFlow's node tracebacks and node names.

    TensorFlow's InvalidArgumentError embeds the whole Python stack of the graph node ("Detected at node
    ... defined at ...") before the line that says what is wrong ("indices[0,12] = 152 is not in [0, 100)").
    """
    kept = []
    for line in message.splitlines():
        if line.startswith(("  File ", "    ")) or line.lstrip().startswith(("Detected at node", "[[{{node")):
            continue
        if line.strip():
            kept.append(line.rstrip())
    return "\n".join(kept) if kept else message


def _submission_location(exc: BaseException, root: str) -> tuple[str, int] | None:
    """Return the deepest (file, line) of the submission's own code in the traceback."""
    prefix = root.rstrip("/") + "/"
    if isinstance(exc, SyntaxError) and (exc.filename or "").startswith(prefix) and exc.lineno:
        return exc.filename[len(prefix) :], exc.lineno
    location = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename.startswith(prefix):
            location = (frame.f_code.co_filename[len(prefix) :], lineno)
    return location
