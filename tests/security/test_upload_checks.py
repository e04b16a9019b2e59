"""Item 18: each hostile upload of the review answers a precise 400 (never 500), expansion is bounded before
anything is written, uploads are unpacked a few at a time, and no message names a scratch path."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
import zipfile

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.core.errors import BadSubmission, InfrastructureError
from grader.db import transaction
from grader.models import Assignment
from grader.services.queue import RecordingQueue
from grader.services.submissions import UploadLimits
from grader.services.uploads import check_whole, unpacking_slot
from grader.web import create_app
from tests.security.conftest import security_settings
from tests.web.conftest import Accounts, submit_form
from tests.web.helpers import submission_count

CODE = b"def build_model(input_dim, num_classes):\n    return None\n"


def zip_of(*entries: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def notebook_with_source(source) -> bytes:
    cell = new_code_cell("x = 1")
    notebook = json.loads(nbformat.writes(new_notebook(cells=[cell])))
    notebook["cells"][0]["source"] = source
    return json.dumps(notebook).encode()


HOSTILE = {
    "file and folder of one name": (
        "work.zip",
        zip_of(("submission.py", CODE), ("lib", b"x"), ("lib/util.py", b"y = 2\n")),
        "The .zip has both a file and a folder named 'lib': rename one of them.",
    ),
    "folder entry and file of one name": (
        "work.zip",
        zip_of(("submission.py", CODE), ("lib/", b""), ("lib", b"x")),
        "The .zip has both a file and a folder named 'lib': rename one of them.",
    ),
    "submission.py next to ./submission.py": (
        "work.zip",
        zip_of(("submission.py", CODE), ("./submission.py", CODE)),
        "The .zip holds 'submission.py' twice: create it again with each file once.",
    ),
    "a 300-character entry name": (
        "work.zip",
        zip_of(("submission.py", CODE), ("a" * 300 + ".py", b"x")),
        "has too long a name: at most 255 bytes a file or folder name",
    ),
    "a notebook whose source is a number": (
        "hw.ipynb",
        notebook_with_source(12),
        "The notebook's cell 1 is broken: its source is a number, not text.",
    ),
    "only a folder named submission.py": (
        "work.zip",
        zip_of(("submission.py/", b""), ("submission.py/model.py", CODE)),
        "The .zip's submission.py is a folder: submission.py must be the file with your code.",
    ),
    "a 54 KB zip of 49 MiB": (
        "bomb.zip",
        zip_of(("submission.py", CODE), ("zeros.bin", b"\0" * (49 * 1024**2))),
        "more than 100 times its size; such archives are refused.",
    ),
}


def api_upload(client, token: str, filename: str, data: bytes):
    files = {"assignment": "digits-mlp", "file": (io.BytesIO(data), filename)}
    return client.post("/api/v1/submissions", headers={"Authorization": f"Bearer {token}"}, data=files)


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_each_hostile_upload_gets_a_precise_400_and_nothing_is_stored(app, client, accounts, queue, case):
    filename, data, words = HOSTILE[case]
    response = api_upload(client, accounts.token("ada@example.org"), filename, data)
    message = response.get_json()["error"]
    assert response.status_code == 400 and words in message
    assert queue.enqueued == [] and submission_count(app) == 0
    scratch = app.config["GRADER_SETTINGS"].run_dir
    assert str(scratch) not in message and "/tmp" not in message and "/dev/shm" not in message
    assert [p.name for p in scratch.iterdir()] == ["upload-slots"]  # nothing left behind


def test_the_same_checks_answer_400_through_the_form(app, client, auth, accounts):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    for case, (filename, data, words) in HOSTILE.items():
        response = submit_form(client, data, filename)
        assert response.status_code == 400, case
        assert words.replace("'", "&#39;") in response.get_data(as_text=True), case


def test_a_zip_bomb_is_refused_before_a_byte_is_written(tmp_path):
    """Before: 49 MiB written to scratch, then refused. Now the declared sizes decide, and scratch stays empty."""
    _, data, _ = HOSTILE["a 54 KB zip of 49 MiB"]
    assert len(data) < 60 * 1024
    written = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            written.append(sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()))
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with pytest.raises(BadSubmission):
            check_whole("bomb.zip", data, UploadLimits(), tmp_path, at_once=4, wait_seconds=1)
    finally:
        stop.set()
        watcher.join()
    assert max(written, default=0) == 0


def test_uploads_wait_for_a_free_place_to_unpack_and_write_nothing_while_they_wait(tmp_path):
    data = zip_of(("submission.py", CODE))
    done = threading.Event()

    def upload() -> None:
        check_whole("w.zip", data, UploadLimits(), tmp_path, at_once=2, wait_seconds=10)
        done.set()

    with unpacking_slot(tmp_path, 2, 0), unpacking_slot(tmp_path, 2, 0):  # both slots taken
        waiting = threading.Thread(target=upload)
        waiting.start()
        time.sleep(0.5)
        assert not done.is_set()
        assert [p.name for p in tmp_path.iterdir()] == ["upload-slots"]  # no folder unpacked meanwhile
    waiting.join(timeout=10)
    assert done.is_set()


def test_at_most_the_configured_number_unpack_at_once(tmp_path):
    inside, peak, lock = [0], [0], threading.Lock()

    def unpack() -> None:
        with unpacking_slot(tmp_path, 3, wait_seconds=10):
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.05)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=unpack) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 3


def test_when_no_place_frees_up_the_upload_is_refused_as_busy_without_paths(tmp_path):
    with unpacking_slot(tmp_path, 1, 0), pytest.raises(InfrastructureError) as caught:
        with unpacking_slot(tmp_path, 1, wait_seconds=0.2):
            pass
    assert "Try again in a minute" in caught.value.student_message
    assert str(tmp_path) not in caught.value.student_message


@pytest.fixture
def impatient_app(tmp_path, database_url):
    """An app whose uploads wait at most 0.2 s for a slot to unpack in."""
    settings = security_settings(tmp_path, database_url, GRADER_UPLOAD_CHECK_WAIT_SECONDS="0.2")
    app = create_app(settings, queue=RecordingQueue(), test_config={"TESTING": True})
    with transaction(app.extensions["grader.sessions"]) as session:
        session.add(Assignment(slug="digits-mlp", title="Digits with an MLP", topic=1))
    yield app
    app.extensions["grader.engine"].dispose()


def test_a_busy_upload_answers_503_with_retry_after(impatient_app):
    scratch = impatient_app.config["GRADER_SETTINGS"].run_dir
    token = Accounts(impatient_app).token("ada@example.org")
    with contextlib.ExitStack() as held:
        for _ in range(4):  # every slot taken, as by four large uploads
            held.enter_context(unpacking_slot(scratch, 4, 0))
        response = api_upload(impatient_app.test_client(), token, "model.py", CODE)
    message = response.get_json()["error"]
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "nothing was stored" in message and str(scratch) not in message
    assert impatient_app.extensions["grader.queue"].enqueued == [] and submission_count(impatient_app) == 0
