"""Near-duplicate lookup by multi-index hashing, stored in the ledger database.

Each hash is split into m bands kept in their own indexed columns. If two
hashes differ in at most r bits and band i is searched up to f_i bit flips with
sum(f_i + 1) > r, then by pigeonhole some band differs in at most f_i bits
(Norouzi et al., multi-index hashing). A query therefore enumerates, per band,
every value within f_i flips of its own band, fetches the stored hashes whose
band equals one of them, and keeps those whose full distance is within r. That
finds every stored hash within r, and only those.

Where the time went at 1M stored hashes (profiled; bench/bench_index.py):
SQLAlchemy rendering an expanding IN of thousands of bind parameters, and
Python handling each candidate row, cost more than SQLite's index probes. So
the hot query is one statement per lookup on the DBAPI cursor, each band's
probe values passed as one parameter (SQLite `json_each`, PostgreSQL
`= ANY(array)`). SQLite returns the candidates as an aggregated string per band that
numpy decodes and filters, and only the few matches go back for their keys;
PostgreSQL filters with bit_count() and returns the keys in the same round
trip. Several hashes (a file's dihedral variants) share one statement.

The tables are plain SQLAlchemy Core on their own `metadata`, so the ledger's
migrations (0003) include them and any SQLAlchemy URL works; dialects other
than SQLite and PostgreSQL take a slower portable path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import BigInteger, Column, Connection, Engine, Index, Integer, MetaData, String, Table, insert, select

from provenance.hashing.distance import PDQ_HEX_LEN, PHASH_HEX_LEN
from provenance.hashing.errors import HashingError

if TYPE_CHECKING:
    from sqlalchemy.types import TypeEngine

metadata = MetaData()

# Enumerating more flips per band than this costs more than a linear scan.
_MAX_FLIPS_PER_BAND = 5


@dataclass(frozen=True)
class _Kind:
    name: str
    hex_len: int
    bands: int
    as_int: bool  # stored as a signed 64-bit integer (pHash) rather than hex text (PDQ)

    @property
    def widths(self) -> list[int]:
        """Bits per band, most significant band first, as even as possible."""
        bits = self.hex_len * 4
        return [bits // self.bands + (1 if i < bits % self.bands else 0) for i in range(self.bands)]

    @property
    def words(self) -> int:
        return self.hex_len // 16


# Band widths trade probes (values within f flips of a w-bit band) against
# candidates (stored rows / 2**w per probe). Measured at 1M pHashes with the
# one-statement query: 4 bands of 16 bits beat 3 of 21-22 at radius 10-12
# (radius 12: ~1.1k probes + ~17k candidates vs ~12k probes + ~4k candidates),
# the probes being the dearer of the two. PDQ keeps 16 bands of 16.
PHASH = _Kind("phash", PHASH_HEX_LEN, bands=4, as_int=True)
PDQ = _Kind("pdq", PDQ_HEX_LEN, bands=16, as_int=False)


def _table(kind: _Kind, covering: bool) -> Table:
    name = f"near_duplicate_{kind.name}"
    bands = [Column(f"band{i}", Integer, nullable=False) for i in range(kind.bands)]
    # A (band, hash) index answers the candidate lookup without touching the
    # table; worth it for the short pHash, too large for sixteen PDQ bands.
    indexed = (lambda i: (f"band{i}", "hash")) if covering else (lambda i: (f"band{i}",))
    hash_type: TypeEngine[Any] = BigInteger() if kind.as_int else String(kind.hex_len)
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("key", String(200), nullable=False, index=True),
        Column("hash", hash_type, nullable=False),
        *bands,
        *[Index(f"ix_{name}_band{i}", *indexed(i)) for i in range(kind.bands)],
    )


phash_table = _table(PHASH, covering=True)
pdq_table = _table(PDQ, covering=False)
_TABLES = {PHASH.name: (PHASH, phash_table), PDQ.name: (PDQ, pdq_table)}


@dataclass(frozen=True)
class Match:
    key: str
    hash_kind: str  # "phash" or "pdq"
    distance: int


def _bands(value: int, kind: _Kind) -> list[int]:
    """Band 0 holds the most significant bits."""
    bands, shift = [], kind.hex_len * 4
    for width in kind.widths:
        shift -= width
        bands.append((value >> shift) & ((1 << width) - 1))
    return bands


_HEX = re.compile(r"[0-9a-fA-F]+")


def _parse(hex_value: str, kind: _Kind) -> int:
    if not isinstance(hex_value, str) or len(hex_value) != kind.hex_len:
        raise HashingError(f"{kind.name} must be {kind.hex_len} hex digits, got {hex_value!r}")
    if not _HEX.fullmatch(hex_value):  # int(, 16) would also take "0x", "_" and spaces
        raise HashingError(f"{kind.name} is not hexadecimal: {hex_value!r}")
    return int(hex_value, 16)


def _stored(value: int, kind: _Kind) -> int | str:
    """The `hash` column's value: two's complement int64 for pHash, lower-case hex for PDQ."""
    if kind.as_int:
        return value - (1 << 64) if value >> 63 else value
    return f"{value:0{kind.hex_len}x}"


def _words(values: Sequence[int], kind: _Kind) -> np.ndarray:
    """Hashes as rows of big-endian uint64 words, shape (len(values), kind.words)."""
    raw = b"".join(v.to_bytes(kind.hex_len // 2, "big") for v in values)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(values), kind.words)


def _decode(aggregate: str | None, kind: _Kind) -> np.ndarray:
    """The candidates' aggregated `hash` column as rows of uint64 words."""
    if not aggregate:
        return np.zeros((0, kind.words), dtype=np.uint64)
    if kind.as_int:  # comma-separated signed decimals
        return np.fromstring(aggregate, dtype=np.int64, sep=",").view(np.uint64).reshape(-1, 1)
    return np.frombuffer(bytes.fromhex(aggregate), dtype=">u8").astype(np.uint64).reshape(-1, kind.words)


