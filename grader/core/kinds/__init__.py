"""Task kinds: the plug-ins that say what an assignment asks of a submission.

A kind owns, in one module, everything that differs between kinds of work:
its keys in assignment.yaml, the shapes its data must have, the harness
protocol's parameters (which student functions are called with what), the
trusted check of what a run returns, the metrics it declares, and the
template that shows its feedback. The sandbox side of the protocol lives in
`grader/harness/<kind>.py` (the harness imports nothing of grader).

Adding a kind adds a module here and one in the harness, and registers it in
KINDS; nothing else branches on the kind.
"""

from __future__ import annotations

from grader.core.kinds.base import Aids, TaskKind, TaskSpec
from grader.core.kinds.classification import CLASSIFICATION
from grader.core.kinds.generation import GENERATION
from grader.core.kinds.language_model import LANGUAGE_MODEL
from grader.core.kinds.rl import RL

KINDS: dict[str, TaskKind] = {kind.name: kind for kind in (CLASSIFICATION, LANGUAGE_MODEL, GENERATION, RL)}


def kind_named(name: str) -> TaskKind:
    """Return the registered kind called `name` (KeyError if none)."""
    return KINDS[name]


__all__ = ["Aids", "KINDS", "TaskKind", "TaskSpec", "kind_named"]
