"""Real gradings run two at a time, for modules that grade many fixtures once and check the results afterwards.

A sandboxed run keeps about one core busy, so on a two-core machine two
processes of their own (spawned: nothing is shared with the test process,
whose framework settings stay its own) halve the wait. Each grading is the
same real one the session's grading service runs: real bubblewrap, real
training, the session's reference cache (whose file lock makes a second run
that needs a reference being built wait for it, never build it twice).

Only for fixtures whose outcome cannot depend on the machine's load: a
fixture meant to hit a tight wall-clock limit, or a check of the host's
processes after each run, stays in the test process, one run at a time.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Hashable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, wait
from pathlib import Path

from grader.assignments import load_assignment
from grader.config import load_settings
from grader.core.grading import GradeResult
from grader.sandbox import make_runner
from grader.services.grading import GradingService

PROCESSES = 2


def _service(environ: Mapping[str, str]) -> tuple:
    settings = load_settings(dict(environ))
    runner = make_runner(bwrap_path=settings.bwrap, cgroup_parent=settings.cgroup_parent, host_uid=settings.sandbox_uid)
    return settings, GradingService(settings, runner)


def grade_file(environ: Mapping[str, str], path: Path, slug: str) -> GradeResult:
    """Grade a file as the session's grading service does (the same settings), in this process."""
    settings, service = _service(environ)
    return service.grade_file(path, load_assignment(slug, settings))


def build_reference(environ: Mapping[str, str], slug: str, framework: str) -> str | None:
    """Run one reference into the cache (read it if there); return why it failed, as text, if it did.

    Text, because not every error pickles back to the parent; the test that reads the reference runs it
    again and fails with the whole story.
    """
    try:
        settings, service = _service(environ)
        service.references.evaluation(load_assignment(slug, settings), framework)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn"))


def grade_files(environ: Mapping[str, str], jobs: Mapping[Hashable, tuple[Path, str]]) -> dict:
    """Grade each job's (file, assignment slug), two at a time; return the results by the jobs' keys.

    Jobs are started round-robin over the assignments, so the two runs at a time seldom wait for the
    same references. A grading that raises raises here, as it would in the test process.
    """
    by_slug: dict[str, list[Hashable]] = {}
    for key, (_path, slug) in jobs.items():
        by_slug.setdefault(slug, []).append(key)
    order = [key for turn in zip_longest_lists(by_slug.values()) for key in turn]
    with _pool() as pool:
        running = {key: pool.submit(grade_file, dict(environ), *jobs[key]) for key in order}
        return {key: running[key].result() for key in jobs}


def build_references(environ: Mapping[str, str], wanted: Iterable[tuple[str, str]]) -> None:
    """Fill the reference cache with these (slug, framework) references, two runs at a time."""
    with _pool() as pool:
        wait([pool.submit(build_reference, dict(environ), slug, framework) for slug, framework in wanted])


def zip_longest_lists(lists: Iterable[list]) -> list[list]:
    """The first item of each list, then the second of each, ... (shorter lists just end)."""
    lists = list(lists)
    return [[items[i] for items in lists if i < len(items)] for i in range(max(map(len, lists), default=0))]