@lru_cache(maxsize=64)
def _flip_masks(width: int, flips: int) -> np.ndarray:
    masks = []
    for count in range(flips + 1):
        for bits in combinations(range(width), count):
            masks.append(sum(1 << bit for bit in bits))
    return np.array(masks, dtype=np.int64)


def _flips_per_band(kind: _Kind, radius: int) -> list[int]:
    """Bit flips to enumerate in each band (-1: skip the band) for a complete search."""
    whole, rest = divmod(radius, kind.bands)
    return [whole if i <= rest else whole - 1 for i in range(kind.bands)]


def _probe_values(kind: _Kind, values: Sequence[int], radius: int) -> list[list[int]]:
    """Per band, the sorted distinct band values to look up for all `values` at once.

    Only called once `_index_pays`, which has checked the flips per band against `_MAX_FLIPS_PER_BAND`.
    """
    flips = _flips_per_band(kind, radius)
    per_band: list[list[int]] = []
    all_bands = [_bands(v, kind) for v in values]
    for i, (width, band_flips) in enumerate(zip(kind.widths, flips, strict=True)):
        if band_flips < 0:
            per_band.append([])
            continue
        masks = _flip_masks(width, band_flips)
        probes = np.concatenate([masks ^ bands[i] for bands in all_bands])
        per_band.append(np.unique(probes).tolist())
    return per_band


