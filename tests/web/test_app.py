"""The app factory: settings, the secret key, nothing built at import time."""

from __future__ import annotations

import dataclasses
import stat

from grader.config import load_settings
from grader.services.queue import RecordingQueue
from grader.web import create_app


def settings_in(tmp_path, **changes):
    env = {"GRADER_DATA_DIR": str(tmp_path / "data"), "GRADER_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}"}
    return dataclasses.replace(load_settings(env), **changes)


def test_a_generated_secret_key_is_kept_private_and_reused(tmp_path):
    first = create_app(settings_in(tmp_path), queue=RecordingQueue())
    second = create_app(settings_in(tmp_path), queue=RecordingQueue())
    key_file = tmp_path / "data" / "secret_key"
    assert first.secret_key == second.secret_key == key_file.read_text()
    assert len(first.secret_key) >= 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_configured_secret_key_wins_and_nothing_is_written(tmp_path):
    app = create_app(settings_in(tmp_path, secret_key="from-the-environment"), queue=RecordingQueue())
    assert app.secret_key == "from-the-environment"
    assert not (tmp_path / "data" / "secret_key").exists()


def test_test_config_overrides_and_the_upload_cap_bounds_requests(tmp_path):
    app = create_app(settings_in(tmp_path, upload_max_bytes=1000), test_config={"TESTING": True})
    assert app.testing
    assert 1000 < app.config["MAX_CONTENT_LENGTH"] <= 1000 + 64 * 1024


def test_the_queue_is_not_built_until_an_upload_needs_it(tmp_path):
    app = create_app(settings_in(tmp_path))
    assert app.extensions["grader.queue"] is None


def _key_after_barrier(data_dir, barrier, keys):  # a server process starting
    from grader.web import _stored_secret_key

    barrier.wait()
    keys.put(_stored_secret_key(data_dir))


def test_server_processes_starting_at_once_all_get_the_same_key(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("fork")
    barrier, keys = context.Barrier(8), context.Queue()
    processes = [context.Process(target=_key_after_barrier, args=(tmp_path, barrier, keys)) for _ in range(8)]
    for process in processes:
        process.start()
    seen = {keys.get(timeout=30) for _ in processes}
    for process in processes:
        process.join(timeout=30)
    assert len(seen) == 1 and len(seen.pop()) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no candidate left behind


def test_a_server_process_connects_to_the_broker_at_start(tmp_path):
    from grader.web.services import warm_queue

    class Queue(RecordingQueue):
        warmed = 0

        def warm(self):
            self.warmed += 1

    queue = Queue()
    warm_queue(create_app(settings_in(tmp_path), queue=queue))
    assert queue.warmed == 1


def test_a_broker_down_at_start_is_logged_and_the_site_still_starts(tmp_path, caplog):
    from grader.services.queue import CeleryQueue
    from grader.web.services import warm_queue

    app = create_app(settings_in(tmp_path), queue=CeleryQueue("redis://127.0.0.1:1/0"))
    warm_queue(app)
    assert "could not connect to the broker at start" in caplog.text
