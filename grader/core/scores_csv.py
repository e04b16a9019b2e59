"""Staff score sheets: a CSV of `email,score` for one staff-entered component of the course grade.

The rules a sheet must follow, each broken one reported with its line:

- the first non-blank line is the header and names the columns `email` and
  `score` (any order, any case; other columns, such as a name, are ignored);
- each later line has an email address and a score from 0 to 100, with a dot
  for decimals (87.5); blank lines are skipped;
- an email appears once; with `known_emails`, it must belong to a student.

`parse_scores_csv` checks every line and raises one `ScoresFileError` listing
every mistake, so a caller imports all rows or none: nothing half-imported.
Emails are compared in their canonical form (trimmed, lower case), as accounts
store them. A UTF-8 byte-order mark (what spreadsheets write) is dropped.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Collection

from grader.core.errors import SpecError

COLUMNS = ("email", "score")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


@dataclasses.dataclass(frozen=True)
class ScoreRow:
    """One student's score from a sheet, with the line it came from."""

    line: int
    email: str
    score: float


class ScoresFileError(SpecError):
    """A score sheet has mistakes; `problems` lists each, starting with its line ("line 4: ...")."""

    def __init__(self, source: str, problems: list[str]):
        count = f"{len(problems)} mistake{'s' if len(problems) > 1 else ''}"
        fix = "fix them" if len(problems) > 1 else "fix it"
        super().__init__(source, "", f"{count}; {fix} and import the whole file again:\n" + "\n".join(problems))
        self.problems = tuple(problems)


def normalize_email(email: str) -> str:
    """Return the canonical form of an email address (the one accounts are stored under)."""
    return email.strip().lower()


def decode_scores_file(data: bytes, source: str) -> str:
    """Return the text of an uploaded sheet; raise ScoresFileError unless it is UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = (
            f"line {line}: the file is not UTF-8 text (byte {exc.start + 1}); save it as CSV (UTF-8) and try again"
        )
        raise ScoresFileError(source, [problem]) from None


def parse_scores_csv(text: str, source: str, known_emails: Collection[str] | None = None) -> tuple[ScoreRow, ...]:
    """Return every row of a score sheet; raise ScoresFileError listing all mistakes, each with its line."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    known = None if known_emails is None else {normalize_email(email) for email in known_emails}
    problems: list[str] = []
    rows: list[ScoreRow] = []
    seen: dict[str, int] = {}
    positions: dict[str, int] | None = None
    width = 0
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if positions is None:
                header = _header(record, line)
                if isinstance(header, str):
                    raise ScoresFileError(source, [header])
                positions, width = header, len(record)
                continue
            row = _row(record, line, positions, width)
            if isinstance(row, str):
                problems.append(row)
            elif row.email in seen:
                problems.append(f"line {line}: {row.email} already appears on line {seen[row.email]}")
            else:
                seen[row.email] = line
                if known is not None and row.email not in known:
                    problems.append(f"line {line}: no student has the email {row.email}; check the spelling")
                rows.append(row)
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: the CSV cannot be read past here ({exc})")
    if positions is None and not problems:
        problems.append(f"line 1: the file is empty; its first line must be the header {','.join(COLUMNS)}")
    elif not rows and not problems:
        problems.append(f"line {reader.line_num}: the file has a header but no scores")
    if problems:
        raise ScoresFileError(source, problems)
    return tuple(rows)


def _header(record: list[str], line: int) -> dict[str, int] | str:
    """Return the position of each needed column, or the problem with the header."""
    names = [cell.strip().lower() for cell in record]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        hint = "; the columns seem to be separated by ';', save the file with commas" if ";" in ",".join(names) else ""
        found = ",".join(cell.strip() for cell in record)
        return f"line {line}: the header must name the columns {','.join(COLUMNS)}, found {found!r}{hint}"
    for column in COLUMNS:
        if names.count(column) > 1:
            return f"line {line}: the header names the column {column} twice"
    return {column: names.index(column) for column in COLUMNS}


def _row(record: list[str], line: int, positions: dict[str, int], width: int) -> ScoreRow | str:
    """Return one row, or the problem with it."""
    if len(record) > width:
        return (
            f"line {line}: {len(record)} values but the header has {width} columns "
            "(a decimal comma? write 87.5, with a dot)"
        )
    if len(record) < max(positions.values()) + 1:
        return f"line {line}: expected a value in each of the columns {','.join(COLUMNS)}, got {len(record)} value(s)"
    email = normalize_email(record[positions["email"]])
    if not email:
        return f"line {line}: the email is empty"
    if not _EMAIL.fullmatch(email):
        return f"line {line}: {email!r} is not an email address"
    raw = record[positions["score"]].strip()
    if not raw:
        return f"line {line}: the score of {email} is empty; write a number from 0 to 100"
    if not _NUMBER.fullmatch(raw):
        hint = f" (use a dot for decimals: {raw.replace(',', '.')})" if _NUMBER.fullmatch(raw.replace(",", ".")) else ""
        return f"line {line}: the score {raw!r} of {email} is not a number{hint}; write a number from 0 to 100"
    score = float(raw)
    if not 0 <= score <= 100:
        return f"line {line}: the score {raw} of {email} is out of range; scores go from 0 to 100"
    return ScoreRow(line, email, score)