class NearDuplicateIndex:
    """Store (key, pHash, PDQ) triples and find stored hashes within a radius."""

    def __init__(self, engine: Engine, create_tables: bool = True) -> None:
        self.engine = engine
        if create_tables:
            metadata.create_all(engine, checkfirst=True)

    @staticmethod
    def _rows(items: Iterable[tuple[str, str | None, str | None]]) -> Iterator[tuple[str, dict]]:
        for key, phash, pdq in items:
            if not isinstance(key, str) or not key:
                raise HashingError(f"index key must be a non-empty string, got {key!r}")
            if phash is None and pdq is None:
                raise HashingError(f"{key}: nothing to index (no pHash and no PDQ)")
            for kind, hex_value in ((PHASH, phash), (PDQ, pdq)):
                if hex_value is None:
                    continue
                value = _parse(hex_value, kind)
                row = {"key": key, "hash": _stored(value, kind)}
                row.update({f"band{i}": band for i, band in enumerate(_bands(value, kind))})
                yield kind.name, row

    def add_many(self, items: Iterable[tuple[str, str | None, str | None]]) -> int:
        """Insert many (key, phash, pdq) in one transaction; all are validated first."""
        by_kind: dict[str, list[dict]] = {PHASH.name: [], PDQ.name: []}
        for kind_name, row in self._rows(items):
            by_kind[kind_name].append(row)
        with self.engine.begin() as conn:
            for kind_name, rows in by_kind.items():
                if rows:
                    conn.execute(insert(_TABLES[kind_name][1]), rows)
        return sum(len(rows) for rows in by_kind.values())

    def add(self, key: str, phash: str | None, pdq: str | None) -> None:
        self.add_many([(key, phash, pdq)])

    def query(self, phash: str | None = None, pdq: str | None = None, radius: int | None = None) -> list[Match]:
        """Stored hashes within `radius` bits of the given ones, closest first.

        `radius` defaults to the package's thresholds for each kind.
        """
        return self.query_variants(phashes=() if phash is None else (phash,), pdqs=() if pdq is None else (pdq,), radius=radius)

    def query_variants(self, phashes: Sequence[str] = (), pdqs: Sequence[str] = (), radius: int | None = None) -> list[Match]:
        """Stored hashes within `radius` of any of the given hashes (say a file's 8 dihedral
        variants), each with its smallest distance to them, closest first.

        One statement per kind however many variants: their band values are
        looked up together, which costs less than a query per variant.
        """
        from provenance.hashing.policy import DEFAULT_PDQ_THRESHOLD, DEFAULT_PHASH_THRESHOLD

        matches: list[Match] = []
        for kind, hex_values, default in ((PHASH, phashes, DEFAULT_PHASH_THRESHOLD), (PDQ, pdqs, DEFAULT_PDQ_THRESHOLD)):
            if isinstance(hex_values, str):
                raise HashingError(f"{kind.name} variants must be a sequence of hashes, not one string")
            if hex_values:
                matches += self._query_kind(kind, list(hex_values), default if radius is None else radius)
        return sorted(matches, key=lambda m: (m.distance, m.hash_kind, m.key))

    def _query_kind(self, kind: _Kind, hex_values: list[str], radius: int) -> list[Match]:
        if not isinstance(radius, int) or radius < 0:
            raise HashingError(f"radius must be a non-negative integer, got {radius!r}")
        values = list(dict.fromkeys(_parse(h, kind) for h in hex_values))
        table = _TABLES[kind.name][1]
        probes = _probe_values(kind, values, radius) if _index_pays(kind, values, radius) else None
        with self.engine.connect() as conn:
            if probes is None:
                found = _scan(conn, kind, table, values, radius)
            else:
                lookup = _LOOKUPS.get(conn.dialect.name, _lookup_portable)
                if lookup is _lookup_postgresql and (conn.dialect.server_version_info or (0,)) < (14,):
                    lookup = _lookup_portable  # bit_count() came with PostgreSQL 14
                found = lookup(conn, kind, table, probes, values, radius)
        return [Match(key, kind.name, min((v ^ stored).bit_count() for v in values)) for key, stored in found]

    def linear_scan(self, phash: str | None = None, pdq: str | None = None, radius: int = 0) -> list[Match]:
        """The same answer as `query` by reading every row: the baseline the benchmark compares with."""
        return self.linear_scan_variants(phashes=() if phash is None else (phash,), pdqs=() if pdq is None else (pdq,), radius=radius)

    def linear_scan_variants(self, phashes: Sequence[str] = (), pdqs: Sequence[str] = (), radius: int = 0) -> list[Match]:
        """The same answer as `query_variants` by reading every row."""
        matches: list[Match] = []
        with self.engine.connect() as conn:
            for kind, hex_values in ((PHASH, phashes), (PDQ, pdqs)):
                if not hex_values:
                    continue
                values = [_parse(h, kind) for h in hex_values]
                table = _TABLES[kind.name][1]
                for key, stored in conn.execute(select(table.c.key, table.c.hash)):
                    stored_value = _value(stored, kind)
                    distance = min((v ^ stored_value).bit_count() for v in values)
                    if distance <= radius:
                        matches.append(Match(key, kind.name, distance))
        return sorted(matches, key=lambda m: (m.distance, m.hash_kind, m.key))


# ---- lookup, per dialect -----------------------------------------------------
# Each returns (key, hash value) of every row within `radius` of one of
# `values`, given per band the band values to probe (`_probe_values`).


