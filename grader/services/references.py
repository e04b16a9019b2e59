"""Reference results: the course's own solutions, run through the same sandbox.

Their metrics are cached outside the source tree, keyed by a hash of the
assignment file, the reference file, the data and the framework versions, so
they are computed once per change of any of those. A build holds an exclusive
lock on a file next to its cache entry: two processes (a build task and a
grading that needs the same reference) never run it twice; the second waits,
then reads what the first wrote. Builds are normally the worker task of
grader.services.reference_builds, ahead of the gradings.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grader.assignments import REFERENCE_FRAMEWORKS, Assignment
from grader.core.errors import InfrastructureError
from grader.core.grading import Evaluation
from grader.core.kinds import TaskKind
from grader.core.outcomes import Outcome
from grader.datasets import prepare_dataset
from grader.db import transaction
from grader.models import Assignment as AssignmentRow
from grader.services.evaluation import Evaluator

log = logging.getLogger("grader.references")

VERSIONED = ("torch", "tensorflow", "keras", "lightning", "numpy", "torcheval")


def framework_versions() -> dict[str, str]:
    """Installed versions that change what a reference scores (read without importing)."""
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def scoring_code(kind: TaskKind) -> list[Path]:
    """The trusted code that turns a run's outputs into metrics: the kind's module and the helpers kinds score with."""
    package = Path(__file__).resolve().parent.parent
    helpers = ("core/metrics.py", "core/next_tokens.py", "core/predictions.py", "judges.py", "services/episodes.py")
    return [Path(sys.modules[type(kind).__module__].__file__), *(package / name for name in helpers)]


class ReferenceResults:
    """Computes and caches the reference solutions' metrics."""

    def __init__(self, evaluator: Evaluator, cache_dir: Path):
        self.evaluator = evaluator
        self.cache_dir = cache_dir
        # Called once before a grading builds, or waits for, references it needs (a worker writes the
        # submission's progress phase "references" with it); `waiting` is True until they are there.
        self.on_wait: Callable[[], None] | None = None
        self.waiting = False

    def for_rubric(self, assignment: Assignment) -> dict[str, dict[str, Any]]:
        """Metrics of every reference the assignment's rubric refers to; says so first when any is missing."""
        needed = sorted(assignment.rubric.references_needed())
        if not self.missing(assignment, needed):
            return {name: self.metrics(assignment, name) for name in needed}
        self.waiting = True
        try:
            if self.on_wait is not None:
                self.on_wait()
            return {name: self.metrics(assignment, name) for name in needed}
        finally:
            self.waiting = False

    def missing(self, assignment: Assignment, frameworks: list[str] | tuple[str, ...]) -> list[str]:
        """The frameworks among these whose reference is not cached for the assignment as it is now."""
        return [name for name in frameworks if not self._cache_path(assignment, name).is_file()]

    def metrics(self, assignment: Assignment, framework: str, rebuild: bool = False) -> dict[str, Any]:
        """A reference's metrics, from the cache or from a fresh run."""
        return self.evaluation(assignment, framework, rebuild).metrics

    def evaluation(self, assignment: Assignment, framework: str, rebuild: bool = False) -> Evaluation:
        """A reference's whole evaluation (metrics, log, resources), from the cache or from a fresh run."""
        path = self._cache_path(assignment, framework)
        if path.is_file() and not rebuild:
            return _read_evaluation(path)
        asked = time.time()
        with _exclusive(path.with_suffix(".lock")):  # whoever held it first may have built it meanwhile
            if path.is_file() and (not rebuild or path.stat().st_mtime >= asked):
                return _read_evaluation(path)
            evaluation = self._run(assignment, framework)
            _write_atomically(path, {"metrics": evaluation.metrics, "evaluation": evaluation.to_json()})
        return evaluation

    def _run(self, assignment: Assignment, framework: str) -> Evaluation:
        """Run one reference in the sandbox; a reference that does not run is staff's problem, never a grade."""
        reference = assignment.reference_path(framework)
        log.info("running reference %s of %s", reference.name, assignment.slug)
        evaluation = self.evaluator.evaluate(reference.name, reference.read_bytes(), assignment)
        if evaluation.outcome is not Outcome.OK:
            raise InfrastructureError(
                f"reference {reference.name} of {assignment.slug} did not run: {evaluation.outcome.value}: "
                f"{evaluation.staff_detail}\n{evaluation.log[-4000:]}"
            )
        return evaluation

    def cached(self, assignment: Assignment) -> dict[str, dict[str, Any]]:
        """Metrics of every reference already computed for the assignment as it is now; runs nothing."""
        found = {}
        for name in REFERENCE_FRAMEWORKS:
            path = self._cache_path(assignment, name)
            if path.is_file():
                found[name] = json.loads(path.read_text())["metrics"]
        return found

    def build(self, assignment: Assignment, rebuild: bool = False) -> dict[str, dict[str, Any]]:
        """Compute every reference of the assignment."""
        return {name: self.metrics(assignment, name, rebuild) for name in REFERENCE_FRAMEWORKS}

    def _cache_path(self, assignment: Assignment, framework: str) -> Path:
        digest = hashlib.sha256()
        digest.update((assignment.folder / "assignment.yaml").read_bytes())
        digest.update(assignment.reference_path(framework).read_bytes())
        if assignment.spec.dataset is not None:
            digest.update(prepare_dataset(assignment.spec.dataset, self.cache_dir).sha256.encode())
        digest.update(json.dumps(framework_versions(), sort_keys=True).encode())
        for path in scoring_code(assignment.spec.kind):  # a changed check, metric or judge measures anew
            digest.update(path.read_bytes())
        return self.cache_dir / "references" / assignment.slug / f"{framework}-{digest.hexdigest()[:16]}.json"


def record_references(sessions: sessionmaker[Session], slug: str, found: dict[str, dict[str, Any]]) -> bool:
    """Keep reference metrics on the assignment's row, merged over what it held; False if it has no row.

    The web side rescores relative thresholds against these, without training.
    """
    with transaction(sessions) as session:
        row = session.scalars(select(AssignmentRow).where(AssignmentRow.slug == slug)).first()
        if row is None:
            return False
        merged = {**(row.references or {}), **found}
        if row.references != merged:
            row.references = merged
    return True


def _read_evaluation(path: Path) -> Evaluation:
    return Evaluation.from_json(json.loads(path.read_text())["evaluation"])


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `lock_path` (created if missing; never deleted, so every process locks one inode)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomically(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1))
    os.replace(tmp, path)
