"""The result page of a language model: its figures beside the baselines and the floor, and its sample text."""

from __future__ import annotations

import datetime as dt

from grader.db import transaction
from grader.models import Assignment, State, Submission

METRICS = {
    "perplexity": 1.6514,
    "bits_per_token": 0.7235,
    "accuracy": 0.817,
    "parameters": 66844,
    "score_form": "logits",
    "improbable_tokens": 2,
    "baselines": {
        "uniform": {"perplexity": 28.0, "bits_per_token": 4.807355, "accuracy": 0.035714},
        "unigram": {"perplexity": 18.032769, "bits_per_token": 4.172549, "accuracy": 0.184},
        "bigram": {"perplexity": 7.110903, "bits_per_token": 2.830033, "accuracy": 0.327},
    },
    "entropy_floor": {"bits_per_token": 0.621108, "perplexity": 1.537964},
    "prompt": "every book helps this",
    "sample": " cat sleeps. <script>alert(1)</script> \ufffd",
}


def add_language_model_result(app, user_id: int, metrics: dict) -> int:
    now = dt.datetime.now(dt.timezone.utc)
    result = {
        "status": "scored",
        "outcome": "ok",
        "score": 100.0,
        "max_score": 100.0,
        "metrics": metrics,
        "criteria": [],
        "student_message": "Your code ran and its results were scored.",
        "log": "",
        "resources": {"wall_s": 20.0, "cpu_s": 16.0},
    }
    with transaction(app.extensions["grader.sessions"]) as session:
        assignment = Assignment(slug="char-lm", title="Character-level language model", topic=4, task="language_model")
        session.add(assignment)
        session.flush()
        sub = Submission(
            user_id=user_id,
            assignment_id=assignment.id,
            filename="lm.py",
            blob_sha256="0" * 64,
            size_bytes=10,
            state=State.SCORED,
            result=result,
            outcome="ok",
            score=100.0,
            max_score=100.0,
            started_at=now,
            finished_at=now,
        )
        session.add(sub)
        session.flush()
        return sub.id


def test_the_figures_stand_beside_the_baselines_and_the_floor(app, client, auth, accounts):
    sid = add_language_model_result(app, accounts.add("ada@example.org"), METRICS)
    auth.login("ada@example.org")
    page = client.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "<dt>Perplexity</dt>\n  <dd>1.651</dd>" in page and "<dt>Bits per character</dt>" in page
    assert "<dt>Top-1 accuracy</dt>\n  <dd>0.817</dd>" in page
    assert "<td><strong>1.651</strong></td><td><strong>0.724</strong></td>" in page  # rounded from 0.7235
    assert "Bigram: the next character given the last one</th><td>7.111</td><td>2.830</td><td>0.327</td>" in page
    assert "Uniform: every character equally likely</th><td>28.000</td>" in page
    assert "Entropy floor of the source (no model can do better on average)</th><td>1.538</td><td>0.621</td>" in page
    assert "read as logits and normalised with a softmax" in page
    assert "2 of the hidden next characters had a probability below 1e-9" in page


def test_the_sample_text_is_shown_escaped(app, client, auth, accounts):
    sid = add_language_model_result(app, accounts.add("ada@example.org"), METRICS)
    auth.login("ada@example.org")
    page = client.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "<h2>Sample text</h2>" in page and "<q>every book helps this</q>" in page
    assert " cat sleeps. &lt;script&gt;alert(1)&lt;/script&gt; \ufffd</pre>" in page
    assert "<script>alert(1)" not in page


def test_a_sample_that_could_not_be_shown_says_why(app, client, auth, accounts):
    metrics = {key: value for key, value in METRICS.items() if key not in ("sample", "prompt")}
    metrics["sample_problem"] = "generate must return whole-number token ids; it returned fractions"
    sid = add_language_model_result(app, accounts.add("ada@example.org"), metrics)
    auth.login("ada@example.org")
    page = client.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "<h2>Sample text</h2>" not in page
    assert "Your generate() output is not shown: generate must return whole-number token ids" in page
