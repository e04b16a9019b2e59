"""Uploads through the API and the form: hostile files are refused with a clear message and nothing is stored.

These run the real upload use case (grader.services.uploads) and blob store.
"""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from tests.web.conftest import submit_form
from tests.web.helpers import submission_count

REFERENCE = PROJECT_ROOT / "assignments" / "digits-mlp" / "reference_keras.py"


def zip_of(*entries: tuple[zipfile.ZipInfo | str, bytes]) -> bytes:
    """Build a zip in memory from (name or ZipInfo, content) pairs."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def symlink_entry(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


HOSTILE = {
    "zip-slip": (zip_of(("submission.py", b"x = 1\n"), ("../../evil.py", b"import os\n")), "outside"),
    "absolute path": (zip_of(("submission.py", b"x = 1\n"), ("/etc/cron.d/evil", b"* * * * *\n")), "outside"),
    "symlink": (zip_of(("submission.py", b"x = 1\n"), symlink_entry("data", "/etc/passwd")), "link"),
    "zip bomb": (zip_of(("submission.py", b"x = 1\n"), ("zeros.bin", b"\0" * (51 * 1024**2))), "expands"),
    "damaged zip": (b"PK\x03\x04 not really a zip", "damaged"),
    "no submission.py": (zip_of(("model.py", b"x = 1\n")), "submission.py"),
}


def api_upload(client, token: str, filename: str, data: bytes, assignment: str = "digits-mlp"):
    files = {"assignment": assignment, "file": (io.BytesIO(data), filename)}
    return client.post("/api/v1/submissions", headers={"Authorization": f"Bearer {token}"}, data=files)


def test_the_reference_is_accepted_stored_and_queued_once(app, client, accounts, queue):
    token = accounts.token("ada@example.org")
    response = api_upload(client, token, "reference_keras.py", REFERENCE.read_bytes())
    assert response.status_code == 202, response.get_json()
    sid = response.get_json()["id"]
    assert queue.enqueued == [(sid, False)] and submission_count(app) == 1
    blobs = Path(app.config["GRADER_SETTINGS"].data_dir, "blobs")
    assert [p.read_bytes() for p in blobs.rglob("*") if p.is_file()] == [REFERENCE.read_bytes()]
    body = client.get(f"/api/v1/submissions/{sid}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["state"] == "queued" and body["queue_position"] == 1


def test_the_upload_is_logged_with_its_submission_id(client, accounts, capsys):
    response = api_upload(client, accounts.token("ada@example.org"), "reference_keras.py", REFERENCE.read_bytes())
    sid = response.get_json()["id"]
    [line] = [line for line in capsys.readouterr().err.splitlines() if "accepted for digits-mlp" in line]
    assert f"submission={sid} " in line and "reference_keras.py" in line


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_hostile_zips_are_refused_with_a_clear_message_and_nothing_stored(app, client, accounts, queue, attack):
    data, words = HOSTILE[attack]
    assert len(data) < 64 * 1024  # under the cap: the zip check itself refuses it
    response = api_upload(client, accounts.token("ada@example.org"), "model.zip", data)
    assert response.status_code == 400
    message = response.get_json()["error"]
    assert words in message and str(Path(app.config["GRADER_SETTINGS"].data_dir)) not in message
    assert queue.enqueued == [] and submission_count(app) == 0
    assert not any(
        p.is_file() for p in Path(app.config["GRADER_SETTINGS"].data_dir).rglob("*") if p.name != "secret_key"
    )


@pytest.mark.parametrize(
    "filename, data, words",
    [("model.exe", b"MZ", "not a file grader accepts"), ("model.py", b"", "empty")],
)
def test_wrong_type_and_empty_files_are_refused(app, client, accounts, queue, filename, data, words):
    response = api_upload(client, accounts.token("ada@example.org"), filename, data)
    assert response.status_code == 400 and words in response.get_json()["error"]
    assert queue.enqueued == [] and submission_count(app) == 0


def test_an_unknown_assignment_is_refused(app, client, accounts, queue):
    response = api_upload(client, accounts.token("ada@example.org"), "m.py", b"x = 1\n", assignment="nope")
    assert response.status_code == 400
    assert queue.enqueued == [] and submission_count(app) == 0


def test_the_form_shows_a_refusal_next_to_the_assignment(app, client, auth, accounts, queue):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    response = submit_form(client, HOSTILE["zip-slip"][0], "model.zip")
    assert response.status_code == 400
    assert "outside" in response.get_data(as_text=True)
    assert queue.enqueued == [] and submission_count(app) == 0


def test_the_form_takes_the_reference_and_shows_its_submission(app, client, auth, accounts, queue):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    response = submit_form(client, REFERENCE.read_bytes(), "reference_keras.py")
    assert response.status_code == 302
    assert queue.enqueued and response.headers["Location"] == f"/submissions/{queue.enqueued[0][0]}"
