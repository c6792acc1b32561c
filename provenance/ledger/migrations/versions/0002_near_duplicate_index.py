"""near-duplicate index tables (multi-index hashing of pHash and PDQ)

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from provenance.hashing.index import metadata

    # The tables and their band indexes are defined once, in the index module.
    metadata.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    from provenance.hashing.index import metadata

    metadata.drop_all(op.get_bind(), checkfirst=True)
