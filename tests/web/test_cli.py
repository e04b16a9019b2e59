"""The account commands: users add, users import, tokens create."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from grader.cli import main
from grader.config import PROJECT_ROOT
from grader.db import make_engine, make_sessions, transaction
from grader.models import ApiToken, Role, User
from grader.services.accounts import hash_token, user_for_token, verify_password
from tests.databases import migrated_database


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings for the commands: a fresh SQLite database at the latest migration."""
    with migrated_database("sqlite", tmp_path) as url:
        yield {"GRADER_DATABASE_URL": url, "GRADER_DATA_DIR": str(tmp_path)}


@pytest.fixture
def db(env):
    engine = make_engine(env["GRADER_DATABASE_URL"])
    yield make_sessions(engine)
    engine.dispose()


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, list(args), env=env)


def emails(db) -> list[str]:
    with transaction(db) as session:
        return sorted(session.scalars(select(User.email)))


def test_users_add_stores_a_hashed_password(env, db):
    result = invoke(env, "users", "add", "Ada@Example.org", "--role", "ta", "--password", "s3cret pw")
    assert result.exit_code == 0, result.output
    with transaction(db) as session:
        user = verify_password(session, "ada@example.org", "s3cret pw")
        assert user is not None and user.role is Role.TA
        assert "s3cret" not in user.password_hash


def test_users_add_refuses_a_duplicate_and_an_unknown_role(env):
    assert invoke(env, "users", "add", "ada@example.org", "--password", "pw").exit_code == 0
    again = invoke(env, "users", "add", "ada@example.org", "--password", "pw")
    assert again.exit_code == 1 and "already exists" in again.output
    bad_role = invoke(env, "users", "add", "bob@example.org", "--role", "dean", "--password", "pw")
    assert bad_role.exit_code == 2 and "dean" in bad_role.output


def test_users_add_without_tables_says_to_upgrade(tmp_path):
    env = {"GRADER_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "GRADER_DATA_DIR": str(tmp_path)}
    result = invoke(env, "users", "add", "ada@example.org", "--password", "pw")
    assert result.exit_code == 1 and "grader db upgrade" in result.output


def test_users_import_adds_every_row(env, db, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "email,name,role,password\n"
        "ada@example.org,Ada Lovelace,student,pw1\n"
        "grace@example.org,Grace Hopper,TA,pw2\n"
        "alan@example.org,Alan Turing,instructor,pw3\n"
    )
    result = invoke(env, "users", "import", str(roster))
    assert result.exit_code == 0, result.output
    assert "imported 3 users" in result.output
    assert emails(db) == ["ada@example.org", "alan@example.org", "grace@example.org"]
    with transaction(db) as session:
        assert verify_password(session, "grace@example.org", "pw2").role is Role.TA


def test_users_import_reports_every_bad_line_and_imports_nothing(env, db, tmp_path):
    invoke(env, "users", "add", "taken@example.org", "--password", "pw")
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "email,name,role,password\n"
        "ok@example.org,Fine,student,pw\n"
        "not-an-email,Bad Email,student,pw\n"
        "bob@example.org,Bob,dean,pw\n"
        "carol@example.org,Carol,student,\n"
        "ok@example.org,Twice,student,pw\n"
        "dan@example.org,Dan,student,pw,extra\n"
    )
    result = invoke(env, "users", "import", str(roster))
    assert result.exit_code == 1
    out = result.output
    assert "nothing imported" in out
    assert "line 3: email 'not-an-email' is not an email address" in out
    assert "line 4: role 'dean' is not one of student, ta, instructor" in out
    assert "line 5: the password is empty" in out
    assert "line 6: ok@example.org already appears on line 2" in out
    assert "line 7: more than 4 columns" in out
    assert emails(db) == ["taken@example.org"]


def test_users_import_refuses_existing_users_and_a_bad_header(env, db, tmp_path):
    invoke(env, "users", "add", "taken@example.org", "--password", "pw")
    roster = tmp_path / "roster.csv"
    roster.write_text("email,name,role,password\nnew@example.org,New,student,pw\nTAKEN@example.org,T,student,pw\n")
    result = invoke(env, "users", "import", str(roster))
    assert result.exit_code == 1 and "line 3: a user with email taken@example.org already exists" in result.output
    assert emails(db) == ["taken@example.org"]
    roster.write_text("mail,name,role\nx@example.org,X,student\n")
    result = invoke(env, "users", "import", str(roster))
    assert result.exit_code == 1 and "line 1: the header lacks email, password" in result.output


def test_tokens_create_prints_the_token_on_its_last_line_and_stores_its_hash(env, db):
    invoke(env, "users", "add", "ada@example.org", "--password", "pw")
    result = invoke(env, "tokens", "create", "ada@example.org")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    with transaction(db) as session:
        assert session.scalars(select(ApiToken.token_hash)).all() == [hash_token(token)]
        assert user_for_token(session, token).email == "ada@example.org"


def test_tokens_create_for_an_unknown_user_fails(env):
    result = invoke(env, "tokens", "create", "nobody@example.org")
    assert result.exit_code == 1 and "no user with email nobody@example.org" in result.output


def test_assignments_sync_loads_the_folders_and_says_what_it_did(env):
    fixtures = {
        "GRADER_ASSIGNMENTS_DIR": str(PROJECT_ROOT / "tests/fixtures/assignments"),
        "GRADER_RUBRICS_DIR": str(PROJECT_ROOT / "tests/fixtures/rubrics"),
    }
    first = invoke({**env, **fixtures}, "assignments", "sync")
    assert first.exit_code == 0 and "added: quick-digits, tight-digits" in first.output
    again = invoke({**env, **fixtures}, "assignments", "sync")
    assert again.exit_code == 0 and "unchanged: quick-digits, tight-digits" in again.output


def test_assignments_sync_exits_non_zero_naming_a_broken_folder(env, tmp_path):
    (tmp_path / "assignments" / "half-done").mkdir(parents=True)
    paths = {"GRADER_ASSIGNMENTS_DIR": str(tmp_path / "assignments"), "GRADER_RUBRICS_DIR": str(tmp_path)}
    result = invoke({**env, **paths}, "assignments", "sync")
    assert result.exit_code == 1
    assert "skipped (fix it and sync again):" in result.output and "half-done/assignment.yaml" in result.output


def test_the_report_of_an_api_result_without_metrics_or_criteria():
    from grader.cli import format_report

    api_error = {"status": "error", "outcome": "sandbox_error", "score": None, "max_score": None, "metrics": {},
                 "criteria": [], "student_message": "Grading failed on our side.", "log": "", "resources": {}}  # fmt: skip
    report = format_report(api_error, "quick-digits · model.py")
    assert report.splitlines()[:3] == ["quick-digits · model.py", "status: error (sandbox_error)   score: - / -", ""]
    assert "Grading failed on our side." in report and "metrics" not in report
