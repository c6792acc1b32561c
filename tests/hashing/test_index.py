"""NearDuplicateIndex against a brute-force Hamming search, on real SQLite (and PostgreSQL if configured)."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import create_engine, func, select

from provenance.hashing import HashingError
from provenance.hashing.index import Match, NearDuplicateIndex, metadata, phash_table


def _near(value: int, bits: int, flips: int, rng: random.Random) -> int:
    for bit in rng.sample(range(bits), flips):
        value ^= 1 << bit
    return value


def _stored(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    """Random hashes plus clusters of near copies, so every radius has answers."""
    items = []
    for i in range(count):
        p, q = rng.getrandbits(64), rng.getrandbits(256)
        items.append((f"item{i}", f"{p:016x}", f"{q:064x}"))
        if i % 10 == 0:
            for j, flips in enumerate((1, 4, 9, 14)):
                near_p, near_q = _near(p, 64, flips, rng), _near(q, 256, 3 * flips, rng)
                items.append((f"item{i}-near{j}", f"{near_p:016x}", f"{near_q:064x}"))
    return items


def _brute(items, kind: str, query: str, radius: int) -> list[Match]:
    position = 1 if kind == "phash" else 2
    found = []
    for item in items:
        distance = bin(int(item[position], 16) ^ int(query, 16)).count("1")
        if distance <= radius:
            found.append(Match(item[0], kind, distance))
    return sorted(found, key=lambda m: (m.distance, m.hash_kind, m.key))


def test_query_returns_exactly_the_hashes_within_radius(engine):
    rng = random.Random(5)
    items = _stored(rng, 600)
    index = NearDuplicateIndex(engine)
    assert index.add_many(items) == 2 * len(items)
    for item in rng.sample(items, 12):
        for radius in (0, 3, 8, 10, 14):
            assert index.query(phash=item[1], radius=radius) == _brute(items, "phash", item[1], radius)
        for radius in (0, 10, 31, 47):
            assert index.query(pdq=item[2], radius=radius) == _brute(items, "pdq", item[2], radius)


def test_query_combines_kinds_sorted_by_distance(engine):
    index = NearDuplicateIndex(engine)
    index.add("a", "0" * 16, "0" * 64)
    index.add("b", "0" * 15 + "7", None)
    result = index.query(phash="0" * 16, pdq="0" * 64, radius=5)
    assert result == [Match("a", "pdq", 0), Match("a", "phash", 0), Match("b", "phash", 3)]
    assert index.linear_scan(phash="0" * 16, pdq="0" * 64, radius=5) == result


def test_invalid_input_is_rejected_without_partial_writes(engine):
    index = NearDuplicateIndex(engine)
    index.add("kept", "f" * 16, None)
    with pytest.raises(HashingError):
        index.add_many([("new", "1" * 16, None), ("bad", "xyz", None)])
    with pytest.raises(HashingError):
        index.add("", "1" * 16, None)
    with pytest.raises(HashingError):
        index.add("nothing", None, None)
    with pytest.raises(HashingError):
        index.query(phash="1" * 16, radius=-1)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(phash_table)).scalar_one() == 1


def test_tables_live_on_their_own_metadata(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    NearDuplicateIndex(engine)
    assert set(metadata.tables) == {"near_duplicate_phash", "near_duplicate_pdq"}
    NearDuplicateIndex(engine).add("again", "2" * 16, None)  # second open: tables exist already


def test_query_variants_equals_the_closest_variant_by_brute_force(engine):
    rng = random.Random(8)
    items = _stored(rng, 400)
    index = NearDuplicateIndex(engine)
    index.add_many(items)
    for item in rng.sample(items, 6):
        # Eight variants, as the verifier's dihedral hashes: one near the item, the rest random.
        variants = [f"{_near(int(item[1], 16), 64, 2, rng):016x}"] + [f"{rng.getrandbits(64):016x}" for _ in range(7)]
        for radius in (0, 4, 11, 12):
            expected: dict[str, Match] = {}
            for variant in variants:
                for match in _brute(items, "phash", variant, radius):
                    if match.key not in expected or match.distance < expected[match.key].distance:
                        expected[match.key] = match
            want = sorted(expected.values(), key=lambda m: (m.distance, m.hash_kind, m.key))
            assert index.query_variants(phashes=variants, radius=radius) == want
            assert index.linear_scan_variants(phashes=variants, radius=radius) == want
        pdqs = [item[2], f"{rng.getrandbits(256):064x}"]
        assert index.query_variants(pdqs=pdqs, radius=40) == index.linear_scan_variants(pdqs=pdqs, radius=40)


def test_portable_path_gives_the_same_answers(engine, monkeypatch):
    """Dialects without a tuned lookup use plain SQLAlchemy IN lists; same results."""
    from provenance.hashing import index as index_module

    rng = random.Random(9)
    items = _stored(rng, 300)
    index = NearDuplicateIndex(engine)
    index.add_many(items)
    queries = [(item[1], item[2]) for item in rng.sample(items, 5)]
    tuned = [index.query(phash=p, pdq=q, radius=12) for p, q in queries]
    monkeypatch.setattr(index_module, "_LOOKUPS", {})
    assert [index.query(phash=p, pdq=q, radius=12) for p, q in queries] == tuned
    assert tuned == [index.linear_scan(phash=p, pdq=q, radius=12) for p, q in queries]


def test_hash_text_must_be_plain_hex(engine):
    index = NearDuplicateIndex(engine)
    for bad in ("0x" + "1" * 14, "1_" + "1" * 14, " " + "1" * 15, "g" * 16):
        with pytest.raises(HashingError):
            index.add("k", bad, None)
        with pytest.raises(HashingError):
            index.query(phash=bad, radius=3)
    with pytest.raises(HashingError):
        index.query_variants(phashes="1" * 16, radius=3)  # one string, not a list of variants


def test_wide_radii_scan_in_bulk_and_give_the_brute_force_answer(engine, monkeypatch):
    """Past the point where band probes outnumber the rows, the index reads every hash instead; same answers."""
    import provenance.hashing.index as index_module

    rng = random.Random(9)
    items = _stored(rng, 60)
    index = NearDuplicateIndex(engine)
    index.add_many(items)
    monkeypatch.setattr(index_module, "_SCAN_CHUNK", 7)  # several chunks even on a small table
    scans = []
    real_scan = index_module._scan
    monkeypatch.setattr(index_module, "_scan", lambda *args: scans.append(args[1].name) or real_scan(*args))
    for kind, position, radius in (("phash", 1, 24), ("phash", 1, 40), ("pdq", 2, 79), ("pdq", 2, 120)):
        query = rng.choice(items)[position]
        got = index.query(**{kind: query}, radius=radius)
        assert got == _brute(items, kind, query, radius)
        assert got  # the query's own item at least
    assert scans == ["phash", "phash", "pdq", "pdq"]
    # Narrow radii still go through the bands.
    index.query(phash=items[0][1], radius=11)
    index.query(pdq=items[0][2], radius=31)
    assert len(scans) == 4
