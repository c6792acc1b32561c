"""rows keyed by the deployment's identity; block hashes for sync

Revision ID: 0005
Revises: 0004

A registry redeployed at the same address on a reset chain is another
deployment. Until now the ledger keyed everything by chain id and address, so
the old deployment's certificates, jobs and sync position read as the new
one's. Every row now names a `deployments` row (chain id, genesis hash,
address, deploy block hash), and the unique keys are per deployment.

Rows already in the ledger get one placeholder deployment per chain id and
address (no genesis hash: the database never knew it); the first connection
that checks the real deployment there adopts it (Ledger.activate).

`sync_state` is rebuilt per deployment with the hash of the last block
indexed, and `chain_events` gain their block's hash, so `sync` can tell a
chain that lost or replaced blocks and rewind. The old sync positions are
dropped: the next `sync` re-reads the events (it is idempotent).
"""

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KEYED = {
    # table: (old unique constraint, its old columns, its new columns)
    "mint_jobs": ("uq_job_content", ["chain_id", "contract", "content_sha256"], ["deployment_id", "content_sha256"]),
    "reattest_jobs": (
        "uq_reattest_prior",
        ["chain_id", "contract", "content_sha256", "prior_digest"],
        ["deployment_id", "content_sha256", "prior_digest"],
    ),
    "certificates": ("uq_cert_content", ["chain_id", "contract", "content_sha256"], ["deployment_id", "content_sha256"]),
    "chain_events": (
        "uq_event_position",
        ["chain_id", "contract", "block_number", "log_index"],
        ["deployment_id", "block_number", "log_index"],
    ),
}


def upgrade() -> None:
    deployments = op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("genesis_hash", sa.String(length=66), nullable=True),
        sa.Column("deploy_block", sa.BigInteger(), nullable=True),
        sa.Column("deploy_block_hash", sa.String(length=66), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain_id", "genesis_hash", "address", "deploy_block_hash", name="uq_deployment_identity"),
    )
    op.create_index("ix_deployments_chain_address", "deployments", ["chain_id", "address"])

    conn = op.get_bind()
    pairs = set()
    for table in (*KEYED, "sync_state"):
        for chain_id, contract in conn.execute(sa.text(f"SELECT DISTINCT chain_id, contract FROM {table}")):
            pairs.add((int(chain_id), contract.lower()))
    now = datetime.now(timezone.utc)
    if pairs:
        op.bulk_insert(deployments, [{"chain_id": c, "address": a, "created_at": now} for c, a in sorted(pairs)])

    for table, (constraint, _old, new) in KEYED.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("deployment_id", sa.Integer(), nullable=True))
            if table == "chain_events":
                batch.add_column(sa.Column("block_hash", sa.String(length=66), nullable=True))
        conn.execute(
            sa.text(
                f"UPDATE {table} SET deployment_id = (SELECT d.id FROM deployments d "
                f"WHERE d.chain_id = {table}.chain_id AND d.address = lower({table}.contract))"
            )
        )
        with op.batch_alter_table(table) as batch:
            batch.alter_column("deployment_id", existing_type=sa.Integer(), nullable=False)
            batch.drop_constraint(constraint, type_="unique")
            batch.create_unique_constraint(constraint, new)
            batch.create_index(f"ix_{table}_deployment_id", ["deployment_id"])

    op.drop_table("sync_state")
    op.create_table(
        "sync_state",
        sa.Column("deployment_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("next_block", sa.BigInteger(), nullable=False),
        sa.Column("last_block_hash", sa.String(length=66), nullable=True),
        sa.PrimaryKeyConstraint("deployment_id"),
    )


def downgrade() -> None:
    """Back to one key per chain id and address: rows of retired deployments are dropped first."""
    conn = op.get_bind()
    retired = "(SELECT id FROM deployments WHERE retired_at IS NOT NULL)"
    for table in KEYED:
        conn.execute(sa.text(f"DELETE FROM {table} WHERE deployment_id IN {retired}"))
    op.drop_table("sync_state")
    op.create_table(
        "sync_state",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("next_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "contract"),
    )
    for table, (constraint, old, _new) in KEYED.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_deployment_id")
            batch.drop_constraint(constraint, type_="unique")
            batch.create_unique_constraint(constraint, old)
            batch.drop_column("deployment_id")
            if table == "chain_events":
                batch.drop_column("block_hash")
    op.drop_index("ix_deployments_chain_address", table_name="deployments")
    op.drop_table("deployments")
