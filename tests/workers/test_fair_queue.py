"""Students take turns on a real worker: one student's burst does not delay another's upload (issue 11 item 2).

Before fair dispatch, three uploads of one student went to the broker ahead of
a fourth student's upload, which waited for all three.
"""

from __future__ import annotations

import pytest

from grader.db import transaction
from grader.models import Role, State, User
from grader.services.uploads import accept_upload
from tests.workers.conftest import FIXTURES

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
PARTIAL = (FIXTURES / "submissions" / "partial_credit.py").read_bytes()


def test_a_second_students_upload_is_graded_before_the_first_students_second_and_third(service):
    with transaction(service.sessions) as session:
        bob = User(email="bob@example.org", role=Role.STUDENT, password_hash="x")
        session.add(bob)
        session.flush()
        bob_id = bob.id
    ada = [service.upload("partial_credit.py", PARTIAL + f"\n# ada {n}\n".encode()) for n in range(3)]
    bob_upload = accept_upload(
        service.sessions, service.store, service.queue, user_id=bob_id, assignment_slug="quick-digits",
        filename="partial_credit.py", data=PARTIAL + b"\n# bob\n", settings=service.settings,
    )  # fmt: skip
    service.start_worker()  # one slot: it grades one submission at a time, in the broker's order
    rows = {sid: service.wait_final(sid, timeout=240) for sid in [*ada, bob_upload]}
    assert all(row.state is State.SCORED for row in rows.values())
    started = sorted(rows, key=lambda sid: rows[sid].started_at)
    assert started == [ada[0], bob_upload, ada[1], ada[2]]
