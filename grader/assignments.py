"""Load assignment folders and rubric files from disk, validated.

An assignment is `assignments/<slug>/` with assignment.yaml, README.md,
starter.py, reference_keras.py and reference_torch.py; its rubric is
`rubrics/<slug>.yaml`. An instructor's uploaded assignment lives in
`<data_dir>/assignments/<slug>/`, the same files plus its rubric as
`rubric.yaml` inside the folder (an upload is one self-contained folder). The
course's own folders come first: a slug there is never shadowed by an upload.
Every problem is a SpecError naming file and field.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml

from grader.config import PROJECT_ROOT, Settings
from grader.core.assignment import AssignmentSpec, parse_assignment
from grader.core.errors import SpecError
from grader.core.rubric import RubricSpec, parse_rubric
from grader.datasets import resolve_options

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
REQUIRED_FILES = ("assignment.yaml", "README.md", "starter.py", "reference_keras.py", "reference_torch.py")
REFERENCE_FRAMEWORKS = ("keras", "torch")
UPLOADED_RUBRIC = "rubric.yaml"  # an uploaded folder carries its rubric inside


@dataclasses.dataclass(frozen=True)
class Assignment:
    """An assignment's spec, its folder and its rubric."""

    spec: AssignmentSpec
    folder: Path
    rubric: RubricSpec

    @property
    def slug(self) -> str:
        return self.spec.slug

    def reference_path(self, framework: str) -> Path:
        return self.folder / f"reference_{framework}.py"


def display_path(path: Path) -> str:
    """A path as staff read it: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def read_yaml(path: Path) -> object:
    """Parse a YAML file; a syntax error names the file, line and problem."""
    source = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(source, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(source, "", f"cannot be read: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(source, "", f"not valid YAML: {where}{problem}") from None


def load_assignment_folder(folder: Path, rubric_path: Path) -> Assignment:
    """Validate one assignment folder and its rubric."""
    slug = folder.name
    if not SLUG.match(slug):
        raise SpecError(display_path(folder), "", "the folder name is the slug: lowercase letters, digits and dashes")
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            raise SpecError(
                display_path(folder / name), "", f"missing: an assignment folder holds {', '.join(REQUIRED_FILES)}"
            )
    source = display_path(folder / "assignment.yaml")
    spec = parse_assignment(read_yaml(folder / "assignment.yaml"), source, slug)
    if spec.dataset is not None:
        resolve_options(spec.dataset, source)
    rubric = parse_rubric(read_yaml(rubric_path), display_path(rubric_path), spec.kind.metrics)
    if rubric.assignment != slug:
        raise SpecError(
            display_path(rubric_path),
            "assignment",
            f"expected {slug!r}, the assignment it grades, got {rubric.assignment!r}",
        )
    return Assignment(spec, folder, rubric)


def uploaded_assignments_dir(settings: Settings) -> Path:
    """Where instructors' uploaded assignment folders are kept."""
    return settings.data_dir / "assignments"


def locate_assignment(slug: str, settings: Settings) -> tuple[Path, Path] | None:
    """Return the folder and rubric file of `slug` (course folders first, then uploads), or None."""
    if not SLUG.match(slug):
        return None
    folder = settings.assignments_dir / slug
    if folder.is_dir():
        return folder, settings.rubrics_dir / f"{slug}.yaml"
    uploaded = uploaded_assignments_dir(settings) / slug
    if uploaded.is_dir():
        return uploaded, uploaded / UPLOADED_RUBRIC
    return None


def load_assignment(slug: str, settings: Settings) -> Assignment:
    """Load an assignment by slug from the configured folders, then from the uploaded ones."""
    found = locate_assignment(slug, settings)
    if found is None:
        known = ", ".join(list_slugs(settings)) or "none"
        raise SpecError(display_path(settings.assignments_dir), "", f"no assignment {slug!r}; known: {known}")
    return load_assignment_folder(*found)


def list_slugs(settings: Settings) -> list[str]:
    """The slugs of every assignment folder, the course's and the uploaded ones."""
    slugs: set[str] = set()
    for root in (settings.assignments_dir, uploaded_assignments_dir(settings)):
        if root.is_dir():
            slugs |= {p.name for p in root.iterdir() if p.is_dir() and SLUG.match(p.name)}
    return sorted(slugs)
