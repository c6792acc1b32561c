"""Content identifiers: parsing, printing and checking blocks against them.

Only sha2-256 multihashes are produced or verified; other hash functions parse
but are refused when a block has to be checked, because an unverifiable CID
must never let bytes through.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from provenance.ipfs.errors import BlockMismatch, InvalidCid
from provenance.ipfs.multiformats import (
    b32_decode,
    b32_encode,
    b58_decode,
    b58_encode,
    decode_varint,
    encode_varint,
)

DAG_PB = 0x70
RAW = 0x55
SHA2_256 = 0x12
SHA2_256_LEN = 32


@dataclass(frozen=True)
class Cid:
    version: int
    codec: int
    digest: bytes
    hash_code: int = SHA2_256

    @property
    def multihash(self) -> bytes:
        return encode_varint(self.hash_code) + encode_varint(len(self.digest)) + self.digest

    def to_bytes(self) -> bytes:
        if self.version == 0:
            return self.multihash
        return encode_varint(1) + encode_varint(self.codec) + self.multihash

    def __str__(self) -> str:
        if self.version == 0:
            return b58_encode(self.multihash)
        return "b" + b32_encode(self.to_bytes())

    def verify(self, block: bytes | memoryview, source: str = "") -> None:
        """Raise `BlockMismatch` unless `block` hashes to this CID's digest."""
        if self.hash_code != SHA2_256:
            raise InvalidCid(f"{self}: only sha2-256 CIDs can be verified (hash code 0x{self.hash_code:x})")
        if hashlib.sha256(block).digest() != self.digest:
            raise BlockMismatch(str(self), source)


def parse_cid(text: str) -> Cid:
    """Parse a CIDv0 (base58btc `Qm...`) or a CIDv1 in base32 (`b...`) or base58btc (`z...`)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidCid(f"not a CID: {text!r}")
    text = text.strip()
    for prefix in ("/ipfs/", "ipfs://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    try:
        return _parse_bare(text)
    except InvalidCid as exc:
        raise InvalidCid(f"not a CID: {text!r} ({exc.args[0]})") from None


def _parse_bare(text: str) -> Cid:
    if len(text) == 46 and text.startswith("Qm"):
        return _v0_from_multihash(b58_decode(text))
    if text[0] == "b":
        raw = b32_decode(text[1:])
    elif text[0] == "z":
        raw = b58_decode(text[1:])
    else:
        raise InvalidCid("unsupported multibase prefix or malformed CIDv0")
    cid, end = cid_from_bytes(raw, 0)
    if end != len(raw):
        raise InvalidCid("trailing bytes after the CID")
    return cid


def cid_from_bytes(buf: bytes | memoryview, offset: int = 0, label: str = "") -> tuple[Cid, int]:
    """Decode a binary CID at `offset`; return it and the offset just past it."""
    label = label or "binary CID"
    try:
        if len(buf) - offset >= 2 and buf[offset] == SHA2_256 and buf[offset + 1] == SHA2_256_LEN:
            end = offset + 2 + SHA2_256_LEN
            if end > len(buf):
                raise ValueError("truncated multihash")
            return _v0_from_multihash(bytes(buf[offset:end])), end
        version, pos = decode_varint(buf, offset)
        if version != 1:
            raise ValueError(f"unsupported CID version {version}")
        codec, pos = decode_varint(buf, pos)
        hash_code, pos = decode_varint(buf, pos)
        length, pos = decode_varint(buf, pos)
        if pos + length > len(buf):
            raise ValueError("truncated multihash")
        return Cid(1, codec, bytes(buf[pos : pos + length]), hash_code), pos + length
    except ValueError as exc:
        raise InvalidCid(f"malformed {label}: {exc}") from None


def _v0_from_multihash(mh: bytes) -> Cid:
    if len(mh) != 2 + SHA2_256_LEN or mh[0] != SHA2_256 or mh[1] != SHA2_256_LEN:
        raise InvalidCid("a CIDv0 must be a sha2-256 multihash")
    return Cid(0, DAG_PB, mh[2:])


def raw_cid_from_sha256(digest: bytes) -> str:
    """CIDv1, raw codec, sha2-256, base32: the CID of a single raw block with this digest."""
    if len(digest) != SHA2_256_LEN:
        raise ValueError("a sha2-256 digest is 32 bytes")
    return str(Cid(1, RAW, bytes(digest)))


def sha256_from_raw_cid(cid: str) -> bytes:
    """Inverse of `raw_cid_from_sha256`; refuses any other kind of CID."""
    parsed = parse_cid(cid)
    if parsed.version != 1 or parsed.codec != RAW or parsed.hash_code != SHA2_256:
        raise InvalidCid(f"{cid} is not a CIDv1 raw sha2-256 CID")
    return parsed.digest