def _lookup_sqlite(conn: Connection, kind: _Kind, table: Table, probes: list[list[int]], values: list[int], radius: int):
    # One statement; the candidates come back as one aggregated string per band,
    # decoded and filtered by numpy (per-row Python work was most of the old cost).
    # json_each drives a join (CROSS JOIN fixes the order): cheaper than
    # `band IN (SELECT value FROM json_each(?))`, which first builds a
    # temporary index of the values. One scalar subquery per band, each
    # aggregating straight off its index: half the time of one aggregate over
    # a UNION ALL of the bands, whose rows all pass through a co-routine.
    used = tuple(i for i, band_values in enumerate(probes) if band_values)
    aggregate = "group_concat(t.hash)" if kind.as_int else "group_concat(t.hash, '')"
    columns = ", ".join(
        f"(SELECT {aggregate} FROM json_each(?) AS probe CROSS JOIN {table.name} AS t ON t.band{i} = probe.value)" for i in used
    )
    params = tuple(json.dumps(probes[i]) for i in used)
    row = conn.exec_driver_sql(f"SELECT {columns}", params).one()
    candidates = np.concatenate([_decode(aggregate_value, kind) for aggregate_value in row])
    close = _within(candidates, kind, values, radius)
    if not close:
        return []
    # The keys, through band 0's index; raw SQL too, as SQLAlchemy's IN rendering cost more than the lookup.
    keyed = conn.exec_driver_sql(
        f"SELECT key, hash FROM {table.name} WHERE band0 IN (SELECT value FROM json_each(?)) AND hash IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted({_bands(v, kind)[0] for v in close})), json.dumps([_stored(v, kind) for v in close])),
    )
    return [(key, _value(stored, kind)) for key, stored in keyed]


def _lookup_postgresql(conn: Connection, kind: _Kind, table: Table, probes: list[list[int]], values: list[int], radius: int):
    # PostgreSQL filters by bit_count itself and joins the few survivors to
    # their keys: one round trip, which is what costs on a loaded host.
    params: dict = {f"q{j}": _stored(v, kind) if kind.as_int else f"x{v:0{kind.hex_len}x}" for j, v in enumerate(values)}
    if kind.as_int:
        distance = [f"bit_count(CAST(hash # CAST(%(q{j})s AS BIGINT) AS bit(64)))" for j in range(len(values))]
    else:
        bits = kind.hex_len * 4
        distance = [f"bit_count(CAST('x' || hash AS bit({bits})) # CAST(%(q{j})s AS bit({bits})))" for j in range(len(values))]
    nearest = distance[0] if len(distance) == 1 else f"LEAST({', '.join(distance)})"
    used = tuple(i for i, band_values in enumerate(probes) if band_values)
    close = " UNION ".join(
        f"SELECT hash FROM {table.name} WHERE band{i} = ANY(CAST(%(b{i})s AS INTEGER[])) AND {nearest} <= %(radius)s" for i in used
    )
    params.update({f"b{i}": probes[i] for i in used}, radius=radius)
    width = kind.widths[0]
    band0 = (
        f"CAST((hash >> {kind.hex_len * 4 - width}) & {(1 << width) - 1} AS INTEGER)"
        if kind.as_int
        else (f"CAST(CAST('x' || substr(hash, 1, {width // 4}) AS bit({width})) AS INTEGER)")
    )
    # Keys through band 0's index: ARRAY() initplans rather than a join, which
    # the planner, expecting ~1k survivors, would answer with a full scan.
    statement = (
        f"WITH close AS ({close}) SELECT key, hash FROM {table.name} "
        f"WHERE band0 = ANY(ARRAY(SELECT {band0} FROM close)) AND hash = ANY(ARRAY(SELECT hash FROM close))"
    )
    return [(key, _value(stored, kind)) for key, stored in conn.exec_driver_sql(statement, params)]


def _lookup_portable(conn: Connection, kind: _Kind, table: Table, probes: list[list[int]], values: list[int], radius: int):
    stored: list[int] = []
    for i, band_values in enumerate(probes):
        if band_values:
            stored += conn.execute(select(table.c.hash).where(table.c[f"band{i}"].in_(band_values))).scalars()
    candidates = _words([_value(s, kind) for s in stored], kind)
    return _keys(conn, kind, table, _within(candidates, kind, values, radius))


