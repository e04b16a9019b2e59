"""Reference builds ahead of gradings: requested once, never twice in flight, and their state as staff see it.

The sandbox is the only double: an evaluator that "runs" a reference in no
time (or fails like a broken one). ReferenceResults, its cache and the state
machine on the assignment row are the real ones.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from sqlalchemy import update

from grader.config import PROJECT_ROOT, load_settings
from grader.core.grading import Evaluation
from grader.core.outcomes import Outcome
from grader.db import transaction
from grader.models import Assignment, utcnow
from grader.services import reference_builds as builds
from grader.services.assignment_admin import set_published
from grader.services.assignment_upload import install_assignment_zip
from grader.services.queue import RecordingQueue
from grader.services.reference_builds import Request
from grader.services.references import ReferenceResults

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
UTC = dt.timezone.utc
MEASURED = {"accuracy": 0.97, "macro_f1": 0.96, "parameters": 9000}


class FakeEvaluator:
    """The sandbox's stand-in: every reference scores MEASURED at once, or fails as a broken reference does."""

    def __init__(self, outcome: Outcome = Outcome.OK):
        self.outcome, self.runs = outcome, []

    def evaluate(self, name, data, assignment):
        self.runs.append(name)
        if self.outcome is Outcome.OK:
            return Evaluation(Outcome.OK, dict(MEASURED), "ok", "ok", "trained", {}, {})
        log = "Traceback (most recent call last):\nNameError: name 'Dense' is not defined"
        return Evaluation(self.outcome, {}, "Your code raised an error.", "exit code 1", log, {}, {})


@pytest.fixture
def settings(tmp_path):
    return load_settings(
        {
            "GRADER_ASSIGNMENTS_DIR": str(FIXTURES / "assignments"),
            "GRADER_RUBRICS_DIR": str(FIXTURES / "rubrics"),
            "GRADER_DATA_DIR": str(tmp_path / "data"),
            "GRADER_CACHE_DIR": str(tmp_path / "cache"),
        }
    )


@pytest.fixture
def assignment_id(sessions):
    with transaction(sessions) as session:
        row = Assignment(slug="quick-digits", title="Quick digits", published=False)
        session.add(row)
        session.flush()
        return row.id


def state_of(sessions, assignment_id):
    with sessions() as session:
        row = session.get(Assignment, assignment_id)
        return row.references_state, row.references_detail, row.references


def set_state(sessions, assignment_id, state, age_seconds=0.0):
    with transaction(sessions) as session:
        session.execute(
            update(Assignment)
            .where(Assignment.id == assignment_id)
            .values(references_state=state, references_at=utcnow() - dt.timedelta(seconds=age_seconds))
        )


def test_a_request_is_sent_once_while_queued_or_building(sessions, assignment_id):
    queue = RecordingQueue()
    assert builds.request_build(sessions, queue, assignment_id) is Request.SENT
    assert state_of(sessions, assignment_id)[0] == "queued"
    assert builds.request_build(sessions, queue, assignment_id) is Request.SKIPPED  # a second press
    set_state(sessions, assignment_id, "building")
    assert builds.request_build(sessions, queue, assignment_id) is Request.SKIPPED
    assert queue.reference_builds == [assignment_id]
    set_state(sessions, assignment_id, "ready")
    assert builds.request_build(sessions, queue, assignment_id) is Request.SENT  # asked again: the worker checks
    assert queue.reference_builds == [assignment_id, assignment_id]


def test_a_build_queued_longer_than_a_build_can_last_is_sent_again(sessions, assignment_id):
    queue = RecordingQueue()
    set_state(sessions, assignment_id, "building", age_seconds=7200)  # its worker died long ago
    assert builds.request_build(sessions, queue, assignment_id, stale=dt.timedelta(hours=1)) is Request.SENT
    assert queue.reference_builds == [assignment_id]


def test_changed_files_are_built_again_even_while_a_build_runs(sessions, assignment_id):
    queue = RecordingQueue()
    set_state(sessions, assignment_id, "building")  # reading the old files
    assert builds.request_build(sessions, queue, assignment_id, unless=builds.UNLESS_WAITING) is Request.SENT
    assert builds.request_build(sessions, queue, assignment_id, unless=builds.UNLESS_WAITING) is Request.SKIPPED
    assert queue.reference_builds == [assignment_id]


def test_a_broker_that_refuses_leaves_failed_with_why_not_a_false_queued(sessions, assignment_id):
    class DownQueue:
        def build_references(self, assignment_id):
            raise ConnectionRefusedError("Error 111 connecting to redis:6379")

    assert builds.request_build(sessions, DownQueue(), assignment_id) is Request.NOT_SENT
    state, detail, _ = state_of(sessions, assignment_id)
    assert state == "failed" and "could not be queued" in detail and "redis:6379" in detail
    queue = RecordingQueue()
    assert builds.request_build(sessions, queue, assignment_id) is Request.SENT  # the button works again
    assert queue.reference_builds == [assignment_id]


