"""Logging in and out, CSRF on forms, and who may open which page."""

from __future__ import annotations

from grader.models import Role


def test_login_page_has_a_csrf_token(client):
    page = client.get("/auth/login")
    assert page.status_code == 200
    assert b'name="csrf_token"' in page.data


def test_login_then_logout(client, auth, accounts):
    accounts.add("ada@example.org")
    response = auth.login("ada@example.org")
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert b"ada@example.org" in client.get("/").data
    assert auth.logout().status_code == 302
    assert client.get("/").status_code == 302


def test_login_is_case_insensitive_on_email(client, auth, accounts):
    accounts.add("ada@example.org")
    assert auth.login("ADA@Example.org").status_code == 302


def test_wrong_password_is_refused(client, auth, accounts):
    accounts.add("ada@example.org")
    response = auth.login("ada@example.org", "wrong")
    assert response.status_code == 401
    assert b"Wrong email or password." in response.data
    assert client.get("/").status_code == 302


def test_unknown_user_is_refused_with_the_same_message(auth):
    response = auth.login("nobody@example.org")
    assert response.status_code == 401
    assert b"Wrong email or password." in response.data


def test_pages_need_a_login(client):
    response = client.get("/submissions")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_login_without_csrf_token_is_rejected(client, accounts):
    accounts.add("ada@example.org")
    response = client.post("/auth/login", data={"email": "ada@example.org", "password": "correct horse battery"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_upload_form_without_csrf_token_is_rejected(client, auth, accounts, queue):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    response = client.post("/assignments/digits-mlp/submit", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert queue.enqueued == []


def test_logout_without_csrf_token_is_rejected(client, auth, accounts):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_login_redirects_only_to_this_site(client, accounts):
    from tests.web.conftest import csrf_token

    accounts.add("ada@example.org")
    data = {"email": "ada@example.org", "password": "correct horse battery", "csrf_token": csrf_token(client)}
    response = client.post("/auth/login?next=//evil.example/x", data=data)
    assert response.headers["Location"] == "/"


def test_staff_pages_are_forbidden_to_students(client, auth, accounts):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    assert client.get("/staff/submissions").status_code == 403


def test_staff_pages_open_for_tas_and_instructors(client, auth, accounts):
    for email, role in (("ta@example.org", Role.TA), ("prof@example.org", Role.INSTRUCTOR)):
        accounts.add(email, role)
        auth.login(email)
        assert client.get("/staff/submissions").status_code == 200
        auth.logout()
