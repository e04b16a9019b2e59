"""Grade a submission end to end: evaluate it, then score it against the rubric."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.assignments import Assignment
from grader.config import Settings
from grader.core.grading import GradeResult, grade
from grader.core.outcomes import Outcome
from grader.gpu import Gpu
from grader.sandbox.spec import Runner
from grader.services.evaluation import Evaluator
from grader.services.references import ReferenceResults
from grader.services.submissions import UploadLimits


class GradingService:
    """The grading pipeline, wired to one runner and one cache."""

    def __init__(self, settings: Settings, runner: Runner, gpu: Gpu | None = None, threads: int | None = None):
        limits = UploadLimits(max_bytes=settings.upload_max_bytes)
        self.upload_limits = limits
        self.evaluator = Evaluator(runner, settings.cache_dir, settings.run_dir, limits, gpu, threads)
        self.references = ReferenceResults(self.evaluator, settings.cache_dir)

    def live_progress(self) -> dict[str, Any]:
        """What the grading in progress is doing: waiting for the course's references, else what its run reports."""
        if self.references.waiting:
            return {"phase": "references"}
        return self.evaluator.live_progress()

    def grade_upload(self, name: str, data: bytes, assignment: Assignment) -> GradeResult:
        """Evaluate an uploaded file and score it."""
        evaluation = self.evaluator.evaluate(name, data, assignment)
        references = self.references.for_rubric(assignment) if evaluation.outcome is Outcome.OK else {}
        return grade(evaluation, assignment.rubric, references)

    def grade_file(self, path: Path, assignment: Assignment) -> GradeResult:
        """Grade a file on disk as if it had been uploaded."""
        with open(path, "rb") as handle:  # one byte over the cap is enough to refuse it
            data = handle.read(self.upload_limits.max_bytes + 1)
        return self.grade_upload(path.name, data, assignment)
