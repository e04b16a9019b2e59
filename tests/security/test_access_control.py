"""Access control on every route: who may open what, for the site (cookies) and the API (tokens).

The table ROUTES names the least role each route needs; the first test fails
when a route is added without an entry, so a new page cannot skip these probes.
Refusals: the login page for anonymous visitors of the site, 401 for the API
without a valid token, 403 for a role below the route's, 404 for another
student's submission.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from grader.db import transaction
from grader.models import Assignment, Extension, Role, Submission, utcnow
from grader.services.queue import RecordingQueue
from grader.web import create_app, services
from tests.databases import migrated_database
from tests.security.conftest import csrf_token, logged_in, security_settings
from tests.web.conftest import Accounts
from tests.web.helpers import add_scored

# (method, rule) -> the least role: public, user (any login), staff (TA), instructor; token / staff-token (API).
ROUTES = {
    ("GET", "/"): "user",
    ("GET", "/account"): "user",
    ("POST", "/account/tokens"): "user",
    ("POST", "/account/tokens/<int:token_id>/revoke"): "user",
    ("GET", "/api/v1/assignments"): "token",
    ("GET", "/api/v1/grades/me"): "token",
    ("GET", "/api/v1/staff/submissions"): "staff-token",
    ("GET", "/api/v1/staff/submissions/<int:submission_id>"): "staff-token",
    ("POST", "/api/v1/staff/submissions/<int:submission_id>/override"): "staff-token",
    ("POST", "/api/v1/staff/submissions/<int:submission_id>/override/withdraw"): "staff-token",
    ("POST", "/api/v1/staff/submissions/<int:submission_id>/rerun"): "staff-token",
    ("POST", "/api/v1/staff/submissions/rerun"): "staff-token",
    ("POST", "/api/v1/submissions"): "token",
    ("GET", "/api/v1/submissions/<int:submission_id>"): "token",
    ("GET", "/api/v1/workers"): "staff-token",
    ("GET", "/assignments/<slug>"): "user",
    ("GET", "/assignments/<slug>/starter/<name>"): "user",
    ("POST", "/assignments/<slug>/submit"): "user",
    ("GET", "/auth/login"): "public",
    ("POST", "/auth/login"): "public",
    ("POST", "/auth/logout"): "public",
    ("GET", "/auth/password"): "user",
    ("POST", "/auth/password"): "user",
    ("POST", "/auth/users/<int:user_id>/sessions/end"): "instructor",
    ("GET", "/grades"): "user",
    ("GET", "/staff/assignments/"): "instructor",
    ("POST", "/staff/assignments/<slug>/extensions"): "instructor",
    ("POST", "/staff/assignments/<slug>/extensions/<int:extension_id>/revoke"): "instructor",
    ("POST", "/staff/assignments/<slug>/publish"): "instructor",
    ("POST", "/staff/assignments/<slug>/references"): "instructor",
    ("GET", "/staff/assignments/<slug>/rubric"): "instructor",
    ("POST", "/staff/assignments/<slug>/rubric"): "instructor",
    ("GET", "/staff/assignments/<slug>/settings"): "instructor",
    ("POST", "/staff/assignments/<slug>/settings"): "instructor",
    ("POST", "/staff/assignments/upload"): "instructor",
    ("GET", "/staff/gradebook"): "staff",
    ("GET", "/staff/gradebook.csv"): "staff",
    ("GET", "/staff/scores"): "staff",
    ("POST", "/staff/scores/<component_id>"): "staff",
    ("POST", "/staff/scores/<component_id>/import"): "staff",
    ("GET", "/staff/students/<int:user_id>/grades"): "staff",
    ("GET", "/staff/submissions"): "staff",
    ("GET", "/staff/submissions/<int:submission_id>"): "staff",
    ("GET", "/staff/submissions/<int:submission_id>/download"): "staff",
    ("POST", "/staff/submissions/<int:submission_id>/override"): "staff",
    ("POST", "/staff/submissions/<int:submission_id>/override/withdraw"): "staff",
    ("POST", "/staff/submissions/<int:submission_id>/rerun"): "staff",
    ("POST", "/staff/submissions/rerun"): "staff",
    ("GET", "/staff/workers"): "staff",
    ("GET", "/staff/workers.json"): "staff",
    ("GET", "/static/<path:filename>"): "public",
    ("GET", "/submissions"): "user",
    ("GET", "/submissions/<int:submission_id>"): "user",
    ("GET", "/submissions/<int:submission_id>/log"): "user",
    ("GET", "/submissions/<int:submission_id>/status.json"): "user",
    ("GET", "/up"): "public",
    ("GET", "/up/ready"): "public",
}
SITE_ROLES = {"user": "student", "staff": "ta", "instructor": "instructor"}
BELOW = {"staff": ("student",), "instructor": ("student", "ta"), "staff-token": ("student",)}


@dataclass
class Site:
    """One app with a user per role, each logged in (its own cookie jar) and with an API token."""

    app: Flask
    browsers: dict[str, FlaskClient]
    tokens: dict[str, str]
    values: dict[str, object]  # what fills the rules' <parameters>
    others: dict[str, int]  # another student's submission and user id

    def path(self, rule: str) -> str:
        for name, value in self.values.items():
            for kind in ("", "int:", "path:"):
                rule = rule.replace(f"<{kind}{name}>", str(value))
        return rule

    def send(self, client: FlaskClient, method: str, path: str, headers: dict | None = None):
        if method == "GET":
            return client.get(path, headers=headers or {})
        data = {} if path.startswith("/api/") else {"csrf_token": csrf_token(client, "/auth/login")}
        return client.post(path, data=data, headers=headers or {})


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("access")
    with migrated_database("sqlite", tmp) as url:
        app = create_app(security_settings(tmp, url), queue=RecordingQueue(), test_config={"TESTING": True})
        accounts = Accounts(app)
        ids = {role: accounts.add(f"{role}@example.org", Role(role)) for role in ("student", "ta", "instructor")}
        other = accounts.add("other@example.org")
        with transaction(app.extensions["grader.sessions"]) as session:
            assignment = Assignment(slug="digits-mlp", title="Digits with an MLP", topic=1)
            session.add(assignment)
            session.flush()
            extension = Extension(
                assignment_id=assignment.id, user_id=other, due_at=utcnow(), reason="ill",
                granted_by_id=ids["instructor"],
            )  # fmt: skip
            session.add(extension)
            session.flush()
            extension_id = extension.id
        own, others = add_scored(app, ids["student"]), add_scored(app, other)
        with app.app_context(), transaction(app.extensions["grader.sessions"]) as session:
            session.get(Submission, own).blob_sha256 = services.store().put(b"x = 1\n")  # for its download
        tokens = {role: accounts.token(f"{role}-api@example.org", Role(role)) for role in ("student", "ta")}
        yield Site(
            app=app,
            browsers={role: logged_in(app, f"{role}@example.org") for role in ids},
            tokens=tokens,
            values={
                "slug": "digits-mlp",
                "submission_id": own,
                "user_id": other,
                "component_id": "theory",
                "extension_id": extension_id,
                "filename": "app.js",
                "name": "starter.py",
                "token_id": 1,
            },
            others={"submission": others, "user": other},
        )
        app.extensions["grader.engine"].dispose()


def routes_of(*needs: str) -> list[tuple[str, str]]:
    return [key for key, need in ROUTES.items() if need in needs]


def test_every_route_is_in_the_table(site: Site):
    served = {
        (method, rule.rule) for rule in site.app.url_map.iter_rules() for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served == set(ROUTES)


@pytest.mark.parametrize(("method", "rule"), routes_of("user", "staff", "instructor"))
def test_anonymous_visitors_are_sent_to_the_login_page(site: Site, method, rule):
    response = site.send(site.app.test_client(), method, site.path(rule))
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


@pytest.mark.parametrize(("method", "rule"), routes_of("staff", "instructor"))
def test_roles_below_a_route_are_refused(site: Site, method, rule):
    for role in BELOW[ROUTES[(method, rule)]]:
        response = site.send(site.browsers[role], method, site.path(rule))
        assert response.status_code == 403, role


@pytest.mark.parametrize(("method", "rule"), [k for k in routes_of("user", "staff", "instructor") if k[0] == "GET"])
def test_the_least_role_a_page_names_may_open_it(site: Site, method, rule):
    response = site.send(site.browsers[SITE_ROLES[ROUTES[(method, rule)]]], method, site.path(rule))
    assert response.status_code == 200


@pytest.mark.parametrize(("method", "rule"), routes_of("token", "staff-token"))
def test_the_api_wants_a_valid_token_and_ignores_cookies(site: Site, method, rule):
    path = site.path(rule)
    assert site.send(site.app.test_client(), method, path).status_code == 401
    bad = {"Authorization": "Bearer grd_not-a-real-token"}
    assert site.send(site.app.test_client(), method, path, bad).status_code == 401
    assert site.send(site.browsers["instructor"], method, path).status_code == 401  # a login cookie is no token


@pytest.mark.parametrize(("method", "rule"), routes_of("staff-token"))
def test_a_students_token_is_refused_by_the_staff_api(site: Site, method, rule):
    student = {"Authorization": f"Bearer {site.tokens['student']}"}
    assert site.send(site.app.test_client(), method, site.path(rule), student).status_code == 403
    ta = {"Authorization": f"Bearer {site.tokens['ta']}"}
    assert site.send(site.app.test_client(), method, site.path(rule), ta).status_code not in (401, 403)


def test_a_token_is_no_login_for_the_site(site: Site):
    response = site.app.test_client().get("/", headers={"Authorization": f"Bearer {site.tokens['ta']}"})
    assert response.status_code == 302


@pytest.mark.parametrize("suffix", ["", "/status.json", "/log"])
def test_a_student_cannot_see_another_students_submission(site: Site, suffix):
    response = site.browsers["student"].get(f"/submissions/{site.others['submission']}{suffix}")
    assert response.status_code == 404


def test_a_students_token_sees_only_their_own_submissions(site: Site):
    token = {"Authorization": f"Bearer {site.tokens['student']}"}
    client = site.app.test_client()
    assert client.get(f"/api/v1/submissions/{site.others['submission']}", headers=token).status_code == 404
    assert client.get(f"/api/v1/submissions/{site.values['submission_id']}", headers=token).status_code == 404


def test_a_student_sees_no_one_elses_grades_or_submissions(site: Site):
    student = site.browsers["student"]
    assert student.get(f"/staff/students/{site.others['user']}/grades").status_code == 403
    assert "other@example.org" not in student.get("/grades").get_data(as_text=True)
    listed = student.get("/submissions").get_data(as_text=True)
    assert f"/submissions/{site.values['submission_id']}" in listed
    assert f"/submissions/{site.others['submission']}" not in listed
    grades = site.app.test_client().get(
        "/api/v1/grades/me", headers={"Authorization": f"Bearer {site.tokens['student']}"}
    )
    assert grades.status_code == 200 and "other@example.org" not in grades.get_data(as_text=True)


def test_staff_see_any_students_submission(site: Site):
    for suffix in ("", "/status.json", "/log"):
        assert site.browsers["ta"].get(f"/submissions/{site.others['submission']}{suffix}").status_code == 200
