"""re-attestation jobs

Revision ID: 0004
Revises: 0003

`provenance reattest` keeps one job per re-attestation of a certificate, keyed
by the on-chain metadata digest it replaces, so a re-run after a crash finishes
it (the pinned metadata, the signed transaction) instead of starting another.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reattest_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("prior_digest", sa.String(length=64), nullable=False),
        sa.Column("previous_json", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("verdict_json", sa.Text(), nullable=False),
        sa.Column("metadata_cid", sa.String(length=128), nullable=True),
        sa.Column("metadata_digest", sa.String(length=64), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("tx_nonce", sa.BigInteger(), nullable=True),
        sa.Column("raw_tx", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain_id", "contract", "content_sha256", "prior_digest", name="uq_reattest_prior"),
    )
    op.create_index("ix_reattest_jobs_content_sha256", "reattest_jobs", ["content_sha256"])


def downgrade() -> None:
    op.drop_index("ix_reattest_jobs_content_sha256", table_name="reattest_jobs")
    op.drop_table("reattest_jobs")
