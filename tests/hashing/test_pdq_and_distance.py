"""PDQ hex encoding, quality, and the Hamming distance helpers."""

from __future__ import annotations

import numpy as np
import pdqhash
import pytest
from PIL import Image

from provenance.hashing import HashingError, pdq_distance, phash_distance
from provenance.hashing.pdq import pdq_hash

from .conftest import photo_like


def _flip_bits(hex_value: str, positions: list[int]) -> str:
    value = int(hex_value, 16)
    for bit in positions:
        value ^= 1 << bit
    return f"{value:0{len(hex_value)}x}"


def test_pdq_hex_encodes_pdqhash_bits_most_significant_first():
    image = photo_like(11)
    result = pdq_hash(image)
    vector, quality = pdqhash.compute(np.asarray(image))
    bits = bin(int(result.hashes[0], 16))[2:].zfill(256)
    assert [int(b) for b in bits] == [int(v) for v in vector]
    assert len(result.hashes[0]) == 64
    assert result.quality == quality


def test_pdq_dihedral_first_variant_is_the_plain_hash():
    image = photo_like(12)
    plain = pdq_hash(image)
    dihedral = pdq_hash(image, dihedral=True)
    assert len(dihedral.hashes) == 8
    assert dihedral.hashes[0] == plain.hashes[0]
    assert len(set(dihedral.hashes)) == 8


def test_pdq_quality_is_low_for_flat_images():
    assert pdq_hash(Image.new("RGB", (200, 200), (90, 90, 90))).quality < 50
    assert pdq_hash(photo_like(13)).quality >= 50


def test_distances_count_flipped_bits():
    base_p, base_q = "0123456789abcdef", "f" * 64
    assert phash_distance(base_p, base_p) == 0
    assert phash_distance(base_p, _flip_bits(base_p, [0, 5, 63])) == 3
    assert pdq_distance(base_q, _flip_bits(base_q, list(range(0, 256, 2)))) == 128
    assert phash_distance(base_p.upper(), base_p) == 0


@pytest.mark.parametrize(
    "a, b",
    [("0123", "0123456789abcdef"), ("zz23456789abcdef", "0123456789abcdef"), ("f" * 64, "0123456789abcdef")],
)
def test_malformed_phash_raises_project_error(a, b):
    with pytest.raises(HashingError):
        phash_distance(a, b)


def test_malformed_pdq_raises_project_error():
    with pytest.raises(HashingError):
        pdq_distance("0" * 63, "0" * 64)
