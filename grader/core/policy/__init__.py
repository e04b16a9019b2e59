"""An assignment's rules of time: deadlines, late penalties, extensions, which submission counts, the daily limit.

Pure like the rest of `grader.core`: values in, values out, no clock. Every
function that depends on the time takes `now` or the moment of a submission
as an argument, so a deadline, extension or policy change recomputes every
grade from stored data, and tests pin each rule at its exact boundary.

Times are timezone-aware datetimes; a naive one (SQLite drops the zone) is
read as UTC, because that is how the database stores moments.
"""

from grader.core.policy.breakdown import AssignmentGrade, Line, Override, grade_assignment
from grader.core.policy.daily import (
    FeedbackLevel,
    Quota,
    Visibility,
    grade_hidden,
    level_at_upload,
    remaining_today,
    score_visibility,
)
from grader.core.policy.late import (
    Acceptance,
    Deadlines,
    Extension,
    LatePenalty,
    LatePolicy,
    check_acceptance,
    describe_window,
    effective_deadlines,
    late_penalty,
)
from grader.core.policy.selection import COUNTS, Attempt, Candidate, Selection, select_counting
from grader.core.policy.settings import AssignmentPolicy, parse_extension, parse_policy, policy_problems
from grader.core.policy.timing import format_duration, parse_duration, parse_moment

__all__ = [
    "COUNTS",
    "Acceptance",
    "AssignmentGrade",
    "AssignmentPolicy",
    "Attempt",
    "Candidate",
    "Deadlines",
    "Extension",
    "FeedbackLevel",
    "LatePenalty",
    "LatePolicy",
    "Line",
    "Override",
    "Quota",
    "Selection",
    "Visibility",
    "check_acceptance",
    "describe_window",
    "effective_deadlines",
    "grade_hidden",
    "level_at_upload",
    "format_duration",
    "grade_assignment",
    "late_penalty",
    "parse_duration",
    "parse_extension",
    "parse_moment",
    "parse_policy",
    "policy_problems",
    "remaining_today",
    "score_visibility",
    "select_counting",
]
