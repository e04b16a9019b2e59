"""Loading assignment folders and rubrics: the real ones load, broken ones say exactly what is wrong."""

from __future__ import annotations

import shutil

import pytest

from grader.assignments import list_slugs, load_assignment, load_assignment_folder
from grader.config import PROJECT_ROOT, load_settings
from grader.core.errors import SpecError


def test_digits_mlp_loads_with_its_rubric():
    assignment = load_assignment("digits-mlp", load_settings({}))
    assert assignment.spec.task_spec.num_classes == 10 and assignment.spec.task_spec.input_shape == (64,)
    assert assignment.rubric.max_points == 100
    assert assignment.rubric.references_needed() == {"keras", "torch"}
    assert "digits-mlp" in list_slugs(load_settings({}))


@pytest.fixture
def copy(tmp_path):
    folder = tmp_path / "assignments" / "digits-mlp"
    shutil.copytree(PROJECT_ROOT / "assignments" / "digits-mlp", folder)
    rubric = tmp_path / "digits-mlp.yaml"
    shutil.copy(PROJECT_ROOT / "rubrics" / "digits-mlp.yaml", rubric)
    return folder, rubric


def error_of(folder, rubric) -> str:
    with pytest.raises(SpecError) as caught:
        load_assignment_folder(folder, rubric)
    return str(caught.value)


def test_yaml_syntax_error_names_file_and_line(copy):
    folder, rubric = copy
    (folder / "assignment.yaml").write_text("title: [unclosed\nnum_classes: 10\n")
    message = error_of(folder, rubric)
    assert "assignment.yaml: not valid YAML: line" in message


def test_missing_reference_file_is_named(copy):
    folder, rubric = copy
    (folder / "reference_torch.py").unlink()
    assert "reference_torch.py: missing" in error_of(folder, rubric)


def test_rubric_for_another_assignment_is_refused(copy):
    folder, rubric = copy
    rubric.write_text(rubric.read_text().replace("assignment: digits-mlp", "assignment: other"))
    assert "digits-mlp.yaml: assignment: expected 'digits-mlp'" in error_of(folder, rubric)


def test_bad_field_names_file_field_and_expectation(copy):
    folder, rubric = copy
    text = (folder / "assignment.yaml").read_text().replace("num_classes: 10", "num_classes: ten")
    (folder / "assignment.yaml").write_text(text)
    message = error_of(folder, rubric)
    assert "assignment.yaml: num_classes:" in message and "ten" in message


def test_unknown_slug_lists_the_known_ones():
    with pytest.raises(SpecError, match=r"no assignment 'nope'; known: (\S+, )*digits-mlp, "):
        load_assignment("nope", load_settings({}))


def test_uploaded_folders_are_found_after_the_course_folders(tmp_path):
    settings = load_settings({"GRADER_DATA_DIR": str(tmp_path / "data")})
    uploaded = tmp_path / "data" / "assignments"
    for slug in ("digits-two", "digits-mlp"):  # digits-mlp also exists in the course's folder
        shutil.copytree(PROJECT_ROOT / "assignments" / "digits-mlp", uploaded / slug)
        rubric = (PROJECT_ROOT / "rubrics" / "digits-mlp.yaml").read_text().replace("digits-mlp", slug)
        (uploaded / slug / "rubric.yaml").write_text(rubric.replace("at_most: 50000", "at_most: 1"))
    assert list_slugs(settings).count("digits-mlp") == 1 and "digits-two" in list_slugs(settings)
    two = load_assignment("digits-two", settings)
    assert two.folder == uploaded / "digits-two" and two.rubric.assignment == "digits-two"
    course = load_assignment("digits-mlp", settings)
    assert course.folder == PROJECT_ROOT / "assignments" / "digits-mlp"  # never shadowed by an upload
    assert "at_most: 1\n" not in (PROJECT_ROOT / "rubrics" / "digits-mlp.yaml").read_text()
    with pytest.raises(SpecError, match=r"no assignment 'nope'; known: (\S+, )*digits-mlp, (\S+, )*digits-two"):
        load_assignment("nope", settings)


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [
        (
            "{name: sklearn-digits, seed: 1, test_fraction: 1.0}",
            "dataset.test_fraction: expected a number > 0 and < 1, got 1.0",
        ),
        (
            "{name: sklearn-digits, seed: 1, shuffle: true}",
            "dataset: unknown option 'shuffle' of data set 'sklearn-digits'; its options: test_fraction",
        ),
        ("{name: mnist, seed: 1}", "dataset.name: unknown data set 'mnist'; known: "),
    ],
)
def test_data_set_options_are_checked_against_the_data_set(copy, dataset, expected):
    folder, rubric = copy
    text = (folder / "assignment.yaml").read_text()
    start = text.index("dataset:")
    end = text.index("input_shape:")
    (folder / "assignment.yaml").write_text(text[:start] + f"dataset: {dataset}\n" + text[end:])
    assert expected in error_of(folder, rubric)


def test_a_rubric_naming_a_metric_of_another_kind_is_refused_when_the_folder_loads(copy):
    folder, rubric = copy
    rubric.write_text(rubric.read_text().replace("metric: macro_f1", "metric: perplexity"))
    assert (
        "criteria[3].metric: expected one of accuracy, macro_f1, train_accuracy, generalization_gap, parameters"
        in error_of(folder, rubric)
    )
