"""warm pools: each worker's slots publish their pools' state with the heartbeat

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workers") as table:
        # slot pid (as text) -> its warm pools' state (grader.sandbox.warm.WarmRunner.status)
        table.add_column(sa.Column("pools", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("workers") as table:
        table.drop_column("pools")
