"""grading records: assignment policy and reference metrics, re-runs, rubric revisions, extensions, overrides, staff scores

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FK_RERUN_OF = "fk_submissions_rerun_of_id_submissions"
FK_REQUESTED_BY = "fk_submissions_requested_by_id_users"


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), sa.ForeignKey("users.id"), nullable=False)


def upgrade() -> None:
    # New tables, then new nullable columns: existing rows need no backfill.
    op.create_table(
        "rubric_revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("assignment_id", sa.Integer(), sa.ForeignKey("assignments.id"), nullable=False, index=True),
        sa.Column("yaml_text", sa.Text(), nullable=False),
        _user("saved_by_id"),
        _when("saved_at"),
    )
    op.create_table(
        "extensions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("assignment_id", sa.Integer(), sa.ForeignKey("assignments.id"), nullable=False, index=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        _when("due_at"),
        _when("last_accepted_at", nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        _user("granted_by_id"),
        _when("granted_at"),
        sa.UniqueConstraint("assignment_id", "user_id"),
    )
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=False, index=True),
        _user("by_id"),
        _when("at"),
        sa.Column("points_before", sa.Float(), nullable=True),
        sa.Column("points_after", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_table(
        "staff_scores",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        _user("entered_by_id"),
        _when("entered_at"),
        sa.UniqueConstraint("user_id", "component"),
    )
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("policy", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("references", sa.JSON(), nullable=True))
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("rerun_of_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("requested_by_id", sa.Integer(), nullable=True))
        batch.create_index("ix_submissions_rerun_of_id", ["rerun_of_id"])
        batch.create_foreign_key(FK_RERUN_OF, "submissions", ["rerun_of_id"], ["id"])
        batch.create_foreign_key(FK_REQUESTED_BY, "users", ["requested_by_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_constraint(FK_REQUESTED_BY, type_="foreignkey")
        batch.drop_constraint(FK_RERUN_OF, type_="foreignkey")
        batch.drop_index("ix_submissions_rerun_of_id")
        batch.drop_column("requested_by_id")
        batch.drop_column("rerun_of_id")
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("references")
        batch.drop_column("policy")
    for table in ("staff_scores", "overrides", "extensions", "rubric_revisions"):
        op.drop_table(table)
