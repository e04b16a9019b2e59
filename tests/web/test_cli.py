"""The account commands: users add, users import, tokens create."""

from __future__ import annotations

import datetime as dt
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


def test_tokens_create_takes_a_name_and_an_expiry(env, db):
    invoke(env, "users", "add", "ada@example.org", "--password", "pw")
    result = invoke(env, "tokens", "create", "ada@example.org", "--name", "grading script", "--expires", "2099-01-01")
    assert result.exit_code == 1 and "at most 365 days" in result.output
    day = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=60)).date().isoformat()
    result = invoke(env, "tokens", "create", "ada@example.org", "--name", "grading script", "--expires", day)
    assert result.exit_code == 0, result.output
    assert f'API token "grading script" for ada@example.org, valid until {day} 23:59 UTC' in result.output
    default = invoke(env, "tokens", "create", "ada@example.org")
    assert default.exit_code == 0 and 'API token "token 1"' in default.output
    with transaction(db) as session:
        rows = {row.name: row.expires_at for row in session.scalars(select(ApiToken))}
    assert rows["grading script"].date().isoformat() == day
    in_30_days = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=30)
    assert abs(rows["token 1"].replace(tzinfo=None) - in_30_days) < dt.timedelta(minutes=1)
    taken = invoke(env, "tokens", "create", "ada@example.org", "--name", "grading script")
    assert taken.exit_code == 1 and 'You already have a token named "grading script"' in taken.output


def test_tokens_create_for_an_unknown_user_fails(env):
    result = invoke(env, "tokens", "create", "nobody@example.org")
    assert result.exit_code == 1 and "no user with email nobody@example.org" in result.output


def test_assignments_sync_loads_the_folders_and_says_what_it_did(env):
    fixtures = {
        "GRADER_ASSIGNMENTS_DIR": str(PROJECT_ROOT / "tests/fixtures/assignments"),
        "GRADER_RUBRICS_DIR": str(PROJECT_ROOT / "tests/fixtures/rubrics"),
    }
    slugs = ", ".join(sorted(p.name for p in (PROJECT_ROOT / "tests/fixtures/assignments").iterdir()))
    first = invoke({**env, **fixtures}, "assignments", "sync")
    assert first.exit_code == 0 and f"added: {slugs}" in first.output, first.output
    again = invoke({**env, **fixtures}, "assignments", "sync")
    assert again.exit_code == 0 and f"unchanged: {slugs}" in again.output


def test_assignments_sync_exits_non_zero_naming_a_broken_folder(env, tmp_path):
    (tmp_path / "assignments" / "half-done").mkdir(parents=True)
    paths = {"GRADER_ASSIGNMENTS_DIR": str(tmp_path / "assignments"), "GRADER_RUBRICS_DIR": str(tmp_path)}
    result = invoke({**env, **paths}, "assignments", "sync")
    assert result.exit_code == 1
    assert "skipped (fix it and sync again):" in result.output and "half-done/assignment.yaml" in result.output


def test_the_report_of_an_api_result_without_metrics_or_criteria():
    from grader.report import format_report

    api_error = {"status": "error", "outcome": "sandbox_error", "score": None, "max_score": None, "metrics": {},
                 "criteria": [], "student_message": "Grading failed on our side.", "log": "", "resources": {}}  # fmt: skip
    report = format_report(api_error, "quick-digits · model.py")
    assert report.splitlines()[:3] == ["quick-digits · model.py", "status: error (sandbox_error)   score: - / -", ""]
    assert "Grading failed on our side." in report and "metrics" not in report


def add_people(db, *emails: str, role: Role = Role.STUDENT) -> None:
    with transaction(db) as session:
        for email in emails:
            session.add(User(email=email, role=role, password_hash="x"))


def staff_scores(db) -> dict[tuple[str, str], float]:
    from grader.models import StaffScore

    with transaction(db) as session:
        rows = session.execute(select(User.email, StaffScore.component, StaffScore.score).join(StaffScore.user))
        return {(email, component): score for email, component, score in rows}


