"""Each flashed message says what kind it is: the page colours it and tells screen readers how urgent it is."""

from __future__ import annotations

from grader.models import Role
from tests.web.conftest import csrf_token


def test_a_wrong_password_is_an_error_and_a_password_change_a_success(client, auth, accounts):
    accounts.add("ada@example.org")
    page = auth.login("ada@example.org", "wrong").get_data(as_text=True)
    assert '<p class="flash flash-error" role="alert">Wrong email or password.</p>' in page

    auth.login("ada@example.org")
    form = {
        "csrf_token": csrf_token(client, "/auth/password"),
        "current_password": "correct horse battery",
        "new_password": "a brand new passphrase",
        "confirm_password": "a brand new passphrase",
    }
    page = client.post("/auth/password", data=form, follow_redirects=True).get_data(as_text=True)
    assert '<p class="flash flash-success" role="status">Your password is changed.' in page


def test_a_message_without_a_category_is_neutral_not_red(app, client, auth, accounts):
    accounts.add("prof@example.org", Role.INSTRUCTOR)
    auth.login("prof@example.org")
    with client.session_transaction() as session:
        session["_flashes"] = [("message", "Plain news.")]
    page = client.get("/").get_data(as_text=True)
    assert '<p class="flash flash-info" role="status">Plain news.</p>' in page
