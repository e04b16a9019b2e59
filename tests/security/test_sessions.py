"""Item 15: logout, a password change and an instructor's revocation end sessions on the server; login rotates.

A "copied cookie" is the session cookie of one test client set into another,
as an attacker who read it would replay it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from grader.db import transaction
from grader.models import LoginSession, Role
from tests.security.conftest import PASSWORD, AuthActions, csrf_token, logged_in

NEW_PASSWORD = "a brand new passphrase"


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str):
    """A second browser holding a copy of the cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def is_logged_in(client) -> bool:
    return client.get("/").status_code == 200


def change_password(client, current: str, new: str, confirm: str | None = None):
    data = {
        "current_password": current,
        "new_password": new,
        "confirm_password": new if confirm is None else confirm,
        "csrf_token": csrf_token(client, "/auth/password"),
    }
    return client.post("/auth/password", data=data)


def test_a_cookie_copied_before_logout_no_longer_works_after_it(app, accounts):
    accounts.add("ada@example.org")
    browser = logged_in(app, "ada@example.org")
    thief = replay(app, session_cookie(browser))
    assert is_logged_in(thief)
    AuthActions(browser).logout()
    assert not is_logged_in(thief) and not is_logged_in(browser)


def test_logout_ends_only_that_browsers_login(app, accounts):
    accounts.add("ada@example.org")
    laptop, phone = logged_in(app, "ada@example.org"), logged_in(app, "ada@example.org")
    AuthActions(laptop).logout()
    assert is_logged_in(phone) and not is_logged_in(laptop)


def test_a_cookie_that_names_only_the_user_id_is_refused(app, accounts):
    """A cookie signed as before this fix ({"_user_id": "<id>"}) gives no login."""
    user_id = accounts.add("ada@example.org")
    serializer = app.session_interface.get_signing_serializer(app)
    forged = serializer.dumps({"_user_id": str(user_id), "_fresh": True})
    assert not is_logged_in(replay(app, forged))


def test_login_rotates_the_cookie_and_the_csrf_token(app, client, accounts):
    accounts.add("ada@example.org")
    before = csrf_token(client)  # the anonymous form's token
    cookie_before = session_cookie(client)
    data = {"email": "ada@example.org", "password": PASSWORD, "csrf_token": before}
    assert client.post("/auth/login", data=data).status_code == 302
    after = csrf_token(client, "/")
    assert after != before
    assert client.post("/auth/logout", data={"csrf_token": before}).status_code == 400  # the old token is dead
    assert is_logged_in(client)
    assert not is_logged_in(replay(app, cookie_before))  # the pre-login cookie did not become a login


def test_a_password_change_ends_every_other_login_and_keeps_this_one(app, accounts):
    accounts.add("ada@example.org")
    laptop, phone = logged_in(app, "ada@example.org"), logged_in(app, "ada@example.org")
    thief = replay(app, session_cookie(laptop))
    response = change_password(laptop, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert is_logged_in(laptop)
    assert not is_logged_in(phone) and not is_logged_in(thief)
    assert AuthActions(app.test_client()).login("ada@example.org", PASSWORD).status_code == 401
    assert AuthActions(app.test_client()).login("ada@example.org", NEW_PASSWORD).status_code == 302


def test_a_password_change_needs_the_current_password_and_a_matching_confirmation(app, accounts):
    accounts.add("ada@example.org")
    laptop, phone = logged_in(app, "ada@example.org"), logged_in(app, "ada@example.org")
    wrong = change_password(laptop, "not my password", NEW_PASSWORD)
    assert wrong.status_code == 400 and "current password" in wrong.get_data(as_text=True)
    differ = change_password(laptop, PASSWORD, NEW_PASSWORD, "something else entirely")
    assert differ.status_code == 400 and "differ" in differ.get_data(as_text=True)
    short = change_password(laptop, PASSWORD, "short")
    assert short.status_code == 400 and "at least 8 characters" in short.get_data(as_text=True)
    assert is_logged_in(phone)  # nothing changed, nothing ended
    assert AuthActions(app.test_client()).login("ada@example.org", PASSWORD).status_code == 302


def test_an_instructor_ends_every_login_of_a_student(app, accounts):
    student_id = accounts.add("sam@example.org")
    accounts.add("prof@example.org", Role.INSTRUCTOR)
    student = logged_in(app, "sam@example.org")
    thief = replay(app, session_cookie(student))
    prof = logged_in(app, "prof@example.org")
    page = prof.get(f"/staff/students/{student_id}/grades").get_data(as_text=True)
    assert f"/auth/users/{student_id}/sessions/end" in page  # the button is on the student's grades page
    form = {"csrf_token": csrf_token(prof, f"/staff/students/{student_id}/grades")}
    response = prof.post(f"/auth/users/{student_id}/sessions/end", data=form, follow_redirects=True)
    assert "Ended 1 login session of sam@example.org." in response.get_data(as_text=True)
    assert not is_logged_in(student) and not is_logged_in(thief)
    assert is_logged_in(prof)
    assert AuthActions(app.test_client()).login("sam@example.org").status_code == 302  # the password still works


def test_only_instructors_may_end_someone_elses_logins(app, accounts):
    student_id = accounts.add("sam@example.org")
    accounts.add("tess@example.org", Role.TA)
    student = logged_in(app, "sam@example.org")
    for email in ("tess@example.org", "sam@example.org"):
        other = logged_in(app, email)
        form = {"csrf_token": csrf_token(other, "/")}
        assert other.post(f"/auth/users/{student_id}/sessions/end", data=form).status_code == 403
    assert is_logged_in(student)


def test_a_login_ends_when_its_lifetime_is_over(app, accounts):
    accounts.add("ada@example.org")
    browser = logged_in(app, "ada@example.org")
    settings = app.config["GRADER_SETTINGS"]
    assert settings.session_hours == 12
    assert app.permanent_session_lifetime == dt.timedelta(hours=12)  # the cookie's signature lapses too
    with transaction(app.extensions["grader.sessions"]) as session:
        row = session.query(LoginSession).one()
        assert dt.timedelta(hours=11.9) < row.expires_at - row.created_at <= dt.timedelta(hours=12)
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
        session.execute(update(LoginSession).values(expires_at=past))  # twelve hours later
    assert not is_logged_in(browser)
