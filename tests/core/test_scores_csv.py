"""Staff score sheets (email,score): good files, and every bad line reported at once with its number."""

import pytest

from grader.core.errors import SpecError
from grader.core.scores_csv import ScoreRow, ScoresFileError, decode_scores_file, parse_scores_csv

SOURCE = "theory.csv"
KNOWN = {"ada@example.org", "alan@example.org", "grace@example.org"}


def problems(text: str, known=KNOWN) -> tuple[str, ...]:
    with pytest.raises(ScoresFileError) as caught:
        parse_scores_csv(text, SOURCE, known)
    return caught.value.problems


def test_a_good_sheet():
    text = "email,score\nada@example.org,87.5\n\nAlan@Example.org , 100\ngrace@example.org,0\n"
    assert parse_scores_csv(text, SOURCE, KNOWN) == (
        ScoreRow(2, "ada@example.org", 87.5),
        ScoreRow(4, "alan@example.org", 100.0),
        ScoreRow(5, "grace@example.org", 0.0),
    )


def test_spreadsheet_exports_bom_crlf_quotes_column_order_and_extra_columns():
    data = '\ufeffScore,Name,Email\r\n"91.25","Lovelace, Ada",ada@example.org\r\n'.encode()
    text = decode_scores_file(data, SOURCE)
    assert parse_scores_csv(text, SOURCE, KNOWN) == (ScoreRow(2, "ada@example.org", 91.25),)
    assert parse_scores_csv("\ufeffemail,score\nada@example.org,1\n", SOURCE) == (ScoreRow(2, "ada@example.org", 1),)


def test_every_bad_line_is_reported_at_once_with_its_number():
    text = (
        "email,score\n"
        "ada@example.org,87.5\n"
        "nobody@example.org,50\n"  # unknown email
        "alan@example.org,120\n"  # out of range
        "grace@example.org,87,5\n"  # a decimal comma splits the line
        "ada@example.org,60\n"  # duplicate of line 2
        "not-an-email,40\n"
        "ada2@example.org\n"  # malformed: no score
        "alan@example.org,-1\n"
        "alan@example.org,\n"
        "alan@example.org,lots\n"
        'alan@example.org,"87,5"\n'
    )
    assert problems(text) == (
        "line 3: no student has the email nobody@example.org; check the spelling",
        "line 4: the score 120 of alan@example.org is out of range; scores go from 0 to 100",
        "line 5: 3 values but the header has 2 columns (a decimal comma? write 87.5, with a dot)",
        "line 6: ada@example.org already appears on line 2",
        "line 7: 'not-an-email' is not an email address",
        "line 8: expected a value in each of the columns email,score, got 1 value(s)",
        "line 9: the score -1 of alan@example.org is out of range; scores go from 0 to 100",
        "line 10: the score of alan@example.org is empty; write a number from 0 to 100",
        "line 11: the score 'lots' of alan@example.org is not a number; write a number from 0 to 100",
        "line 12: the score '87,5' of alan@example.org is not a number (use a dot for decimals: 87.5); "
        "write a number from 0 to 100",
    )


def test_the_error_is_a_staff_file_error_naming_the_file_and_the_count():
    with pytest.raises(SpecError) as caught:
        parse_scores_csv("email,score\nada@example.org,101\nalan@example.org,nan\n", SOURCE, KNOWN)
    assert str(caught.value).startswith("theory.csv: 2 mistakes; fix them and import the whole file again:\nline 2: ")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "line 1: the file is empty; its first line must be the header email,score"),
        ("\n\n", "line 1: the file is empty; its first line must be the header email,score"),
        ("email,score\n", "line 1: the file has a header but no scores"),
        ("ada@example.org,80\n", "line 1: the header must name the columns email,score, found 'ada@example.org,80'"),
        ("email;score\nada@example.org;80\n", "the columns seem to be separated by ';', save the file with commas"),
        ("email,score,Email\n", "line 1: the header names the column email twice"),
    ],
)
def test_header_problems(text, problem):
    assert problem in problems(text)[0]


def test_broken_quoting_stops_the_reading_with_its_line():
    assert problems('email,score\nada@example.org,"80\n') == (
        "line 2: the CSV cannot be read past here (unexpected end of data)",
    )
    assert problems('email,score\nada@example.org,"8"0\nalan@example.org,101\n') == (
        "line 2: the CSV cannot be read past here (',' expected after '\"')",
    )


def test_without_known_emails_any_address_is_taken():
    assert parse_scores_csv("email,score\nnew@example.org,50\n", SOURCE) == (ScoreRow(2, "new@example.org", 50),)


def test_a_file_that_is_not_utf8():
    with pytest.raises(ScoresFileError, match=r"line 2: the file is not UTF-8 text \(byte 16\)"):
        decode_scores_file("email,score\nJosé@x.org,5\n".encode("latin-1"), SOURCE)