_LOOKUPS = {"sqlite": _lookup_sqlite, "postgresql": _lookup_postgresql}

# Above this expected share of rows among the band candidates, reading every
# hash in bulk and comparing in numpy beats the index (measured with
# bench/bench_pdq_lookup.py: PDQ at radius 63-79 with 8 variants probes more
# band values than the table has rows).
_SCAN_ABOVE = 0.25
_SCAN_CHUNK = 100_000


def _expected_share(kind: _Kind, values: list[int], radius: int) -> float:
    """Expected candidates per stored row if hashes are uniform: probes per band over the band's 2**width values."""
    flips = _flips_per_band(kind, radius)
    per_value = sum(len(_flip_masks(width, f)) / (1 << width) for width, f in zip(kind.widths, flips, strict=True) if f >= 0)
    return per_value * len(values)


def _index_pays(kind: _Kind, values: list[int], radius: int) -> bool:
    if max(_flips_per_band(kind, radius)) > _MAX_FLIPS_PER_BAND:
        return False
    return _expected_share(kind, values, radius) <= _SCAN_ABOVE


def _scan(conn: Connection, kind: _Kind, table: Table, values: list[int], radius: int) -> list[tuple[str, int]]:
    """Every stored hash read in id-ordered chunks and compared in numpy; keys fetched for the survivors only."""
    close: list[int] = []
    last = -1
    while True:
        chunk, last = _scan_chunk(conn, kind, table, last)
        if not len(chunk):
            break
        close += _within(chunk, kind, values, radius)
    return _keys(conn, kind, table, sorted(set(close)))


def _scan_chunk(conn: Connection, kind: _Kind, table: Table, after: int) -> tuple[np.ndarray, int]:
    """The next chunk of stored hashes (as uint64 words) with ids above `after`, and the last id read."""
    if conn.dialect.name == "sqlite":
        # Aggregated in SQLite's C code: one string per chunk instead of a Python row per hash.
        aggregate = "group_concat(hash)" if kind.as_int else "group_concat(hash, '')"
        joined, last = conn.exec_driver_sql(
            f"SELECT {aggregate}, max(id) FROM (SELECT id, hash FROM {table.name} WHERE id > ? ORDER BY id LIMIT ?)",
            (after, _SCAN_CHUNK),
        ).one()
        return _decode(joined, kind), (after if last is None else last)
    rows = conn.execute(select(table.c.id, table.c.hash).where(table.c.id > after).order_by(table.c.id).limit(_SCAN_CHUNK)).all()
    if not rows:
        return np.zeros((0, kind.words), dtype=np.uint64), after
    return _words([_value(h, kind) for _, h in rows], kind), rows[-1][0]


def _value(stored: int | str, kind: _Kind) -> int:
    """A `hash` column value back to the unsigned hash."""
    if kind.as_int:
        return int(stored) % (1 << 64)
    return int(str(stored), 16)


def _within(candidates: np.ndarray, kind: _Kind, values: list[int], radius: int) -> list[int]:
    """The distinct candidate hashes within `radius` of one of `values`."""
    if not len(candidates):
        return []
    distances = np.bitwise_count(candidates[:, None, :] ^ _words(values, kind)[None, :, :])
    keep = distances.sum(axis=2, dtype=np.int32).min(axis=1) <= radius
    rows = np.unique(candidates[keep], axis=0).tolist()
    return [int.from_bytes(b"".join(w.to_bytes(8, "big") for w in row), "big") for row in rows]


def _keys(conn: Connection, kind: _Kind, table: Table, values: list[int]) -> list[tuple[str, int]]:
    """(key, hash value) of every row holding one of `values`, found through band 0's index."""
    if not values:
        return []
    band0 = sorted({_bands(v, kind)[0] for v in values})
    stored = [_stored(v, kind) for v in values]
    statement = select(table.c.key, table.c.hash).where(table.c.band0.in_(band0), table.c.hash.in_(stored))
    return [(key, _value(h, kind)) for key, h in conn.execute(statement)]


def index_rows(key: str, phash: str | None, pdq: str | None) -> list[tuple[Table, dict]]:
    """The (table, row) pairs `add` inserts, for callers inserting inside their own transaction."""
    return [(_TABLES[kind][1], row) for kind, row in NearDuplicateIndex._rows([(key, phash, pdq)])]
