"""The catalog: assignment folders on disk made known to the database.

A folder is the source of truth for an assignment's title, topic and task kind; the
database row adds what staff set on the site (publication, dates). A sync
inserts missing assignments and refreshes titles and topics, and never deletes:
submissions point at assignment rows, and a folder missing for a moment (a
checkout in progress) must not cost anyone their work. A broken folder is
reported with its SpecError and skipped; the others still load.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.assignments import list_slugs, load_assignment
from grader.config import Settings
from grader.core.errors import SpecError
from grader.models import Assignment


@dataclasses.dataclass(frozen=True)
class SyncResult:
    """What one sync did, slug by slug."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    broken: tuple[SpecError, ...] = ()

    def lines(self) -> list[str]:
        """Say what changed, one line per kind, and every broken folder with its problem."""
        lines = [
            f"{label}: {', '.join(slugs)}"
            for label, slugs in (("added", self.added), ("updated", self.updated), ("unchanged", self.unchanged))
            if slugs
        ]
        lines += [f"skipped (fix it and sync again): {error.staff_detail}" for error in self.broken]
        return lines or ["no assignment folders found"]


def sync_assignments(session: Session, settings: Settings) -> SyncResult:
    """Insert missing assignments and refresh titles, topics and kinds from their folders; delete nothing."""
    rows = {row.slug: row for row in session.scalars(select(Assignment))}
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    broken: list[SpecError] = []
    for slug in list_slugs(settings):
        try:
            spec = load_assignment(slug, settings).spec
        except SpecError as exc:
            broken.append(exc)
            continue
        row = rows.get(slug)
        if row is None:
            session.add(Assignment(slug=slug, title=spec.title, topic=spec.topic, task=spec.task, published=True))
            added.append(slug)
        elif (row.title, row.topic, row.task) != (spec.title, spec.topic, spec.task):
            row.title, row.topic, row.task = spec.title, spec.topic, spec.task
            updated.append(slug)
        else:
            unchanged.append(slug)
    session.flush()
    return SyncResult(tuple(added), tuple(updated), tuple(unchanged), tuple(broken))
