"""Migration 0003 converts a 0002 near-duplicate index with rows in it, on SQLite (and PostgreSQL if configured)."""

from __future__ import annotations

import random

from alembic import command
from sqlalchemy import inspect, text

from provenance.hashing.index import Match, NearDuplicateIndex
from provenance.ledger.migrate import alembic_config


def _migrate(engine, revision: str, down: bool = False) -> None:
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def _rows_0002(hashes: list[int]) -> list[dict]:
    """Rows as revision 0002's code wrote them: hex text, bands of 22/21/21 bits."""
    return [
        {"key": f"k{i}", "hash": f"{h:016x}", "band0": h >> 42, "band1": (h >> 21) & (2**21 - 1), "band2": h & (2**21 - 1)}
        for i, h in enumerate(hashes)
    ]


def test_upgrade_from_0002_keeps_every_row_findable_and_downgrade_restores_it(engine):
    rng = random.Random(11)
    hashes = [rng.getrandbits(64) for _ in range(300)]
    hashes += [h ^ (1 << rng.randrange(64)) for h in hashes[:50]]  # near copies
    hashes += [0, 2**64 - 1, 2**63, 2**63 - 1]  # sign boundaries of the int64 column
    _migrate(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO near_duplicate_phash (key, hash, band0, band1, band2) VALUES (:key, :hash, :band0, :band1, :band2)"),
            _rows_0002(hashes),
        )
        conn.execute(
            text(
                "INSERT INTO near_duplicate_pdq (key, hash, " + ", ".join(f"band{i}" for i in range(16)) + ") VALUES "
                "('p', :h, " + ", ".join("0" for _ in range(16)) + ")"
            ),
            {"h": "0" * 64},
        )
        ids_before = dict(conn.execute(text("SELECT key, id FROM near_duplicate_phash")).all())

    _migrate(engine, "head")
    columns = {c["name"]: c for c in inspect(engine).get_columns("near_duplicate_phash")}
    assert set(columns) == {"id", "key", "hash", "band0", "band1", "band2", "band3"}
    assert {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("near_duplicate_phash")} == {
        "ix_near_duplicate_phash_key": ["key"],
        **{f"ix_near_duplicate_phash_band{i}": [f"band{i}", "hash"] for i in range(4)},
    }
    with engine.connect() as conn:
        assert dict(conn.execute(text("SELECT key, id FROM near_duplicate_phash")).all()) == ids_before
    index = NearDuplicateIndex(engine, create_tables=False)
    for h in hashes[:20] + hashes[-4:]:
        query = f"{h:016x}"
        found = index.query(phash=query, radius=11)
        assert found == index.linear_scan(phash=query, radius=11)
        assert Match(f"k{hashes.index(h)}", "phash", 0) in found
    assert index.query(pdq="0" * 64, radius=0) == [Match("p", "pdq", 0)]
    index.add("after", f"{hashes[0]:016x}", None)  # the id sequence continues after the copied ids
    assert Match("after", "phash", 0) in index.query(phash=f"{hashes[0]:016x}", radius=0)

    _migrate(engine, "0002", down=True)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT key, hash, band0, band1, band2 FROM near_duplicate_phash WHERE key <> 'after'")).all()
    assert sorted(map(tuple, rows)) == sorted(tuple(r.values()) for r in _rows_0002(hashes))
