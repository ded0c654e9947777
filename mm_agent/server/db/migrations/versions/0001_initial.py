"""accounts, tokens, device logins, wallets, jobs, nonces, approvals

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Frozen: the schema that ``schema_migrations`` version 1 created (a legacy database is stamped
here, see migrate.py). Never edit a released revision; add a new one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("totp_secret_enc", sa.LargeBinary, nullable=True),
        sa.Column("webhook_url", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("family", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "device_logins",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("account_id", sa.String(32), nullable=True),
        sa.Column("magic_hash", sa.String(64), nullable=True),
        sa.Column("totp_secret_enc", sa.LargeBinary, nullable=True),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "wallets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("address", sa.String(42), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("trading_mode", sa.String(8), nullable=False),
        sa.Column("key_enc", sa.LargeBinary, nullable=False),
        sa.Column("data_key_wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("account_id", "name", name="uq_wallet_name"),
    )
    op.create_table(
        "jobs",
        sa.Column("polling_id", sa.String(32), primary_key=True),
        sa.Column("wallet_id", sa.String(32), sa.ForeignKey("wallets.id"), nullable=False),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("intent", sa.Text, nullable=False),
        sa.Column("chain_id", sa.BigInteger, nullable=True),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("preview", sa.JSON, nullable=True),
        sa.Column("prepared", sa.JSON, nullable=True),
        sa.Column("nonce", sa.BigInteger, nullable=True),
        sa.Column("raw_tx", sa.Text, nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("signature", sa.Text, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("approval", sa.JSON, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("account_id", "idempotency_key", name="uq_job_idempotency"),
    )
    op.create_index("ix_jobs_wallet_created", "jobs", ["wallet_id", "created_at"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_table(
        "nonces",
        sa.Column("chain_id", sa.BigInteger, primary_key=True),
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("next_nonce", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("polling_id", sa.String(32), sa.ForeignKey("jobs.polling_id"),
                  nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("decided_at", sa.Float, nullable=True),
    )
    op.create_table(
        "used_otps",
        sa.Column("account_id", sa.String(32), primary_key=True),
        sa.Column("counter", sa.BigInteger, primary_key=True),
    )


def downgrade() -> None:
    for table in ("used_otps", "approvals", "nonces", "jobs", "wallets", "device_logins",
                  "tokens", "accounts"):
        op.drop_table(table)
