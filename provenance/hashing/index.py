"""Near-duplicate lookup by multi-index hashing, stored in the ledger database.

Each hash is split into m bands kept in their own indexed columns. If two
hashes differ in at most r = a*m + b bits (0 <= b < m), then by pigeonhole one
of the first b+1 bands differs in at most a bits, or one of the other bands in
at most a-1 bits (Norouzi et al., multi-index hashing). A query therefore
enumerates, per band, every value within that many bit flips of its own band,
fetches the rows whose band equals one of them (an indexed IN lookup), and
keeps the candidates whose full distance is within r. That finds every stored
hash within r, and only those.

Plain SQLAlchemy Core on its own `metadata`, so it runs on SQLite and
PostgreSQL alike and the ledger's migrations can include the tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

from sqlalchemy import Column, Engine, Index, Integer, MetaData, String, Table, insert, select

from provenance.hashing.distance import PDQ_HEX_LEN, PHASH_HEX_LEN
from provenance.hashing.errors import HashingError

metadata = MetaData()

# Enumerating more flips per band than this costs more than a linear scan.
_MAX_FLIPS_PER_BAND = 5


@dataclass(frozen=True)
class _Kind:
    name: str
    hex_len: int
    bands: int

    @property
    def widths(self) -> list[int]:
        """Bits per band, most significant band first, as even as possible."""
        bits = self.hex_len * 4
        return [bits // self.bands + (1 if i < bits % self.bands else 0) for i in range(self.bands)]


# Band widths are a trade between IN-list length (values within a few flips of
# a w-bit band) and bucket size (stored rows / 2**w). Measured at 1M hashes:
# 3 bands of 21-22 bits serve pHash radius 10 best; PDQ uses 16 bands of 16.
PHASH = _Kind("phash", PHASH_HEX_LEN, bands=3)
PDQ = _Kind("pdq", PDQ_HEX_LEN, bands=16)


def _table(kind: _Kind, covering: bool) -> Table:
    name = f"near_duplicate_{kind.name}"
    bands = [Column(f"band{i}", Integer, nullable=False) for i in range(kind.bands)]
    # A (band, hash) index answers the candidate lookup without touching the
    # table; worth it for the short pHash, too large for sixteen PDQ bands.
    indexed = (lambda i: (f"band{i}", "hash")) if covering else (lambda i: (f"band{i}",))
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("key", String(200), nullable=False, index=True),
        Column("hash", String(kind.hex_len), nullable=False),
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


def _parse(hex_value: str, kind: _Kind) -> int:
    if not isinstance(hex_value, str) or len(hex_value) != kind.hex_len:
        raise HashingError(f"{kind.name} must be {kind.hex_len} hex digits, got {hex_value!r}")
    try:
        return int(hex_value, 16)
    except ValueError:
        raise HashingError(f"{kind.name} is not hexadecimal: {hex_value!r}") from None


@lru_cache(maxsize=64)
def _flip_masks(width: int, flips: int) -> tuple[int, ...]:
    masks = []
    for count in range(flips + 1):
        for bits in combinations(range(width), count):
            masks.append(sum(1 << bit for bit in bits))
    return tuple(masks)


def _flips_per_band(kind: _Kind, radius: int) -> list[int]:
    """Bit flips to enumerate in each band (-1: skip the band) for a complete search."""
    whole, rest = divmod(radius, kind.bands)
    return [whole if i <= rest else whole - 1 for i in range(kind.bands)]


class NearDuplicateIndex:
    """Store (key, pHash, PDQ) triples and find stored hashes within a radius."""

    def __init__(self, engine: Engine, create_tables: bool = True) -> None:
        self.engine = engine
        if create_tables:
            metadata.create_all(engine, checkfirst=True)

    def _rows(self, items: Iterable[tuple[str, str | None, str | None]]) -> Iterator[tuple[str, dict]]:
        for key, phash, pdq in items:
            if not isinstance(key, str) or not key:
                raise HashingError(f"index key must be a non-empty string, got {key!r}")
            if phash is None and pdq is None:
                raise HashingError(f"{key}: nothing to index (no pHash and no PDQ)")
            for kind, hex_value in ((PHASH, phash), (PDQ, pdq)):
                if hex_value is None:
                    continue
                value = _parse(hex_value, kind)
                row = {"key": key, "hash": hex_value.lower()}
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
        from provenance.hashing.policy import DEFAULT_PDQ_THRESHOLD, DEFAULT_PHASH_THRESHOLD

        matches: list[Match] = []
        if phash is not None:
            matches += self._query_kind(PHASH, phash, DEFAULT_PHASH_THRESHOLD if radius is None else radius)
        if pdq is not None:
            matches += self._query_kind(PDQ, pdq, DEFAULT_PDQ_THRESHOLD if radius is None else radius)
        return sorted(matches, key=lambda m: (m.distance, m.hash_kind, m.key))

    def _query_kind(self, kind: _Kind, hex_value: str, radius: int) -> list[Match]:
        if radius < 0:
            raise HashingError(f"radius must not be negative, got {radius}")
        value = _parse(hex_value, kind)
        flips = _flips_per_band(kind, radius)
        if max(flips) > _MAX_FLIPS_PER_BAND:
            raise HashingError(
                f"radius {radius} is too wide for the {kind.name} index "
                f"(at most {(_MAX_FLIPS_PER_BAND + 1) * kind.bands - 1} bits)"
            )
        table = _TABLES[kind.name][1]
        close: dict[int, int] = {}
        with self.engine.connect() as conn:
            for i, (band, width, band_flips) in enumerate(zip(_bands(value, kind), kind.widths, flips, strict=True)):
                if band_flips < 0:
                    continue
                values = [band ^ mask for mask in _flip_masks(width, band_flips)]
                statement = select(table.c.id, table.c.hash).where(table.c[f"band{i}"].in_(values))
                for row_id, stored in conn.execute(statement):
                    distance = (value ^ int(stored, 16)).bit_count()
                    if distance <= radius:
                        close[row_id] = distance
            if not close:
                return []
            keys = conn.execute(select(table.c.id, table.c.key).where(table.c.id.in_(list(close)))).all()
        return [Match(key, kind.name, close[row_id]) for row_id, key in keys]

    def linear_scan(self, phash: str | None = None, pdq: str | None = None, radius: int = 0) -> list[Match]:
        """The same answer as `query` by reading every row: the baseline the benchmark compares with."""
        matches: list[Match] = []
        with self.engine.connect() as conn:
            for kind, hex_value in ((PHASH, phash), (PDQ, pdq)):
                if hex_value is None:
                    continue
                value = _parse(hex_value, kind)
                table = _TABLES[kind.name][1]
                for key, stored in conn.execute(select(table.c.key, table.c.hash)):
                    distance = (value ^ int(stored, 16)).bit_count()
                    if distance <= radius:
                        matches.append(Match(key, kind.name, distance))
        return sorted(matches, key=lambda m: (m.distance, m.hash_kind, m.key))


def index_rows(key: str, phash: str | None, pdq: str | None) -> list[tuple[Table, dict]]:
    """The (table, row) pairs `add` inserts, for callers inserting inside their own transaction."""
    return [(_TABLES[kind][1], row) for kind, row in NearDuplicateIndex._rows(None, [(key, phash, pdq)])]  # type: ignore[arg-type]
