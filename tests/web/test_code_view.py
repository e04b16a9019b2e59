"""The submitted code on the grading log (highlighted, escaped) and its download; staff only."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.db import transaction
from grader.models import Assignment, Role, State, Submission
from grader.web import services
from grader.web.code_view import stylesheet

HOSTILE = b'def build_model(i, n):\n    return "</pre><script>alert(1)</script>"\n# <img src=x onerror=alert(2)>\n'


def add_upload(app, user_id: int, filename: str, data: bytes, *, stored: bool = True) -> int:
    """A scored submission whose upload is `data`, in the app's blob store unless `stored` is False."""
    with app.app_context():
        sha = services.store().put(data) if stored else "f" * 64
    with transaction(app.extensions["grader.sessions"]) as session:
        assignment = session.scalars(select(Assignment).where(Assignment.slug == "digits-mlp")).one()
        sub = Submission(
            user_id=user_id,
            assignment_id=assignment.id,
            filename=filename,
            blob_sha256=sha,
            size_bytes=len(data),
            state=State.SCORED,
            outcome="ok",
            score=1.0,
            max_score=10.0,
        )
        session.add(sub)
        session.flush()
        return sub.id


@pytest.fixture
def student(accounts) -> int:
    return accounts.add("sam@example.org")


@pytest.fixture
def ta(client, auth, accounts):
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")
    return client


def code_section(page: str) -> str:
    match = re.search(r'<section class="code".*?</section>', page, re.S)
    assert match, "no code section"
    return match.group(0)


def test_the_log_shows_the_py_file_highlighted_and_escaped(app, ta, student):
    sid = add_upload(app, student, "model.py", HOSTILE)
    page = ta.get(f"/staff/submissions/{sid}").get_data(as_text=True)
    section = code_section(page)
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "&lt;img src=x onerror=alert(2)&gt;" in section
    assert '<span class="k">def</span>' in section and '<span class="nf">build_model</span>' in section  # highlighted
    assert 'style="' not in section  # nothing the policy's style-src would have to allow
    assert '<a href="#code-0-3">3</a>' in section  # numbered lines, each a link
    assert 'href="/static/code.css"' in page


def test_a_zip_shows_each_text_file_and_lists_the_binary_ones(app, ta, student):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("submission.py", "from net import Net\n")
        archive.writestr("net.py", "class Net:  # <b>not bold</b>\n    pass\n")
        archive.writestr("weights.pt", b"\x80\x02\x00\x00binary")
    sid = add_upload(app, student, "work.zip", buffer.getvalue())
    section = code_section(ta.get(f"/staff/submissions/{sid}").get_data(as_text=True))
    names = re.findall(r"<summary>(\S+) <small>", section)
    assert names == ["submission.py", "net.py", "weights.pt"]
    assert "&lt;b&gt;not bold&lt;/b&gt;" in section and '<span class="nc">Net</span>' in section
    assert "binary file: not shown" in section


def test_a_notebook_shows_its_code_cells_in_order(app, ta, student):
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Title <script>x</script>"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1, "source": "import torch\n"},
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": 2,
            "source": "%matplotlib inline\nx = 1",
        },
    ]
    data = json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": cells}).encode()
    sid = add_upload(app, student, "work.ipynb", data)
    section = code_section(ta.get(f"/staff/submissions/{sid}").get_data(as_text=True))
    assert re.findall(r"<summary>(cell \d+) <small>", section) == ["cell 2", "cell 3"]
    assert "Title" not in section and "matplotlib" in section


def test_staff_download_the_original_bytes_under_a_safe_name(app, ta, student):
    sid = add_upload(app, student, 'my "model";\r\nX-Evil: 1.py', HOSTILE)
    page = ta.get(f"/staff/submissions/{sid}").get_data(as_text=True)
    assert f'href="/staff/submissions/{sid}/download"' in page
    response = ta.get(f"/staff/submissions/{sid}/download")
    assert response.status_code == 200 and response.data == HOSTILE
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == "attachment; filename=my_model_X-Evil_1.py"
    assert "X-Evil" not in response.headers


def test_a_non_ascii_name_keeps_its_letters_in_the_download(app, ta, student):
    sid = add_upload(app, student, "модель.py", b"x = 1\n")
    disposition = ta.get(f"/staff/submissions/{sid}/download").headers["Content-Disposition"]
    assert (
        disposition.startswith("attachment;")
        and "filename*=UTF-8''%D0%BC%D0%BE%D0%B4%D0%B5%D0%BB%D1%8C.py" in disposition
    )


def test_a_missing_blob_is_said_on_the_log_and_its_download_is_404(app, ta, student):
    sid = add_upload(app, student, "model.py", b"x = 1\n", stored=False)
    page = ta.get(f"/staff/submissions/{sid}").get_data(as_text=True)
    assert "not in storage" in code_section(page) and "/download" not in page
    assert ta.get(f"/staff/submissions/{sid}/download").status_code == 404


def test_students_and_visitors_cannot_read_or_download_the_code(app, client, auth, accounts, student):
    sid = add_upload(app, student, "model.py", HOSTILE)
    for path in (f"/staff/submissions/{sid}", f"/staff/submissions/{sid}/download"):
        assert client.get(path).status_code == 302  # to the login page
    auth.login("sam@example.org")  # the author, even
    for path in (f"/staff/submissions/{sid}", f"/staff/submissions/{sid}/download"):
        response = client.get(path)
        assert response.status_code == 403 and b"build_model" not in response.data


def test_the_stylesheet_holds_every_rule_pygments_writes():
    css = (Path(__file__).parents[2] / "grader/web/static/code.css").read_text()
    assert stylesheet() in css
