"""The course grade: rubrics/course.yaml, the weighting, missing components and every kind of mistake."""

import datetime as dt
from pathlib import Path

import pytest
import yaml

from grader.core.course import compute_course_grade, parse_course
from grader.core.errors import SpecError

COURSE_FILE = Path(__file__).resolve().parents[2] / "rubrics" / "course.yaml"
SOURCE = "rubrics/course.yaml"
KNOWN = {"digits-mlp"}
ALL_SCORES = {"theory": 80, "summaries": 90, "project": 70}


def course_data() -> dict:
    return yaml.safe_load(COURSE_FILE.read_text())


def course(data: dict | None = None):
    return parse_course(course_data() if data is None else data, SOURCE, KNOWN)


def error(data: object) -> str:
    with pytest.raises(SpecError) as caught:
        parse_course(data, SOURCE, KNOWN)
    return str(caught.value)


def test_the_course_file_holds_the_reference_offering():
    spec = course()
    assert spec.formula() == "0.3 × theory + 0.7 × (0.2 × summaries + 0.8 × project)"
    assert [d.describe() for d in spec.dates] == [
        "Project and article summaries due: 13 Feb 2025",
        "Regular exam: 15 Feb 2025 to 16 Feb 2025",
        "Retake exam: 1 Mar 2025 to 2 Mar 2025",
    ]
    theory = spec.components[0]
    assert (theory.id, theory.weight, theory.source.kind, theory.description) == (
        "theory",
        30,
        "staff",
        "10 questions in 30 minutes",
    )
    homework = spec.components[-1]
    assert (homework.id, homework.weight, homework.source.assignments) == ("homework", 0, ("digits-mlp",))
    assert spec.staff_component("summaries").title == "Article summaries"
    assert spec.tz.utcoffset(dt.datetime(2025, 2, 13)) == dt.timedelta(0)


def test_final_is_the_weighted_sum_and_explains_itself():
    grade = compute_course_grade(course(), ALL_SCORES, {"digits-mlp": 40})
    assert grade.final == 75.8  # 0.30 x 80 + 0.70 x (0.20 x 90 + 0.80 x 70)
    assert grade.missing == ()
    assert grade.explanation == (
        "final = 0.3 × theory + 0.7 × (0.2 × summaries + 0.8 × project) = 0.3 × 80 + 0.7 × (0.2 × 90 + 0.8 × 70) = 75.8"
    )
    practice = grade.components[1]
    assert (practice.score, practice.contribution) == (74, 51.8)
    assert [(c.id, c.share) for c in practice.children] == [("summaries", 14), ("project", 56)]
    homework = grade.components[2]
    assert (homework.score, homework.contribution, homework.source) == (
        40,
        0,
        "the mean of the autograded assignments digits-mlp",
    )


def test_missing_components_leave_no_final_but_a_provisional_total():
    grade = compute_course_grade(course(), {"summaries": 90, "project": 70}, {})
    assert grade.final is None
    assert grade.provisional == 51.8
    assert grade.missing == ("theory",)
    assert grade.explanation.startswith(
        "not final yet: missing Theory exam; 51.8 of 100 points secured so far, 30 more at stake"
    )
    data = grade.to_json()
    assert (data["final"], data["missing"]) == (None, ["theory"])
    assert data["components"][0] | {"children": []} == {
        "id": "theory",
        "title": "Theory exam",
        "weight": 30,
        "share": 30,
        "source": "entered by staff",
        "score": None,
        "contribution": 0,
        "children": [],
        "description": "10 questions in 30 minutes",
    }


def test_a_missing_sub_component_leaves_its_parent_without_a_score():
    grade = compute_course_grade(course(), {"theory": 80, "project": 70}, {})
    assert grade.missing == ("summaries",)
    assert grade.components[1].score is None
    assert grade.provisional == 24 + 39.2


def test_formative_homework_never_blocks_the_final():
    grade = compute_course_grade(course(), ALL_SCORES, {})  # digits-mlp not graded yet
    assert grade.final == 75.8
    assert grade.components[2].score is None


def test_all_weights_come_from_the_file(tmp_path):
    text = COURSE_FILE.read_text().replace("weight: 30", "weight: 50").replace("weight: 70", "weight: 40")
    text = text.replace("weight: 0\n", "weight: 10\n")
    path = tmp_path / "course.yaml"
    path.write_text(text)
    spec = parse_course(yaml.safe_load(path.read_text()), str(path), KNOWN)
    grade = compute_course_grade(spec, ALL_SCORES, {"digits-mlp": 40})
    assert grade.final == round(0.5 * 80 + 0.4 * (0.2 * 90 + 0.8 * 70) + 0.1 * 40, 2)  # 73.6, not 75.8
    assert spec.formula() == "0.5 × theory + 0.4 × (0.2 × summaries + 0.8 × project) + 0.1 × homework"


