"""CID parsing and printing, and the token-URI CID of metadata documents."""

from __future__ import annotations

import hashlib

import pytest

from provenance.ipfs import InvalidCid, raw_cid_from_sha256, sha256_from_raw_cid
from provenance.ipfs.cid import DAG_PB, RAW, parse_cid
from provenance.ipfs.multiformats import b58_decode, b58_encode, decode_varint, encode_varint


def test_raw_cid_round_trips_sha256():
    digest = hashlib.sha256(b"hello world").digest()
    cid = raw_cid_from_sha256(digest)
    # Kubo's `ipfs add --cid-version=1 "hello world"` (add_test.go) is exactly this raw block
    assert cid == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    assert sha256_from_raw_cid(cid) == digest
    assert sha256_from_raw_cid("ipfs://" + cid) == digest


def test_sha256_from_raw_cid_refuses_dag_pb():
    with pytest.raises(InvalidCid):
        sha256_from_raw_cid("bafybeihykld7uyxzogax6vgyvag42y7464eywpf55gxi5qpoisibh3c5wa")
    with pytest.raises(InvalidCid):
        sha256_from_raw_cid("Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD")


@pytest.mark.parametrize(
    "text, version, codec",
    [
        ("Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD", 0, DAG_PB),
        ("bafybeihykld7uyxzogax6vgyvag42y7464eywpf55gxi5qpoisibh3c5wa", 1, DAG_PB),
        ("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e", 1, RAW),
    ],
)
def test_parse_and_print_round_trip(text, version, codec):
    cid = parse_cid(text)
    assert (cid.version, cid.codec) == (version, codec)
    assert str(cid) == text
    assert str(parse_cid("/ipfs/" + text)) == text


def test_base58_v1_parses_to_the_same_cid_as_base32():
    cid = parse_cid("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e")
    assert parse_cid("z" + b58_encode(cid.to_bytes())) == cid


@pytest.mark.parametrize(
    "text",
    [
        "",
        "foo",
        "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyf0",  # '0' is not base58
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5",  # truncated digest
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5eaa",  # trailing bytes
        "BAFKREIFZJUT3TE2NHYEKKLSS27NH3K72YSCO7Y32KOAO5EEI66WOF36N5E",  # upper-case multibase is not ours
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5!",
    ],
)
def test_bad_cids_raise_invalid_cid_naming_the_input(text):
    with pytest.raises(InvalidCid) as err:
        parse_cid(text)
    assert text.strip() == "" or text in str(err.value)


def test_varints():
    for value in (0, 1, 127, 128, 300, 2**32, 2**63 - 1):
        assert decode_varint(encode_varint(value)) == (value, len(encode_varint(value)))
    assert encode_varint(300) == bytes([0xAC, 0x02])  # protobuf docs' example
    with pytest.raises(ValueError):
        decode_varint(b"\x80")  # truncated
    with pytest.raises(ValueError):
        decode_varint(b"\x81\x00")  # not minimal


def test_base58_leading_zeros():
    assert b58_decode(b58_encode(b"\0\0abc")) == b"\0\0abc"
    assert b58_encode(b"\0") == "1"


def test_metadata_json_cid_is_the_raw_cid_of_its_sha256(store):
    """The chain's tokenURI is ipfs:// + raw CID of sha256(metadata bytes); adding must agree."""
    from provenance.ipfs import canonical_json

    metadata = {
        "name": "Provenance certificate \u2014 caf\u00e9.jpg",
        "content": {"sha256": "ab" * 32, "phash": "8f373714acfcf4d0"},
        "detector": {"verdict": "authentic", "score": 0.0123},
        "padding": "x" * 200_000,  # still under one 256 KiB chunk
    }
    body = canonical_json(metadata)
    assert len(body) < 256 * 1024
    assert body == __import__("json").dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    result = store.add_json(metadata)
    assert result.cid == raw_cid_from_sha256(hashlib.sha256(body).digest())
    assert result.profile.cid_version == 1 and result.profile.raw_leaves
    assert store.cat(result.cid) == body
