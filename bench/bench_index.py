"""Benchmark of the near-duplicate index: radius queries by multi-index hashing vs a linear scan.

Run:  .venv/bin/python bench/bench_index.py [--size 1000000] [--postgres-url URL --postgres-size 200000]
      [--out bench/results/hashing_index.md]

SQLite file at --size random pHashes (PostgreSQL at --postgres-size when a URL is
given; the tables go in a schema of their own, dropped afterwards). For each
radius: p50/p99 of `query` over stored hashes with 0..radius bits flipped, the
linear scan (`linear_scan`, every row read) on a few of them in the same run,
and agreement: every query checked against an in-memory brute force, the
scanned ones against the scan too. The dihedral row queries 8 variants at the
default pHash threshold with one `query_variants` call, against 8 `query` calls
and the linear scan of all 8.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, create_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_report  # noqa: E402
from provenance.hashing.index import Match, NearDuplicateIndex  # noqa: E402
from provenance.hashing.policy import DEFAULT_PHASH_THRESHOLD  # noqa: E402

RADII = (8, 10, 11, 12)
QUERIES = 300
VARIANT_QUERIES = 100
SCANS = 3


class _Brute:
    """Every stored hash in memory: the answer each query must give."""

    def __init__(self, stored: list[int]) -> None:
        self.values = np.array(stored, dtype=np.uint64)

    def matches(self, queries: list[int], radius: int) -> list[Match]:
        nearest = np.min([np.bitwise_count(self.values ^ np.uint64(q)) for q in queries], axis=0)
        hits = np.flatnonzero(nearest <= radius)
        return sorted((Match(f"key{i}", "phash", int(nearest[i])) for i in hits), key=lambda m: (m.distance, m.hash_kind, m.key))


def _near(value: int, radius: int, rng: random.Random) -> int:
    for bit in rng.sample(range(64), rng.randint(0, radius)):
        value ^= 1 << bit
    return value


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _load(engine: Engine, stored: list[int]) -> tuple[NearDuplicateIndex, float]:
    index = NearDuplicateIndex(engine)
    start = time.perf_counter()
    for first in range(0, len(stored), 100_000):
        index.add_many((f"key{first + i}", f"{h:016x}", None) for i, h in enumerate(stored[first : first + 100_000]))
    return index, time.perf_counter() - start


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q) * 1e3)


def bench(index: NearDuplicateIndex, stored: list[int], rng: random.Random) -> list[str]:
    brute = _Brute(stored)
    rows = [
        "| query | n | MIH p50 ms | MIH p99 ms | linear scan p50 ms | speed-up (p50) | results agree |",
        "|---|---|---|---|---|---|---|",
    ]
    for radius in RADII:
        queries = [_near(rng.choice(stored), radius, rng) for _ in range(QUERIES)]
        index.query(phash=f"{queries[0]:016x}", radius=radius)  # warm caches
        times, agree = [], True
        for q in queries:
            elapsed, found = _timed(lambda: index.query(phash=f"{q:016x}", radius=radius))
            times.append(elapsed)
            agree &= found == brute.matches([q], radius)
        scans = []
        for q in queries[:SCANS]:
            elapsed, expected = _timed(lambda: index.linear_scan(phash=f"{q:016x}", radius=radius))
            scans.append(elapsed)
            agree &= expected == index.query(phash=f"{q:016x}", radius=radius)
        scan = statistics.median(scans) * 1e3
        rows.append(
            f"| radius {radius} | {len(queries)} | {_ms(times, 50):.1f} | {_ms(times, 99):.1f} | {scan:.0f} | "
            f"{scan / _ms(times, 50):.0f}x | {agree} |"
        )
    radius = DEFAULT_PHASH_THRESHOLD
    combined, separate, agree = [], [], True
    variant_sets = []
    for _ in range(VARIANT_QUERIES):
        # One variant near a stored hash, seven elsewhere: a file's 8 dihedral pHashes.
        variant_sets.append([_near(rng.choice(stored), radius, rng)] + [rng.getrandbits(64) for _ in range(7)])
    index.query_variants(phashes=[f"{v:016x}" for v in variant_sets[0]], radius=radius)
    for variants in variant_sets:
        hexes = [f"{v:016x}" for v in variants]
        elapsed, found = _timed(lambda: index.query_variants(phashes=hexes, radius=radius))
        combined.append(elapsed)
        agree &= found == brute.matches(variants, radius)
        separate.append(_timed(lambda: [index.query(phash=h, radius=radius) for h in hexes])[0])
    scans = []
    for variants in variant_sets[:SCANS]:
        hexes = [f"{v:016x}" for v in variants]
        elapsed, expected = _timed(lambda: index.linear_scan_variants(phashes=hexes, radius=radius))
        scans.append(elapsed)
        agree &= expected == index.query_variants(phashes=hexes, radius=radius)
    scan = statistics.median(scans) * 1e3
    rows.append(
        f"| 8 dihedral variants, radius {radius}, one `query_variants` | {len(variant_sets)} | {_ms(combined, 50):.1f} | "
        f"{_ms(combined, 99):.1f} | {scan:.0f} | {scan / _ms(combined, 50):.0f}x | {agree} |"
    )
    rows.append(
        f"| same, 8 separate `query` calls | {len(variant_sets)} | {_ms(separate, 50):.1f} | {_ms(separate, 99):.1f} | "
        f"{scan:.0f} | {scan / _ms(separate, 50):.0f}x | (same queries) |"
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="pHashes stored in the SQLite index")
    parser.add_argument("--postgres-url", default=os.environ.get("PROVENANCE_TEST_POSTGRES_URL"))
    parser.add_argument("--postgres-size", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/hashing_index.md")
    args = parser.parse_args()
    command = f"python bench/bench_index.py --size {args.size}"
    if args.postgres_url:
        command += f" --postgres-url URL --postgres-size {args.postgres_size}"
    lines = [
        "## Near-duplicate index: radius queries, multi-index hashing vs linear scan",
        "",
        f"Command: `{command}`",
        "",
        f"{os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.1f}. pHash stored as int64 in four 16-bit "
        "bands, each with a (band, hash) index; one SQL statement per lookup. Queries are stored hashes with 0..radius "
        'random bits flipped. "Results agree": every query\'s answer equals an in-memory brute force over all stored '
        f"hashes, and the {SCANS} scanned ones equal `linear_scan` (a Python loop over every row, the baseline). "
        f"The default pHash threshold is {DEFAULT_PHASH_THRESHOLD}.",
        "",
    ]
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        stored = [rng.getrandbits(64) for _ in range(args.size)]
        engine = create_engine(f"sqlite:///{Path(tmp) / 'index.db'}")
        index, load = _load(engine, stored)
        lines += [f"### SQLite file, {args.size:,} pHashes (loaded in {load:.0f} s)", "", *bench(index, stored, rng), ""]
        engine.dispose()
    if args.postgres_url:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(args.postgres_url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            engine = create_engine(args.postgres_url, connect_args={"options": f"-csearch_path={schema}"})
            stored = stored[: args.postgres_size]
            index, load = _load(engine, stored)
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
            version = engine.dialect.server_version_info
            lines += [
                f"### PostgreSQL {'.'.join(map(str, version or ()))} (local, default settings), {len(stored):,} pHashes "
                f"(loaded in {load:.0f} s)",
                "",
                *bench(index, stored, rng),
                "",
            ]
            engine.dispose()
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
