"""The database: users, tokens, assignments, submissions, workers and the staff's grading records (SQLAlchemy 2).

The schema changes only through Alembic migrations (`grader db upgrade`).
Submission rows carry their own state machine: queued -> running -> scored |
failed | error, with `attempts` as the fencing token that lets exactly one
attempt write the final result however often a message is delivered.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Role(str, enum.Enum):
    STUDENT = "student"
    TA = "ta"
    INSTRUCTOR = "instructor"

    @property
    def is_staff(self) -> bool:
        return self is not Role.STUDENT


class State(str, enum.Enum):
    """Where a submission is in its life; the last three are final."""

    QUEUED = "queued"
    RUNNING = "running"
    SCORED = "scored"
    FAILED = "failed"
    ERROR = "error"

    @property
    def is_final(self) -> bool:
        return self in (State.SCORED, State.FAILED, State.ERROR)


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    return Enum(kind, name=name, values_callable=lambda members: [m.value for m in members], native_enum=False)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.STUDENT)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(Base):
    """An API token; only its sha256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]  # None: never
    last_used_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class LoginSession(Base):
    """A browser's login. The cookie carries a random token, only its sha256 is stored here;
    deleting the row ends the login at once, wherever the cookie was copied to.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class LoginFailure(Base):
    """A failed login, kept while the throttle's window lasts.

    `key` is the sha256 of "account:<email>" or "address:<ip>", so the table
    holds neither addresses nor the emails people mistyped.
    """

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    """An assignment folder known to the service, with its dates."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    topic: Mapped[int] = mapped_column(Integer, default=1)
    task: Mapped[str] = mapped_column(String(32), default="classification", server_default="classification")  # its kind
    published: Mapped[bool] = mapped_column(default=True)
    opens_at: Mapped[dt.datetime | None]
    due_at: Mapped[dt.datetime | None]
    # The time settings as staff wrote them (grader.core.policy.settings: due_at, late, counts,
    # daily_limit...); None: no deadline. published/opens_at/due_at above mirror it for queries.
    policy: Mapped[dict[str, Any] | None]
    # The reference solutions' metrics per framework ({"keras": {...}, "torch": {...}}) as the workers last
    # measured them: what relative thresholds compare with when the web side rescores without training.
    references: Mapped[dict[str, Any] | None]
    # The reference solutions' build: None (never asked), "queued", "building", "ready" or "failed";
    # references_detail says why it failed (staff only), references_at when the state last changed.
    references_state: Mapped[str | None] = mapped_column(String(16))
    references_detail: Mapped[str | None] = mapped_column(Text)
    references_at: Mapped[dt.datetime | None]


class Submission(Base):
    """One upload and everything its grading produced."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    blob_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    state: Mapped[State] = mapped_column(_enum(State, "state"), default=State.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When its message went to the broker; None while it waits behind the same student's earlier one.
    dispatched_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    progress: Mapped[dict[str, Any] | None]  # phase, epoch, epochs while running
    evaluation: Mapped[dict[str, Any] | None]  # grader.core.grading.Evaluation.to_json()
    result: Mapped[dict[str, Any] | None]  # grader.core.grading.GradeResult.to_json()
    outcome: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    error_detail: Mapped[str | None] = mapped_column(Text)  # staff only
    # What its student sees (grader.core.policy.daily.FeedbackLevel value), decided once at upload and
    # never narrowed later; None on rows from before that rule: full.
    feedback: Mapped[str | None] = mapped_column(String(16))
    # A re-run (new training of an earlier upload, queued at low priority) is a new row pointing at the
    # upload it re-runs (always the first row of the chain); it keeps that upload's created_at, and the
    # newest row of a chain is the one that counts, so no result is ever overwritten.
    rerun_of_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the TA who asked for a re-run

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    assignment: Mapped[Assignment] = relationship()


class Worker(Base):
    """A grading worker's main process as it last reported itself: the registry behind /staff/workers.

    One row per process (`name` is host:pid, unique even with several workers on
    one machine); `last_seen_at` is its heartbeat. Its current runs are not stored
    here: they are the running submissions whose `worker` (host:pid of the slot
    process that claimed them) is one of this worker's processes, `slot_pids`.
    """

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # host:pid of the main process
    node: Mapped[str] = mapped_column(String(200), default="")  # Celery's node name, e.g. celery@host
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int]
    queues: Mapped[list[str]] = mapped_column(JSON)  # consumed, most urgent first
    slots: Mapped[int]
    slot_pids: Mapped[list[int]] = mapped_column(JSON)  # the pool's processes, refreshed by each heartbeat
    # slot pid (text) -> that slot's warm pools (grader.sandbox.warm.WarmRunner.status), with each heartbeat
    pools: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    gpus: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{index, name, memory_total_bytes}]; [] = CPU only
    started_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime] = mapped_column(index=True)
    stopped_at: Mapped[dt.datetime | None]


class RubricRevision(Base):
    """A rubric saved by an instructor; the newest revision of an assignment replaces its rubrics/ file."""

    __tablename__ = "rubric_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    yaml_text: Mapped[str] = mapped_column(Text)
    saved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    saved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    saved_by: Mapped[User] = relationship()


class Extension(Base):
    """One student's extension on one assignment (grader.core.policy.late.Extension)."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    due_at: Mapped[dt.datetime]
    last_accepted_at: Mapped[dt.datetime | None]
    reason: Mapped[str] = mapped_column(Text)
    granted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    granted_by: Mapped[User] = relationship(foreign_keys=[granted_by_id])


class Override(Base):
    """A TA's change of one submission's score: the audit trail (rows are only ever added).

    The newest row of an upload's re-run chain is in force (grader.services.overrides); `points_after` None
    withdraws the override. `submission_id` is the run it was made on.
    """

    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    points_before: Mapped[float | None] = mapped_column(Float)  # the score in force before this row
    points_after: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)

    by: Mapped[User] = relationship()


class StaffScore(Base):
    """A score (0-100) of a staff-entered course component (theory, summaries...) for one student."""

    __tablename__ = "staff_scores"
    __table_args__ = (UniqueConstraint("user_id", "component"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    component: Mapped[str] = mapped_column(String(64))  # a component id of rubrics/course.yaml
    score: Mapped[float] = mapped_column(Float)
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
