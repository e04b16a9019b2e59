"""`grader demo` asks its worker to build every assignment's references as it starts, not in a student's first job."""

from __future__ import annotations

from sqlalchemy import select

from grader.config import PROJECT_ROOT, load_settings
from grader.db import transaction
from grader.models import Assignment
from grader.services import demo
from grader.services.queue import RecordingQueue

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"


def test_the_demo_queues_each_assignments_references_once(sessions, tmp_path):
    settings = load_settings(
        {
            "GRADER_ASSIGNMENTS_DIR": str(FIXTURES / "assignments"),
            "GRADER_RUBRICS_DIR": str(FIXTURES / "rubrics"),
            "GRADER_DATA_DIR": str(tmp_path / "data"),
        }
    )
    queue = RecordingQueue()
    with transaction(sessions) as session:
        synced, _, _ = demo.prepare_demo_course(session, settings)
    lines = demo.queue_reference_builds(sessions, settings, synced, queue)
    with sessions() as session:
        rows = {row.slug: (row.id, row.references_state) for row in session.scalars(select(Assignment))}
    assert sorted(queue.reference_builds) == sorted(i for i, _ in rows.values())
    assert {state for _, state in rows.values()} == {"queued"}
    assert lines == [f"references: build queued for {', '.join(synced.added)} (a worker builds or checks them)"]

    with transaction(sessions) as session:  # the demo restarted before its worker got to them
        synced, _, _ = demo.prepare_demo_course(session, settings)
    again = demo.queue_reference_builds(sessions, settings, synced, queue)
    assert len(queue.reference_builds) == len(rows) and again[0].startswith("references: already queued or building")
