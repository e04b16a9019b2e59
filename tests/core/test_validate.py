"""The field readers behind every staff-file error message."""

import pytest

from grader.core.errors import SpecError
from grader.core.validate import MISSING, Section, Where, describe, expect_int, expect_number, expect_slug

HERE = Where("course.yaml", "limits")


def message(call, *args, **kwargs) -> str:
    with pytest.raises(SpecError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


def test_where_builds_dotted_paths_with_list_indices():
    assert Where("f.yaml").at("criteria").at(2).at("points").field == "criteria[2].points"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "nothing"),
        (True, "true (a yes/no value)"),
        ("lots", '"lots"'),
        (3.5, "3.5"),
        ([1], "a list"),
        ({}, "a mapping"),
    ],
)
def test_describe_shows_values_as_their_author_wrote_them(value, shown):
    assert describe(value) == shown


def test_integer_rejects_booleans_and_names_the_expectation():
    assert (
        message(expect_int, True, HERE.at("memory_mb"), minimum=1)
        == "course.yaml: limits.memory_mb: expected a positive integer, got true (a yes/no value)"
    )


def test_integer_rejects_floats_and_out_of_range():
    assert "expected an integer from 1 to 7, got 2.0" in message(expect_int, 2.0, HERE, minimum=1, maximum=7)
    assert "expected an integer >= 2, got 1" in message(expect_int, 1, HERE, minimum=2)


def test_missing_value_says_missing():
    assert (
        message(expect_int, MISSING, HERE.at("seed"), minimum=0)
        == "course.yaml: limits.seed: missing; expected an integer >= 0"
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "0.5", False, 0, 1])
def test_number_rejects_non_finite_text_booleans_and_bounds(value):
    assert "expected a number > 0 and < 1" in message(expect_number, value, HERE, above=0, below=1)


def test_number_accepts_ints_as_floats():
    assert expect_number(3, HERE, above=0) == 3.0


@pytest.mark.parametrize("value", ["Digits MLP", "digits--mlp", "-x", "", 5])
def test_slug_rejects_non_slugs(value):
    assert "expected a name made of lowercase letters and digits" in message(expect_slug, value, HERE)


def test_section_rejects_unknown_keys_suggesting_the_closest():
    problem = message(Section, {"memory_mv": 1}, HERE, ("memory_mb", "disk_mb"))
    assert (
        problem
        == 'course.yaml: limits: unknown key "memory_mv" (did you mean "memory_mb"?); allowed keys: disk_mb, memory_mb'
    )


def test_section_rejects_non_mappings_and_non_text_keys():
    assert message(Section, [1], HERE) == "course.yaml: limits: expected a mapping (key: value lines), got a list"
    assert "keys must be names, got 1" in message(Section, {1: "x"}, HERE)


def test_optional_section_may_be_absent_or_empty():
    root = Section({"training": None}, Where("a.yaml"))
    assert root.section("training", ("epochs",), optional=True).data == {}
    assert root.section("limits", ("memory_mb",), optional=True).data == {}
    assert "limits: missing; expected a mapping" in message(root.section, "limits", ("memory_mb",))


def test_items_need_a_non_empty_list():
    root = Section({"criteria": []}, Where("r.yaml"))
    assert message(root.items, "criteria") == "r.yaml: criteria: expected a non-empty list, got a list"
