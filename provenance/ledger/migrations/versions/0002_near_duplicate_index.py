"""near-duplicate index tables (multi-index hashing of pHash and PDQ)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The schema as this revision made it, spelled out rather than taken from
# provenance.hashing.index: that module now describes revision 0003's layout,
# and an upgrade from an empty database must still pass through this one.
_PHASH_BANDS = 3
_PDQ_BANDS = 16


def _create(name: str, hex_len: int, bands: int, covering: bool) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("hash", sa.String(hex_len), nullable=False),
        *[sa.Column(f"band{i}", sa.Integer(), nullable=False) for i in range(bands)],
    )
    op.create_index(f"ix_{name}_key", name, ["key"])
    for i in range(bands):
        op.create_index(f"ix_{name}_band{i}", name, [f"band{i}", "hash"] if covering else [f"band{i}"])


def upgrade() -> None:
    _create("near_duplicate_phash", 16, _PHASH_BANDS, covering=True)
    _create("near_duplicate_pdq", 64, _PDQ_BANDS, covering=False)


def downgrade() -> None:
    op.drop_table("near_duplicate_pdq")
    op.drop_table("near_duplicate_phash")