def test_scores_import_writes_every_row_and_updates_on_a_second_import(env, db, tmp_path):
    add_people(db, "prof@example.org", role=Role.INSTRUCTOR)
    add_people(db, "ada@example.org", "bob@example.org")
    sheet = tmp_path / "theory.csv"
    sheet.write_text("name,Email,score\nAda,ADA@example.org,87.5\nBob,bob@example.org,40\n")
    result = invoke(env, "scores", "import", str(sheet), "--component", "theory")
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated" in result.output
    assert staff_scores(db) == {("ada@example.org", "theory"): 87.5, ("bob@example.org", "theory"): 40.0}
    sheet.write_text("email,score\nada@example.org,90\n")
    again = invoke(env, "scores", "import", str(sheet), "--component", "theory")
    assert again.exit_code == 0 and "0 added, 1 updated" in again.output
    assert staff_scores(db)[("ada@example.org", "theory")] == 90.0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("email,score\nada@example.org,70\nnobody@example.org,50\n", "line 3: no student has the email nobody@"),
        ("email,score\nada@example.org,70\nbob@example.org,101\n", "line 3: the score 101 of bob@example.org is out"),
        ("email,score\nada@example.org,70\nbob@example.org,8,5\n", "line 3: 3 values but the header has 2 columns"),
        ("email,score\nada@example.org,70\nbob@example.org\n", "line 3: expected a value in each of the columns"),
    ],
)
def test_scores_import_names_the_bad_line_and_imports_nothing(env, db, tmp_path, content, problem):
    add_people(db, "prof@example.org", role=Role.INSTRUCTOR)
    add_people(db, "ada@example.org", "bob@example.org")
    sheet = tmp_path / "theory.csv"
    sheet.write_text(content)
    result = invoke(env, "scores", "import", str(sheet), "--component", "theory")
    assert result.exit_code == 1
    assert "theory.csv: nothing imported" in result.output and problem in result.output
    assert staff_scores(db) == {}


def test_scores_import_of_an_unknown_component_lists_the_staff_components(env, db, tmp_path):
    add_people(db, "prof@example.org", role=Role.INSTRUCTOR)
    add_people(db, "ada@example.org")
    sheet = tmp_path / "s.csv"
    sheet.write_text("email,score\nada@example.org,70\n")
    result = invoke(env, "scores", "import", str(sheet), "--component", "project-x")
    assert result.exit_code == 1
    assert "'project-x' is not a component whose scores staff enter; those are: theory, summaries, project" in (
        result.output
    )
    assert staff_scores(db) == {}


def test_scores_import_records_who_entered_them(env, db, tmp_path):
    add_people(db, "ada@example.org")
    sheet = tmp_path / "s.csv"
    sheet.write_text("email,score\nada@example.org,70\n")
    nobody = invoke(env, "scores", "import", str(sheet), "--component", "theory")
    assert nobody.exit_code == 1 and "no instructor account" in nobody.output
    student = invoke(env, "scores", "import", str(sheet), "--component", "theory", "--by", "ada@example.org")
    assert student.exit_code == 1 and "is not a TA's or an instructor's account" in student.output
    add_people(db, "ta@example.org", role=Role.TA)
    by_ta = invoke(env, "scores", "import", str(sheet), "--component", "theory", "--by", "ta@example.org")
    assert by_ta.exit_code == 0, by_ta.output
    assert staff_scores(db) == {("ada@example.org", "theory"): 70.0}


def test_submit_without_a_token_says_how_to_get_one(tmp_path):
    model = tmp_path / "model.py"
    model.write_text("def build_model(i, n):\n    pass\n")
    result = CliRunner().invoke(
        main,
        ["submit", str(model), "--assignment", "digits-mlp"],
        env={"GRADER_TOKEN": None, "GRADER_SERVER_URL": "https://grader.example.org/"},
    )
    assert result.exit_code == 2
    assert "no API token: pass --token or set GRADER_TOKEN" in result.output
    assert "make one on your account page: https://grader.example.org/account" in result.output
