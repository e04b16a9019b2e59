"""week one: named, expiring API tokens; fair dispatch; feedback decided at upload; reference builds

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as table:
        table.add_column(sa.Column("name", sa.String(length=100), nullable=False, server_default=""))
        table.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("submissions") as table:
        # When the submission's message went to the broker; None: waiting behind the same student's
        # earlier submission (grader.services.dispatch).
        table.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
        # What its student sees of it, decided once when it was uploaded ("full" or "status").
        table.add_column(sa.Column("feedback", sa.String(length=16), nullable=True))
    # Everything queued before this revision is already in the broker.
    op.execute("UPDATE submissions SET dispatched_at = queued_at WHERE state IN ('queued', 'running')")
    with op.batch_alter_table("assignments") as table:
        # The reference solutions' build: None (never asked), queued, building, ready or failed.
        table.add_column(sa.Column("references_state", sa.String(length=16), nullable=True))
        table.add_column(sa.Column("references_detail", sa.Text(), nullable=True))  # staff only
        table.add_column(sa.Column("references_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignments") as table:
        table.drop_column("references_at")
        table.drop_column("references_detail")
        table.drop_column("references_state")
    with op.batch_alter_table("submissions") as table:
        table.drop_column("feedback")
        table.drop_column("dispatched_at")
    with op.batch_alter_table("api_tokens") as table:
        table.drop_column("expires_at")
        table.drop_column("name")
