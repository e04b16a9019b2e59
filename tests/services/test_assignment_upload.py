"""Assignment zips: the safe zip checks, validation like assignments/, installed whole or not at all."""

from __future__ import annotations

import io
import os
import stat
import zipfile

import pytest
from sqlalchemy import select

from grader.assignments import list_slugs, load_assignment
from grader.config import PROJECT_ROOT, load_settings
from grader.core.errors import SpecError
from grader.db import transaction
from grader.models import Assignment
from grader.services.assignment_upload import install_assignment_zip

SOURCE = PROJECT_ROOT / "tests" / "fixtures" / "assignments" / "quick-digits"
RUBRIC = (PROJECT_ROOT / "tests" / "fixtures" / "rubrics" / "quick-digits.yaml").read_text()


@pytest.fixture
def settings(tmp_path):
    return load_settings(
        {
            "GRADER_DATA_DIR": str(tmp_path / "data"),
            "GRADER_ASSIGNMENTS_DIR": str(PROJECT_ROOT / "tests" / "fixtures" / "assignments"),
            "GRADER_RUBRICS_DIR": str(PROJECT_ROOT / "tests" / "fixtures" / "rubrics"),
            "GRADER_UPLOAD_MAX_BYTES": str(256 * 1024),
        }
    )


def make_zip(slug="new-digits", drop=(), files=None, rubric=None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in SOURCE.iterdir():
            if path.name not in drop:
                archive.writestr(f"{slug}/{path.name}", path.read_bytes())
        if "rubric.yaml" not in drop:
            archive.writestr(f"{slug}/rubric.yaml", rubric or RUBRIC.replace("quick-digits", slug))
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def refused(sessions, settings, data, **kwargs) -> str:
    with pytest.raises(SpecError) as caught:
        install_assignment_zip(sessions, settings, data, "new.zip", **kwargs)
    assert not (settings.data_dir / "assignments" / "new-digits").exists()
    return str(caught.value)


def test_a_good_zip_is_installed_hidden_and_the_loader_finds_it(sessions, settings):
    done = install_assignment_zip(sessions, settings, make_zip(), "new.zip")
    assert (done.slug, done.replaced) == ("new-digits", False)
    assert "new-digits" in list_slugs(settings) and "quick-digits" in list_slugs(settings)
    loaded = load_assignment("new-digits", settings)
    assert loaded.folder == settings.data_dir / "assignments" / "new-digits"
    assert loaded.rubric.assignment == "new-digits" and loaded.rubric.max_points == 100
    with sessions() as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == "new-digits")).one()
        assert row.published is False and row.title == loaded.spec.title
    assert [p.name for p in (settings.data_dir / "assignments").iterdir()] == ["new-digits"]  # no scratch left


def test_an_upload_replaces_an_earlier_one_only_when_asked(sessions, settings):
    install_assignment_zip(sessions, settings, make_zip(), "new.zip")
    with pytest.raises(SpecError, match="was uploaded before; tick"):
        install_assignment_zip(sessions, settings, make_zip(), "new.zip")
    changed = make_zip(rubric=RUBRIC.replace("quick-digits", "new-digits").replace("points: 100", "points: 90"))
    assert install_assignment_zip(sessions, settings, changed, "new.zip", replace=True).replaced
    assert load_assignment("new-digits", settings).rubric.max_points == 90
    with sessions() as session:
        assert len(session.scalars(select(Assignment).where(Assignment.slug == "new-digits")).all()) == 1


def test_a_course_folder_is_never_replaced(sessions, settings):
    message = refused(sessions, settings, make_zip(slug="quick-digits"), replace=True)
    assert "course's own assignments/ folder" in message


def test_an_existing_row_without_a_folder_is_reused(sessions, settings):
    with transaction(sessions) as session:
        session.add(Assignment(slug="new-digits", title="old", published=True))
    install_assignment_zip(sessions, settings, make_zip(), "new.zip")
    with sessions() as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == "new-digits")).one()
        assert row.title != "old" and row.published is True  # what staff set is kept


def link_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("new-digits/data")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    "data,words",
    [
        (make_zip(drop=("starter.py",)), "new.zip: new-digits/starter.py: missing"),
        (make_zip(drop=("rubric.yaml",)), "new.zip: new-digits/rubric.yaml: file not found"),
        (
            make_zip(rubric="assignment: new-digits\ncriteria:\n  - {id: a\n"),
            "new-digits/rubric.yaml: not valid YAML: line 4",
        ),
        (make_zip(rubric=RUBRIC), "new-digits/rubric.yaml: assignment: expected 'new-digits'"),
        (make_zip(files={"new-digits/../../evil.py": "x"}), "points outside the archive's folder"),
        (make_zip(files={link_entry(): "/etc/passwd"}), "is a link or special file"),
        (make_zip(files={"other/x.py": "x"}), "must hold one folder named after the assignment's slug"),
        (make_zip(slug="Bad_Slug"), "the folder name is the slug"),
        (b"not a zip", "not a zip archive or damaged"),
        (make_zip(files={"new-digits/big.bin": os.urandom(300 * 1024)}), "the limit is 0.25 MiB"),
    ],
)
def test_bad_zips_are_refused_with_file_and_field(sessions, settings, data, words):
    assert words in refused(sessions, settings, data)
    with sessions() as session:
        assert session.scalars(select(Assignment)).all() == []


def test_a_zip_bomb_is_refused_before_extraction(sessions, settings):
    data = make_zip(files={"new-digits/zeros.bin": b"\0" * (60 * 1024**2)})  # compresses to about 60 KiB
    assert "expands to more than 50 MiB" in refused(sessions, settings, data)