def test_an_autograded_source_uses_the_assignment_percent():
    data = course_data()
    data["components"][1]["components"][1]["source"] = {"assignment": "digits-mlp"}
    grade = compute_course_grade(course(data), {"theory": 80, "summaries": 90}, {"digits-mlp": 70})
    assert grade.final == 75.8
    assert compute_course_grade(course(data), {"theory": 80, "summaries": 90}, {}).missing == ("project",)


def test_homework_is_the_mean_of_its_assignments_once_all_are_known():
    data = changed(("homework", "assignments"), ["digits-mlp", "digits-cnn"])
    spec = parse_course(data, SOURCE, {"digits-mlp", "digits-cnn"})
    assert compute_course_grade(spec, ALL_SCORES, {"digits-mlp": 40, "digits-cnn": 65}).components[2].score == 52.5
    assert compute_course_grade(spec, ALL_SCORES, {"digits-mlp": 40}).components[2].score is None


def test_scores_of_components_the_file_no_longer_has_are_ignored():
    assert compute_course_grade(course(), {**ALL_SCORES, "quiz": 12}, {}).final == 75.8


def test_a_named_time_zone():
    spec = course(changed(("timezone",), "Europe/Berlin"))
    assert spec.tz.utcoffset(dt.datetime(2025, 2, 13)) == dt.timedelta(hours=1)


def test_staff_component_lookup_names_the_valid_ones():
    with pytest.raises(ValueError, match="'homework' is not a component whose scores staff enter; those are: "
                       "theory, summaries, project"):  # fmt: skip
        course().staff_component("homework")


def test_scores_out_of_range_are_refused():
    with pytest.raises(ValueError, match="the score of theory must be from 0 to 100, got 101"):
        compute_course_grade(course(), {**ALL_SCORES, "theory": 101}, {})


def changed(path: tuple, value) -> dict:
    data = course_data()
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("components", 0, "weight"),
            40,
            "components: the weights of the top level (homework included) add up to 110 "
            "(theory 40 + practice 70 + homework 0); they must add up to 100",
        ),
        (
            ("components", 1, "components", 0, "weight"),
            10,
            "components[1].components: the weights of practice add up to 90 (summaries 10 + project 80); "
            "they must add up to 100",
        ),
        (("homework", "weight"), 5, "add up to 105 (theory 30 + practice 70 + homework 5)"),
        (("components", 0, "source"), "teacher", "components[0].source: expected staff, {assignment: SLUG}"),
        (
            ("components", 0, "source"),
            {"assignment": "digits-cnn"},
            'components[0].source.assignment: "digits-cnn" is not an assignment (the assignments are: digits-mlp)',
        ),
        (("homework", "assignments"), ["digits-mlp", "digits-mlp"], '"digits-mlp" is listed twice'),
        (("components", 0, "weight"), "30%", "components[0].weight: expected a percentage of its parent"),
        (("components", 0, "wieght"), 30, 'unknown key "wieght" (did you mean "weight"?)'),
        (("components", 1, "source"), "staff", "components[1]: needs either a source or sub-components"),
        (("components", 0, "source"), None, "components[0]: needs either a source or sub-components"),
        (("components", 1, "components", 1, "id"), "theory", 'the id "theory" is used twice'),
        (("timezone",), "Mars/Olympus", 'timezone: unknown time zone "Mars/Olympus"'),
        (("offering", "dates", 1, "end"), dt.date(2025, 2, 14), "offering.dates[1].end: 2025-02-14 is before start"),
        (
            ("offering", "dates", 0, "date"),
            "13 Feb",
            'offering.dates[0].date: expected a date like 2025-02-13, got "13 Feb"',
        ),
    ],
)
def test_course_mistakes_name_the_field(path, value, message):
    text = error(changed(path, value))
    assert text.startswith(SOURCE + ": ")
    assert message in text


def test_without_known_assignments_any_slug_is_taken():
    data = changed(("homework", "assignments"), ["digits-cnn"])
    assert parse_course(data, SOURCE).components[-1].source.assignments == ("digits-cnn",)
