"""wallet freeze (operator tools)

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Two nullable columns: a plain ADD COLUMN on both SQLite and PostgreSQL.
    op.add_column("wallets", sa.Column("frozen_at", sa.Float, nullable=True))
    op.add_column("wallets", sa.Column("frozen_reason", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wallets") as batch:
        batch.drop_column("frozen_reason")
        batch.drop_column("frozen_at")
