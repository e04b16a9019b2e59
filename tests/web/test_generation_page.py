"""The generation kind's result page and its sample grid, from a result grader stored for real."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from grader.db import transaction
from grader.models import Assignment, State, Submission
from grader.web.charts_generation import png, sample_grid

STORED = Path(__file__).resolve().parents[1] / "fixtures" / "stored"


@pytest.fixture
def reference_result() -> dict:
    """The full-size PyTorch reference of digits-generate, graded for real: 100 points."""
    return json.loads((STORED / "generation-reference-torch.json").read_text())


def add_result(app, user_id: int, result: dict) -> int:
    """A scored submission of a generation assignment carrying `result`."""
    now = dt.datetime.now(dt.timezone.utc)
    with transaction(app.extensions["grader.sessions"]) as session:
        assignment = session.scalars(select(Assignment).where(Assignment.slug == "digits-generate")).first()
        if assignment is None:
            assignment = Assignment(slug="digits-generate", title="Draw digits", topic=6, task="generation")
            session.add(assignment)
            session.flush()
        submission = Submission(
            user_id=user_id, assignment_id=assignment.id, filename="cvae.py", blob_sha256="0" * 64, size_bytes=10,
            state=State.SCORED, result=result, outcome=result["outcome"], score=result["score"],
            max_score=result["max_score"], started_at=now, finished_at=now,
        )  # fmt: skip
        session.add(submission)
        session.flush()
        return submission.id


def page_of(app, client, auth, accounts, result: dict) -> str:
    sid = add_result(app, accounts.add("ada@example.org"), result)
    auth.login("ada@example.org")
    return client.get(f"/submissions/{sid}").get_data(as_text=True)


def decoded(data: bytes) -> list[list[int]]:
    """The grey levels of an 8-bit greyscale PNG (Pillow checks its chunks on the way)."""
    image = Image.open(io.BytesIO(data), formats=["PNG"])
    assert image.mode == "L"
    return np.asarray(image).tolist()


def test_a_sample_becomes_a_png_with_ink_dark_on_white():
    image = [[(x * 32 + y) % 256 for x in range(8)] for y in range(8)]
    assert decoded(png(image)) == [[255 - value for value in row] for row in image]


def test_the_page_shows_the_judge_s_measures_and_every_label_s_samples(app, client, auth, accounts, reference_result):
    page = page_of(app, client, auth, accounts, reference_result)
    metrics = reference_result["metrics"]
    assert f"<dt>Frechet distance</dt>\n  <dd>{metrics['frechet_distance']:.3f}</dd>" in page
    assert f"<dt>Copy rate</dt>\n  <dd>{metrics['copy_rate']:.3f}</dd>" in page
    assert f"({metrics['scored_samples']:,} samples were measured)" in page
    assert page.count('src="data:image/png;base64,') == 80
    first = re.search(r'<img src="data:image/png;base64,([^"]+)" width="32" height="32" alt="label 0, read as 0"', page)
    assert decoded(base64.b64decode(first.group(1))) == [
        [255 - v for v in row] for row in metrics["grid"]["images"][0][0]
    ]
    for entry in metrics["per_label"]:
        assert f"label {entry['label']}: read as {entry['label']} in {entry['agreeing']} of 100 samples" in page


def test_copies_are_marked_and_a_distance_that_could_not_be_measured_says_why(
    app, client, auth, accounts, reference_result
):
    result = copy.deepcopy(reference_result)
    metrics = result["metrics"]
    metrics.update(frechet_distance=None, copy_rate=1.0, label_agreement=0.0)
    metrics["grid"]["copies"] = [[True] * 8 for _ in range(10)]
    metrics["per_label"] = [dict(entry, agreeing=0, copies=100) for entry in metrics["per_label"]]
    page = page_of(app, client, auth, accounts, result)
    assert "<dt>Frechet distance</dt>\n  <dd>not measured" in page
    assert page.count("a near-copy of a training image") == 80 and page.count("<strong>copy</strong>") == 80
    assert "label 4: read as 4 in 0 of 100 samples; 100 near-copies of training images (not counted)" in page


@pytest.mark.parametrize(
    "grid",
    [
        None,
        "not a grid",
        {"labels": [0], "images": []},
        {"labels": [0], "images": [[[[0, 1], [2]]]]},  # ragged
        {"labels": [0], "images": [[[[300] * 8] * 8]]},  # not a grey level
        {"labels": [0], "images": [[[["<b>"] * 8] * 8]]},
    ],
)
def test_a_malformed_grid_draws_nothing_it_cannot_trust(grid):
    drawn = sample_grid(grid, None)
    assert "data:image/png" not in drawn and "<b>" not in drawn


def test_labels_in_the_grid_are_escaped():
    drawn = sample_grid({"labels": ["<script>"], "images": [[[[0] * 8] * 8]], "judged": [[1]]}, None)
    assert "<script>" not in drawn and "&lt;script&gt;" in drawn
