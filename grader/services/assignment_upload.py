"""A new assignment uploaded by an instructor as a zip: checked like a student's zip, validated like `assignments/`.

The zip holds one folder named after the slug:

    digits-cnn/assignment.yaml
    digits-cnn/README.md
    digits-cnn/starter.py
    digits-cnn/reference_keras.py
    digits-cnn/reference_torch.py
    digits-cnn/rubric.yaml          # the rubric (in assignments/ it lives in rubrics/<slug>.yaml)

Any other files (helpers of the references) come along. The archive gets the
same safety checks as student uploads (no links, nothing outside the folder,
bounded size and entries), is unpacked in a scratch folder next to its
destination, validated with `load_assignment_folder`, and only then moved into
`<data_dir>/assignments/<slug>/`, where grader.assignments finds it. A slug
of the course's own `assignments/` folder is never replaced; an uploaded one
only when the instructor asks. The assignment's row is created hidden, so
students see it once it is published; its references are built at once
(grader.services.reference_builds), so its first grading does not wait for them.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grader.assignments import SLUG, UPLOADED_RUBRIC, load_assignment_folder, uploaded_assignments_dir
from grader.config import Settings
from grader.core.errors import BadSubmission, SpecError
from grader.db import transaction
from grader.models import Assignment
from grader.services.reference_builds import UNLESS_WAITING, ReferenceQueue, Request, request_build, stale_after
from grader.services.submissions import UploadLimits, _check_zip_name, _extract_entry

ZIP_JUNK = ("__MACOSX/", ".DS_Store")


@dataclasses.dataclass(frozen=True)
class UploadedAssignment:
    """An assignment folder now in place, and whether it replaced an earlier upload."""

    slug: str
    title: str
    assignment_id: int
    replaced: bool
    references: Request | None = None  # the build of its references (None: no queue was given)


def _entries(data: bytes, source: str, limits: UploadLimits) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """Open the archive and check every entry before anything is written."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [e for e in archive.infolist() if not any(j in e.filename for j in ZIP_JUNK)]
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise SpecError(source, "", f"not a zip archive or damaged ({exc}); create it again") from None
    if len(entries) > limits.max_zip_entries:
        raise SpecError(source, "", f"holds {len(entries)} entries; at most {limits.max_zip_entries} are allowed")
    if sum(e.file_size for e in entries) > limits.max_expanded_bytes:
        raise SpecError(source, "", f"expands to more than {limits.max_expanded_bytes // 1024**2} MiB")
    for entry in entries:
        try:
            _check_zip_name(entry)
        except BadSubmission as exc:
            raise SpecError(source, "", exc.student_message.replace("The .zip entry", "entry")) from None
    return archive, entries


def _slug_of(entries: list[zipfile.ZipInfo], source: str) -> str:
    """The one top-level folder every entry lives in: the assignment's slug."""
    tops = {PurePosixPath(e.filename).parts[0] for e in entries if PurePosixPath(e.filename).parts}
    if len(tops) != 1 or all(e.filename.rstrip("/") in tops for e in entries):
        found = ", ".join(sorted(tops)[:5]) or "nothing"
        raise SpecError(
            source,
            "",
            f"must hold one folder named after the assignment's slug (found: {found}); zip the folder itself",
        )
    slug = tops.pop()
    if not SLUG.match(slug):
        raise SpecError(source, slug, "the folder name is the slug: lowercase letters, digits and dashes")
    return slug


def _unpack(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], into: Path, source: str, limit: int) -> None:
    remaining = limit
    try:
        with archive:
            for entry in entries:
                if entry.is_dir():
                    (into / entry.filename).mkdir(parents=True, exist_ok=True)
                else:
                    remaining = _extract_entry(archive, entry, into, remaining)
    except BadSubmission as exc:
        raise SpecError(source, "", exc.student_message.replace("The .zip", "the archive")) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise SpecError(source, "", f"damaged or uses an unsupported compression ({exc})") from None


def _relative(error: SpecError, scratch: Path, source: str) -> SpecError:
    """Name a file by its place in the zip, never by the server's scratch path."""
    name = error.source.replace(str(scratch.resolve()) + "/", "").replace(str(scratch) + "/", "")
    return SpecError(f"{source}: {name}", error.field, error.problem)


def install_assignment_zip(
    sessions: sessionmaker[Session],
    settings: Settings,
    data: bytes,
    filename: str = "assignment.zip",
    *,
    replace: bool = False,
    queue: ReferenceQueue | None = None,
) -> UploadedAssignment:
    """Validate an assignment zip and put it in place with its (hidden) row; SpecError names file and field.

    With a queue, its references are then built (again, when it replaced files a build was reading).
    """
    source = PurePosixPath(filename.replace("\\", "/")).name[-80:] or "assignment.zip"
    limits = UploadLimits(max_bytes=settings.upload_max_bytes)
    if len(data) > limits.max_bytes:
        raise SpecError(
            source, "", f"is {len(data) / 1024**2:.1f} MiB; the limit is {limits.max_bytes / 1024**2:g} MiB"
        )
    archive, entries = _entries(data, source, limits)
    slug = _slug_of(entries, source)
    if (settings.assignments_dir / slug).is_dir():
        raise SpecError(source, slug, "is an assignment of the course's own assignments/ folder; choose another slug")
    root = uploaded_assignments_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    target = root / slug
    if target.exists() and not replace:
        raise SpecError(source, slug, "was uploaded before; tick \u201creplace\u201d to put this version in its place")
    with tempfile.TemporaryDirectory(prefix=".upload-", dir=root) as scratch_name:
        scratch = Path(scratch_name)
        _unpack(archive, entries, scratch, source, limits.max_expanded_bytes)
        folder = scratch / slug
        try:
            loaded = load_assignment_folder(folder, folder / UPLOADED_RUBRIC)
        except SpecError as exc:
            raise _relative(exc, scratch, source) from None
        replaced = target.exists()
        if replaced:
            shutil.rmtree(target)
        folder.rename(target)  # same file system: the folder appears whole
    with transaction(sessions) as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == slug)).first()
        if row is None:
            spec = loaded.spec
            row = Assignment(slug=slug, title=spec.title, topic=spec.topic, task=spec.task, published=False)
            session.add(row)
        else:
            row.title, row.topic, row.task = loaded.spec.title, loaded.spec.topic, loaded.spec.task
        session.flush()
        done = UploadedAssignment(slug, loaded.spec.title, row.id, replaced)
    if queue is None:
        return done
    build = request_build(sessions, queue, done.assignment_id, unless=UNLESS_WAITING, stale=stale_after(settings))
    return dataclasses.replace(done, references=build)
