"""The embedded store on a real directory: add, cat, pins, gc, CAR export and import."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from provenance.config import load_settings
from provenance.ipfs import BlockMismatch, CorruptCar, EmbeddedStore, NotFound, open_store
from provenance.ipfs.car import iter_sections, read_header
from provenance.ipfs.cid import parse_cid
from tests.ipfs.conftest import kubo_random_bytes, write_kubo_random

CHUNK = 256 * 1024


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def block_files(store: EmbeddedStore) -> list[Path]:
    return sorted(p for p in store.blocks.blocks_dir.rglob("*") if p.is_file())


def test_open_store_defaults_to_embedded_under_home(ipfs_home):
    store = open_store(load_settings())
    assert isinstance(store, EmbeddedStore)
    assert store.root == ipfs_home / "ipfs"


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7])
@pytest.mark.parametrize("version", [0, 1])
def test_add_and_cat_round_trip(store, tmp_path, size, version):
    data = kubo_random_bytes(size, f"rt-{size}")
    path = tmp_path / "f"
    path.write_bytes(data)
    result = store.add_file(path, cid_version=version)
    assert result.size == size and result.profile.cid_version == version
    assert store.cat(result.cid) == data
    assert store.has(result.cid)
    assert result.cid in store.pins()


def test_blocks_are_keyed_by_multihash_and_hold_exact_bytes(store):
    result = store.add_bytes(b"hello world")
    (path,) = block_files(store)
    assert path.read_bytes() == b"hello world"
    assert hashlib.sha256(path.read_bytes()).digest() == parse_cid(result.cid).digest
    assert not any(store.blocks.tmp_dir.iterdir())


def test_pins_survive_a_new_store_instance(ipfs_home):
    first = EmbeddedStore(ipfs_home / "ipfs")
    a = first.add_bytes(b"a")
    b = first.add_bytes(b"b", pin=False)
    second = EmbeddedStore(ipfs_home / "ipfs")
    assert second.pins() == [a.cid]
    second.pin(b.cid)
    assert sorted(EmbeddedStore(ipfs_home / "ipfs").pins()) == sorted([a.cid, b.cid])


def test_gc_removes_only_unpinned_blocks(store):
    kept = store.add_bytes(kubo_random_bytes(2 * CHUNK + 1, "kept"), cid_version=0)
    dropped = store.add_bytes(kubo_random_bytes(CHUNK + 1, "dropped"))
    shared = store.add_bytes(kubo_random_bytes(CHUNK, "kept"))  # a raw block of the first chunk
    before = len(block_files(store))
    store.unpin(dropped.cid)
    store.unpin(shared.cid)
    result = store.gc()
    assert result.removed == 4  # dropped's root and 2 leaves, and the unpinned raw chunk
    assert len(block_files(store)) == before - 4
    assert store.cat(kept.cid) == kubo_random_bytes(2 * CHUNK + 1, "kept")
    with pytest.raises(NotFound):
        store.cat(dropped.cid)


def test_unpin_of_unknown_cid_is_not_found(store):
    with pytest.raises(NotFound):
        store.unpin("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e")


def test_pin_requires_the_whole_dag(store):
    result = store.add_bytes(kubo_random_bytes(CHUNK + 1, "partial"), pin=False)
    leaf = [p for p in block_files(store) if p.stat().st_size == 1][0]
    leaf.unlink()
    with pytest.raises(NotFound):
        store.pin(result.cid)
    assert store.pins() == []


def test_a_tampered_block_is_refused_naming_its_cid(store):
    result = store.add_bytes(kubo_random_bytes(CHUNK + 1, "tamper"))
    leaf = [p for p in block_files(store) if p.stat().st_size == 1][0]
    leaf.write_bytes(b"\x00" if leaf.read_bytes() != b"\x00" else b"\x01")
    with pytest.raises(BlockMismatch) as err:
        store.cat(result.cid)
    leaf_cid = [c for c in err.value.args[0].split() if c.startswith("bafk")][0]
    assert hashlib.sha256(kubo_random_bytes(CHUNK + 1, "tamper")[CHUNK:]).digest() == parse_cid(leaf_cid).digest
    with pytest.raises(BlockMismatch):
        store.verify(result.cid)


def test_missing_cid_is_not_found(store):
    with pytest.raises(NotFound) as err:
        store.cat("Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD")
    assert "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD" in str(err.value)


def test_car_export_import_round_trip(store, tmp_path):
    data = kubo_random_bytes(5 * CHUNK + 3, "car")
    result = store.add_bytes(data, cid_version=0)
    car = tmp_path / "out.car"
    assert store.export_car(result.cid, car) == 7
    with open(car, "rb") as fh:
        assert [str(r) for r in read_header(fh)] == [result.cid]
        assert len(list(iter_sections(fh))) == 7
    other = EmbeddedStore(tmp_path / "other")
    imported = other.import_car(car)
    assert imported.roots == [result.cid] and imported.blocks == 7
    assert other.cat(result.cid) == data
    assert other.pins() == [result.cid]


def _car_bytes(store, tmp_path, seed="corrupt") -> tuple[str, bytes]:
    result = store.add_bytes(kubo_random_bytes(CHUNK + 10, seed))
    car = tmp_path / "good.car"
    store.export_car(result.cid, car)
    return result.cid, car.read_bytes()


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda b: b[:-5], id="truncated"),
        pytest.param(lambda b: b[:-3] + bytes([b[-3] ^ 1]) + b[-2:], id="flipped-block-byte"),
        pytest.param(lambda b: b"\x05hello" + b[1:], id="garbage-header"),
        pytest.param(lambda b: b"", id="empty"),
        pytest.param(lambda b: b + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", id="bad-trailing-varint"),
    ],
)
def test_corrupt_car_is_refused_and_stores_nothing(store, tmp_path, mangle):
    root, good = _car_bytes(store, tmp_path)
    bad = tmp_path / "bad.car"
    bad.write_bytes(mangle(good))
    target = EmbeddedStore(tmp_path / "target")
    target.add_bytes(b"already here")
    before = snapshot(target.root)
    with pytest.raises(CorruptCar):
        target.import_car(bad)
    assert snapshot(target.root) == before


def test_car_missing_a_block_is_refused(store, tmp_path):
    root, good = _car_bytes(store, tmp_path, "missing")
    stream = io.BytesIO(good)
    read_header(stream)
    header = good[: stream.tell()]
    sections = list(iter_sections(stream))
    from provenance.ipfs.car import write_car

    out = io.BytesIO()
    write_car(out, [parse_cid(root)], sections[:-1])
    bad = tmp_path / "short.car"
    bad.write_bytes(out.getvalue())
    assert out.getvalue().startswith(header)
    target = EmbeddedStore(tmp_path / "target")
    target.add_bytes(b"already here")
    before = snapshot(target.root)
    with pytest.raises(CorruptCar, match="incomplete"):
        target.import_car(bad)
    assert snapshot(target.root) == before


def test_large_file_round_trip_through_car(store, tmp_path):
    path = write_kubo_random(tmp_path / "big", 174 * CHUNK + 1, "large")
    result = store.add_file(path, cid_version=1)
    car = tmp_path / "big.car"
    store.export_car(result.cid, car)
    other = EmbeddedStore(tmp_path / "other")
    other.import_car(car)
    digest = hashlib.sha256()
    for piece in other.iter_cat(result.cid):
        digest.update(piece)
    assert digest.digest() == hashlib.sha256(path.read_bytes()).digest()
    assert os.path.getsize(car) > path.stat().st_size
