"""near-duplicate pHash index: hash as a 64-bit integer, four 16-bit bands

Revision ID: 0003
Revises: 0002

Revision 0002 kept the pHash as 16 hex digits in three bands of 22/21/21 bits.
The query now aggregates candidate hashes in SQL and decodes them with numpy,
which a 64-bit integer makes cheaper, and four 16-bit bands need far fewer
index probes at the default radius (11) and above. The rows are copied into
a new table (ids kept), the old one dropped, the new one renamed, and its
indexes built after the copy. The PDQ table is unchanged.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLE = "near_duplicate_phash"
_CHUNK = 50_000


def _bands(value: int, widths: list[int]) -> list[int]:
    bands, shift = [], 64
    for width in widths:
        shift -= width
        bands.append((value >> shift) & ((1 << width) - 1))
    return bands


def _rebuild(as_int: bool, widths: list[int]) -> None:
    """Copy the pHash table into the layout (hash type, band widths) given, in place of the old."""
    bind = op.get_bind()
    new = f"{TABLE}_new"
    hash_type: sa.types.TypeEngine = sa.BigInteger() if as_int else sa.String(16)
    band_columns = [sa.Column(f"band{i}", sa.Integer(), nullable=False) for i in range(len(widths))]
    target = op.create_table(
        new,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("hash", hash_type, nullable=False),
        *band_columns,
    )
    source = sa.table(TABLE, sa.column("id"), sa.column("key"), sa.column("hash"))
    last = None
    while True:
        query = sa.select(source.c.id, source.c.key, source.c.hash).order_by(source.c.id).limit(_CHUNK)
        if last is not None:
            query = query.where(source.c.id > last)
        rows = bind.execute(query).all()
        if not rows:
            break
        out = []
        for row_id, key, stored in rows:
            # 0002 stored hex text; 0003 a two's complement int64.
            value = int(stored, 16) if isinstance(stored, str) else int(stored) % (1 << 64)
            if as_int:
                stored = value - (1 << 64) if value >> 63 else value
            else:
                stored = f"{value:016x}"
            out.append({"id": row_id, "key": key, "hash": stored, **{f"band{i}": b for i, b in enumerate(_bands(value, widths))}})
        bind.execute(sa.insert(target), out)
        last = rows[-1][0]
    op.drop_table(TABLE)
    op.rename_table(new, TABLE)
    if bind.dialect.name == "postgresql":
        # Renaming a table leaves its serial sequence and primary key named after the old name.
        op.execute(f"ALTER SEQUENCE {new}_id_seq RENAME TO {TABLE}_id_seq")
        op.execute(f"ALTER TABLE {TABLE} RENAME CONSTRAINT {new}_pkey TO {TABLE}_pkey")
        op.execute(f"SELECT setval('{TABLE}_id_seq', COALESCE((SELECT max(id) FROM {TABLE}), 0) + 1, false)")
    op.create_index(f"ix_{TABLE}_key", TABLE, ["key"])
    for i in range(len(widths)):
        op.create_index(f"ix_{TABLE}_band{i}", TABLE, [f"band{i}", "hash"])


def upgrade() -> None:
    _rebuild(as_int=True, widths=[16, 16, 16, 16])


def downgrade() -> None:
    _rebuild(as_int=False, widths=[22, 21, 21])