def test_publishing_builds_once_hiding_never(sessions, assignment_id):
    queue = RecordingQueue()
    assert set_published(sessions, assignment_id, False, UTC, queue) is None
    assert queue.reference_builds == []
    assert set_published(sessions, assignment_id, True, UTC, queue) is Request.SENT
    assert set_published(sessions, assignment_id, False, UTC, queue) is None
    assert set_published(sessions, assignment_id, True, UTC, queue) is Request.SKIPPED  # still queued
    set_state(sessions, assignment_id, "ready")
    assert set_published(sessions, assignment_id, True, UTC, queue) is Request.SKIPPED  # built already
    assert queue.reference_builds == [assignment_id]
    with sessions() as session:
        assert session.get(Assignment, assignment_id).published


def test_syncing_requests_each_known_assignment_once(sessions, assignment_id):
    queue = RecordingQueue()
    done = builds.request_builds(sessions, queue, ["quick-digits", "not-in-the-database"])
    assert done == {"quick-digits": Request.SENT} and queue.reference_builds == [assignment_id]
    again = builds.request_builds(sessions, queue, ["quick-digits"])
    assert again == {"quick-digits": Request.SKIPPED} and queue.reference_builds == [assignment_id]
    lines = builds.describe_requests({**done, "later": Request.NOT_SENT}, ["quick-digits", "later", "never-tried"])
    assert lines[0] == ("references: build queued for quick-digits (a worker builds or checks them)", False)
    assert lines[1][1] is True and "later, never-tried" in lines[1][0]


def zipped_quick_digits(slug: str = "new-digits") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in (FIXTURES / "assignments" / "quick-digits").iterdir():
            archive.writestr(f"{slug}/{path.name}", path.read_bytes())
        rubric = (FIXTURES / "rubrics" / "quick-digits.yaml").read_text().replace("quick-digits", slug)
        archive.writestr(f"{slug}/rubric.yaml", rubric)
    return buffer.getvalue()


def test_an_uploaded_assignment_is_built_and_a_replaced_one_again_while_building(sessions, settings):
    queue = RecordingQueue()
    first = install_assignment_zip(sessions, settings, zipped_quick_digits(), "new.zip", queue=queue)
    assert first.references is Request.SENT and queue.reference_builds == [first.assignment_id]
    set_state(sessions, first.assignment_id, "building")
    again = install_assignment_zip(sessions, settings, zipped_quick_digits(), "new.zip", replace=True, queue=queue)
    assert again.references is Request.SENT and queue.reference_builds == [first.assignment_id] * 2


def test_a_build_runs_both_references_and_records_them_ready(sessions, assignment_id, settings):
    evaluator = FakeEvaluator()
    references = ReferenceResults(evaluator, settings.cache_dir)
    assert builds.build_references(sessions, assignment_id, references, settings) == "ready"
    state, detail, measured = state_of(sessions, assignment_id)
    assert (state, detail) == ("ready", None)
    assert measured == {"keras": MEASURED, "torch": MEASURED}
    assert sorted(evaluator.runs) == ["reference_keras.py", "reference_torch.py"]
    assert builds.build_references(sessions, assignment_id, references, settings) == "ready"  # from the cache
    assert len(evaluator.runs) == 2


def test_a_reference_that_does_not_run_fails_with_the_detail_for_staff(sessions, assignment_id, settings):
    references = ReferenceResults(FakeEvaluator(Outcome.NONZERO_EXIT), settings.cache_dir)
    assert builds.build_references(sessions, assignment_id, references, settings) == "failed"
    state, detail, measured = state_of(sessions, assignment_id)
    assert state == "failed" and measured is None
    assert "reference_keras.py of quick-digits did not run: nonzero_exit" in detail
    assert "NameError: name 'Dense' is not defined" in detail


def test_a_build_for_an_assignment_gone_from_the_database_does_nothing(sessions, settings):
    references = ReferenceResults(FakeEvaluator(), settings.cache_dir)
    assert builds.build_references(sessions, 999, references, settings) is None


def test_the_status_staff_see_in_each_state():
    at = dt.datetime(2025, 2, 1, 14, 2, tzinfo=UTC)
    row = Assignment(slug="x", title="X", task="classification", references_at=at)
    assert builds.reference_status(row).label == "not built"
    row.references_state = "queued"
    fresh = builds.reference_status(row, now=at + dt.timedelta(minutes=5))
    assert (fresh.label, fresh.can_build) == ("queued since 2025-02-01 14:02 UTC", False)
    row.references_state = "building"
    assert builds.reference_status(row, now=at + dt.timedelta(hours=2)).can_build  # presumed lost: may ask again
    row.references_state, row.references = "ready", {"keras": MEASURED, "torch": MEASURED}
    ready = builds.reference_status(row)
    assert ready.label == "ready" and ready.can_build
    assert ready.results == "accuracy: keras\u00a00.970 \u00b7 torch\u00a00.970"  # a line breaks between them
    row.references_state, row.references_detail = "failed", "reference_torch.py did not run"
    failed = builds.reference_status(row)
    assert (failed.label, failed.detail) == ("failed at 2025-02-01 14:02 UTC", "reference_torch.py did not run")
