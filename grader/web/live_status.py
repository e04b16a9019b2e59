"""The words a student reads about a submission not graded yet: where it waits, or what its run is doing.

Each state has a short form (`status_text`, the status badge the page polls)
and a sentence (`student_message`). Both come from the queue's real standing
(grader.services.dispatch.standing) and from what the run reports of itself
(`Submission.progress`: the harness's phase and epochs, or "references" while
the worker waits for the course's reference solutions), so the page never says
"waiting in the queue" once the run has started.
"""

from __future__ import annotations

from typing import Any

from grader.services.dispatch import Standing

# What the run is doing, per phase it reports (grader.harness.protocol.PHASES), in a student's words.
RUNNING = {
    "start": "starting the run",
    "import": "preparing: loading your code",
    "build_model": "preparing: building your model",
    "build_agent": "preparing: building your agent",
    "train": "training your model",
    "predict": "answering the hidden test inputs",
    "sample": "answering: sampling images from your model",
    "generate": "answering: generating sample text",
    "act": "answering: playing the evaluation episodes",
    "save": "scoring your answers",
}
REFERENCES = "references"  # the worker waits for the course's reference solutions (set by the worker, not the run)


def queued_text(standing: Standing) -> tuple[str, str]:
    """The badge and the sentence of a queued submission."""
    if standing.position is not None:
        return f"queued (position {standing.position})", f"Waiting in the queue (position {standing.position})."
    joins = f"then it joins the queue ({standing.in_queue} ahead now)"
    if not standing.waiting_for:
        return "about to join the queue", f"About to join the queue ({standing.in_queue} ahead now)."
    ids = [f"#{sid}" for sid in standing.waiting_for]
    if len(ids) == 1:
        return f"waiting for your {ids[0]}", f"Waiting for your submission {ids[0]} to finish first; {joins}."
    listed = ", ".join(ids[:-1]) + " and " + ids[-1]
    return f"waiting for your {listed}", f"Waiting for your submissions {listed} to finish first; {joins}."


def running_text(progress: dict[str, Any] | None, elapsed_s: float | None) -> tuple[str, str]:
    """The badge and the sentence of a running submission, from the phase its run reports."""
    progress = progress or {}
    seconds = f"{elapsed_s or 0:.0f} s"
    phase = progress.get("phase") or ("train" if _count(progress.get("epoch")) else None)  # epochs: training
    if phase == REFERENCES:
        return (
            f"running {seconds}: waiting for the reference solutions",
            "Waiting for the course's reference solutions to be built; your model is trained and scored right after.",
        )
    doing = RUNNING.get(phase, "training and evaluating your model") if phase else RUNNING["start"]
    if phase == "train" and _count(progress.get("epoch")):
        doing += f", epoch {progress['epoch']}"
        if _count(progress.get("epochs")):
            doing += f" of {progress['epochs']}"
    return f"running {seconds}: {doing}", f"Running: {doing}."


def _count(value: Any) -> bool:
    """Whether a progress field is a count worth showing (a positive int)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
