"""Import a course roster (CSV: email,name,role,password) all or nothing."""

from __future__ import annotations

import csv
import dataclasses
import io

from sqlalchemy.orm import Session

from grader.models import Role, User
from grader.services.accounts import AccountError, create_user, find_user, normalize_email

COLUMNS = ("email", "name", "role", "password")


class RosterError(ValueError):
    """The roster has mistakes; `problems` lists each with its line number."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class RosterRow:
    line: int
    email: str
    name: str
    role: Role
    password: str


def parse_roster(text: str) -> list[RosterRow]:
    """Parse and check every line; raise RosterError listing all mistakes."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RosterError([f"line 1: the header lacks {', '.join(missing)} (expected {','.join(COLUMNS)})"])
    rows, problems, seen = [], [], {}
    for record in reader:
        line = reader.line_num
        try:
            row = _parse_row(line, record)
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        if row.email in seen:
            problems.append(f"line {line}: {row.email} already appears on line {seen[row.email]}")
        seen.setdefault(row.email, line)
        rows.append(row)
    if problems:
        raise RosterError(problems)
    return rows


def _parse_row(line: int, record: dict[str, str | None]) -> RosterRow:
    """Check one CSV record; raise ValueError saying what is wrong."""
    values = {c: (record.get(c) or "").strip() for c in COLUMNS}
    if None in record:
        raise ValueError(f"more than {len(COLUMNS)} columns")
    if "@" not in values["email"]:
        raise ValueError(f"email {values['email']!r} is not an email address")
    roles = ", ".join(r.value for r in Role)
    try:
        role = Role(values["role"].lower())
    except ValueError:
        raise ValueError(f"role {values['role']!r} is not one of {roles}") from None
    if not values["password"]:
        raise ValueError("the password is empty")
    return RosterRow(line, normalize_email(values["email"]), values["name"], role, values["password"])


def import_roster(session: Session, text: str) -> list[User]:
    """Create every user of the roster, or none: raise RosterError before adding anything."""
    rows = parse_roster(text)
    taken = [f"line {r.line}: a user with email {r.email} already exists" for r in rows if find_user(session, r.email)]
    if taken:
        raise RosterError(taken)
    try:
        return [create_user(session, email=r.email, role=r.role, password=r.password, name=r.name) for r in rows]
    except AccountError as exc:
        raise RosterError([str(exc)]) from exc
