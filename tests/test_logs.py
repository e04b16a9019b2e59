"""Structured logs: records carry the submission id, as text or as JSON."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask

from grader import logs
from grader.config import load_settings


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_text_lines_name_the_submission_inside_its_context_only():
    stream = io.StringIO()
    logs.configure_logging("text", stream=stream)
    log = logging.getLogger("grader.worker")
    with logs.submission_context(42):
        log.info("attempt 1 started")
        logging.getLogger("celery.app.trace").info("any library's record too")
    log.info("sweeping")
    first, second, third = lines(stream)
    assert "grader.worker: submission=42 attempt 1 started" in first
    assert "submission=42 any library's record too" in second
    assert third.endswith("grader.worker: sweeping") and "submission=" not in third


def test_json_records_carry_the_id_level_logger_and_traceback():
    stream = io.StringIO()
    logs.configure_logging("json", stream=stream)
    with logs.submission_context(7):
        try:
            raise RuntimeError("sandbox went away")
        except RuntimeError:
            logging.getLogger("grader.worker").exception("submission %s: attempt %s failed", 7, 2)
    logging.getLogger("grader.worker").warning("no submission here", extra={"submission_id": 9})
    failed, explicit = (json.loads(line) for line in lines(stream))
    assert (failed["submission_id"], failed["level"], failed["logger"]) == (7, "ERROR", "grader.worker")
    assert (
        failed["message"] == "submission 7: attempt 2 failed"
        and "RuntimeError: sandbox went away" in failed["exc_info"]
    )
    assert failed["time"].endswith("+00:00") and failed["pid"] > 0
    assert explicit["submission_id"] == 9  # an explicit extra wins (a thread that knows its submission)


def test_the_context_ends_with_the_block_even_on_error():
    with pytest.raises(ValueError), logs.submission_context(5):
        raise ValueError
    assert logs.current_submission.get() is None


def test_configuring_replaces_basic_console_handlers_and_keeps_others():
    root = logging.getLogger()
    root.addHandler(logging.StreamHandler(io.StringIO()))  # what logging.basicConfig installs
    keep = logging.NullHandler()
    root.addHandler(keep)
    logs.configure_logging("text")
    logs.configure_logging("json")  # again: still one handler of ours
    ours = [h for h in root.handlers if h.get_name() == logs.HANDLER_NAME]
    assert len(ours) == 1 and isinstance(ours[0].formatter, logs.JsonFormatter)
    assert keep in root.handlers
    assert not [h for h in root.handlers if type(h) is logging.StreamHandler and h not in ours]


def test_web_requests_about_a_submission_are_tagged_and_the_next_one_is_not(capsys):
    app = Flask("t")

    @app.get("/submissions/<int:submission_id>")
    def show(submission_id: int) -> str:
        app.logger.info("shown")
        return "ok"

    @app.get("/")
    def home() -> str:
        app.logger.info("home")
        return "ok"

    logs.init_app(app, "json")  # on stderr, whatever stderr is at the time
    client = app.test_client()
    client.get("/submissions/12")
    client.get("/")
    shown, plain = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert (shown["message"], shown["submission_id"]) == ("shown", 12)
    assert (plain["message"], plain["submission_id"]) == ("home", None)


def test_an_unknown_log_format_is_refused_with_what_to_set():
    assert load_settings({"GRADER_LOG_FORMAT": " JSON "}).log_format == "json"
    with pytest.raises(ValueError, match="GRADER_LOG_FORMAT must be 'text' or 'json', not 'xml'"):
        load_settings({"GRADER_LOG_FORMAT": "xml"})


def test_warm_pools_are_read_as_pool_and_size_pairs():
    from grader.config import load_settings

    assert load_settings({}).warm_pools == {"torch": 1, "keras": 1, "lightning": 1, "none": 1}
    assert load_settings({"GRADER_WARM_POOLS": "torch:2, keras:0"}).warm_pools == {"torch": 2}
    assert load_settings({"GRADER_WARM_POOLS": "off"}).warm_pools == {}
    with pytest.raises(ValueError, match=r"GRADER_WARM_POOLS: 'jax:1' is not pool:size with a pool among torch"):
        load_settings({"GRADER_WARM_POOLS": "jax:1"})
