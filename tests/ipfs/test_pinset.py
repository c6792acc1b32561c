"""Pins are one file each; a pins.json from an older version is folded in once."""

from __future__ import annotations

import json

from provenance.ipfs import EmbeddedStore


def test_pins_survive_reopening_and_unpin_is_durable(tmp_path):
    store = EmbeddedStore(tmp_path)
    a = store.add_bytes(b"first").cid
    b = store.add_bytes(b"second").cid
    store.add_bytes(b"first")  # pinning twice is one pin
    assert EmbeddedStore(tmp_path).pins() == sorted([a, b])
    store.unpin(a)
    reopened = EmbeddedStore(tmp_path)
    assert reopened.pins() == [b]
    assert reopened.gc().to_dict()["removed"] >= 1 and not reopened.has(a) and reopened.has(b)


def test_legacy_pins_json_is_migrated(tmp_path):
    store = EmbeddedStore(tmp_path)
    kept = store.add_bytes(b"keep me", pin=False).cid
    dropped = store.add_bytes(b"collect me", pin=False).cid
    (tmp_path / "pins.json").write_text(json.dumps({"version": 1, "pins": [kept]}))
    migrated = EmbeddedStore(tmp_path)
    assert migrated.pins() == [kept]
    assert not (tmp_path / "pins.json").exists()
    migrated.gc()
    assert migrated.has(kept) and not migrated.has(dropped)
