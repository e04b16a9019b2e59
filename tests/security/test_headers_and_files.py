"""Item 17: security headers on every response, Secure cookies when asked (and in docker/), no versions in
`Server`, the raw log never sniffed, and data files private to the service's user."""

from __future__ import annotations

import re
import stat
import threading
from pathlib import Path

import pytest
import requests
import yaml
from werkzeug.serving import make_server

from grader.config import PROJECT_ROOT, load_settings
from grader.db import transaction
from grader.models import Assignment, State
from grader.services.queue import RecordingQueue
from grader.web import create_app
from grader.web.headers import SiteRequestHandler
from tests.databases import migrated_database
from tests.e2e.conftest import BIN, free_port, start, stop, wait_until_up
from tests.security.conftest import AuthActions, logged_in, security_settings
from tests.web.conftest import Accounts, submit_form
from tests.web.helpers import add_scored, add_submission

TEMPLATES = PROJECT_ROOT / "grader" / "web" / "templates"
DOCKER = PROJECT_ROOT / "docker"


def csp(response) -> dict[str, str]:
    """The Content-Security-Policy as {directive: sources}."""
    policy = response.headers["Content-Security-Policy"]
    return dict((part.strip().split(" ", 1) + [""])[:2] for part in policy.split(";"))


def assert_hardened(response, name: str) -> None:
    assert response.headers.get("X-Content-Type-Options") == "nosniff", name
    assert response.headers.get("Referrer-Policy") == "same-origin", name
    assert csp(response)["frame-ancestors"] == "'none'"


def test_every_kind_of_response_carries_the_security_headers(app, client, accounts):
    sam = accounts.add("sam@example.org")
    sid = add_scored(app, sam)
    browser = logged_in(app, "sam@example.org")
    token = accounts.token("tok@example.org")
    responses = {
        "login page": client.get("/auth/login"),
        "redirect": client.get("/submissions"),
        "page": browser.get(f"/submissions/{sid}"),
        "json": browser.get(f"/submissions/{sid}/status.json"),
        "log": browser.get(f"/submissions/{sid}/log"),
        "api": client.get("/api/v1/assignments", headers={"Authorization": f"Bearer {token}"}),
        "api 401": client.get("/api/v1/assignments"),
        "404": browser.get("/no/such/page"),
        "static": client.get("/static/app.js"),
        "health": client.get("/up"),
    }
    for name, response in responses.items():
        assert_hardened(response, name)


def test_the_page_policy_allows_only_this_sites_scripts_and_data_images(client):
    policy = csp(client.get("/auth/login"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval
    assert policy["style-src"] == "'self'" and policy["style-src-attr"] == "'unsafe-inline'"
    assert policy["img-src"] == "'self' data:"  # the rl replay is a data: GIF
    assert policy["connect-src"] == "'self'" and policy["form-action"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert client.get("/auth/login").headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.relative_to(TEMPLATES).as_posix()
)
def test_no_template_needs_an_inline_script_or_style_block(template: Path):
    """What the policy forbids must not be in a page: it would silently stop working."""
    text = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", text, re.IGNORECASE), "inline <script>"
    assert not re.search(r"<style\b", text, re.IGNORECASE), "<style> block"
    assert not re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE), "on* handler"
    assert "javascript:" not in text.lower()


def test_the_raw_log_is_plain_text_that_nothing_runs(app, accounts):
    sam = accounts.add("sam@example.org")
    sid = add_submission(app, sam, State.FAILED, result={"log": "<html><script>alert(1)</script>"})
    response = logged_in(app, "sam@example.org").get(f"/submissions/{sid}/log")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert csp(response) == {"default-src": "'none'", "frame-ancestors": "'none'", "sandbox": ""}
    assert response.get_data(as_text=True) == "<html><script>alert(1)</script>"


def login_cookie(settings, email: str) -> str:
    """The Set-Cookie line of the session cookie a login answers, on an app built from `settings`."""
    app = create_app(settings, queue=RecordingQueue())
    Accounts(app).add(email)
    response = AuthActions(app.test_client()).login(email)
    app.extensions["grader.engine"].dispose()
    return next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))


def test_cookies_are_http_only_same_site_and_secure_only_when_asked(tmp_path):
    with migrated_database("sqlite", tmp_path) as url:
        plain = login_cookie(security_settings(tmp_path / "a", url), "ada@example.org")
        secure = login_cookie(security_settings(tmp_path / "b", url, GRADER_SECURE_COOKIES="true"), "bo@example.org")
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    assert "Secure" in secure


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_a_secure_cookies_setting_that_is_not_yes_or_no_stops_the_start(value):
    with pytest.raises(ValueError, match="GRADER_SECURE_COOKIES must be true or false"):
        load_settings({"GRADER_SECURE_COOKIES": value})


def test_docker_turns_secure_cookies_on_and_trusts_its_one_proxy():
    web_image_env = " ".join(line for line in (DOCKER / "web.Dockerfile").read_text().splitlines())
    assert "GRADER_SECURE_COOKIES=true" in web_image_env
    environment = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]["web"]["environment"]
    assert environment["GRADER_SECURE_COOKIES"] == "${GRADER_SECURE_COOKIES:-true}"
    assert environment["GRADER_PROXY_HOPS"] == "${GRADER_PROXY_HOPS:-1}"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_files_are_private_to_the_service_user(tmp_path, database_url):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    (data / "demo-worker.log").write_text("started\n")  # as a worker started before the site leaves it
    (data / "demo-worker.log").chmod(0o644)
    app = create_app(security_settings(tmp_path, database_url), queue=RecordingQueue(), test_config={"TESTING": True})
    Accounts(app).add("sam@example.org")
    with transaction(app.extensions["grader.sessions"]) as session:
        session.add(Assignment(slug="digits-mlp", title="Digits", topic=1))
    assert submit_form(logged_in(app, "sam@example.org"), b"x = 1\n").status_code == 302
    app.extensions["grader.engine"].dispose()
    assert mode(data) == 0o700 and mode(data / "blobs") == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"demo-worker.log", "secret_key"} and len(files) >= 3  # and the blob
    assert all(mode(p) & 0o077 == 0 for p in files), {p.name: oct(mode(p)) for p in files}


def test_the_database_file_is_private_once_the_site_starts(tmp_path):
    with migrated_database("sqlite", tmp_path / "db") as url:
        database = Path(url.removeprefix("sqlite:///"))
        database.chmod(0o644)  # as `grader db upgrade` leaves it
        settings = load_settings({"GRADER_DATA_DIR": str(database.parent), "GRADER_DATABASE_URL": url})
        create_app(settings, queue=RecordingQueue()).extensions["grader.engine"].dispose()
        assert mode(database) == 0o600 and mode(database.parent) == 0o700


def test_gunicorn_names_itself_without_a_version(tmp_path):
    with migrated_database("sqlite", tmp_path) as url:
        env = {"GRADER_DATA_DIR": str(tmp_path / "data"), "GRADER_DATABASE_URL": url}
        port, log = free_port(), tmp_path / "web.log"
        web = start([str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "grader.wsgi:app"], env, log)
        try:
            wait_until_up(f"http://127.0.0.1:{port}", web, log)
            response = requests.get(f"http://127.0.0.1:{port}/auth/login", timeout=10)
        finally:
            stop(web)
    assert response.headers["Server"] == "gunicorn"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_development_server_names_itself_without_versions(app):
    server = make_server("127.0.0.1", 0, app, request_handler=SiteRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        response = requests.get(f"http://127.0.0.1:{server.server_port}/up", timeout=10)
    finally:
        server.shutdown()
    assert response.headers["Server"] == "grader"
