"""Hamming distances between hex-encoded hashes."""

from __future__ import annotations

from provenance.hashing.errors import HashingError

PHASH_HEX_LEN = 16
PDQ_HEX_LEN = 64


def _parse(value: str, length: int, kind: str) -> int:
    if not isinstance(value, str) or len(value) != length:
        raise HashingError(f"{kind} must be {length} hex digits, got {value!r}")
    try:
        return int(value, 16)
    except ValueError:
        raise HashingError(f"{kind} is not hexadecimal: {value!r}") from None


def hamming_hex(a: str, b: str, length: int, kind: str = "hash") -> int:
    return (_parse(a, length, kind) ^ _parse(b, length, kind)).bit_count()


def phash_distance(a_hex: str, b_hex: str) -> int:
    """Bits that differ between two 64-bit pHashes (0..64)."""
    return hamming_hex(a_hex, b_hex, PHASH_HEX_LEN, "pHash")


def pdq_distance(a_hex: str, b_hex: str) -> int:
    """Bits that differ between two 256-bit PDQ hashes (0..256)."""
    return hamming_hex(a_hex, b_hex, PDQ_HEX_LEN, "PDQ hash")
