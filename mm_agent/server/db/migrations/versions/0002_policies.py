"""policies and outflow reservations

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("wallet_id", sa.String(32), sa.ForeignKey("wallets.id"), primary_key=True),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "outflows",
        sa.Column("polling_id", sa.String(32), sa.ForeignKey("jobs.polling_id"),
                  primary_key=True),
        sa.Column("wallet_id", sa.String(32), sa.ForeignKey("wallets.id"), nullable=False),
        sa.Column("usd_cents", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outflows")
    op.drop_table("policies")
