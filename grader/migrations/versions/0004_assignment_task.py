"""assignment task kind: each assignment row records which kind grades it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every assignment before task kinds was a classification (digits-mlp and its copies).
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("task", sa.String(32), nullable=False, server_default="classification"))


def downgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("task")
