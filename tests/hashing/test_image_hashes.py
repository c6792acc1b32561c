"""ImageHashes values and dihedral matching (loading errors: tests/pipeline/test_media.py)."""

from __future__ import annotations

import imagehash
import pytest

from provenance.hashing import (
    DEFAULT_PDQ_THRESHOLD,
    DEFAULT_PHASH_THRESHOLD,
    PERCEPTUAL_MATCH_CAVEAT,
    TRANSFORMS,
    HashingError,
    ImageHashes,
    best_match,
    image_hashes,
    image_hashes_batch,
    match_per_hash,
)
from provenance.hashing.dihedral import apply_to_image
from provenance.media import load_media

from .conftest import photo_like


def test_image_hashes_fields_and_round_trip():
    image = photo_like(21)
    hashes = image_hashes(image)
    assert hashes.phash == str(imagehash.phash(image))
    assert len(hashes.pdq) == 64 and int(hashes.pdq, 16) >= 0
    assert 0 <= hashes.pdq_quality <= 100
    assert hashes.phash_dihedral[0] == hashes.phash and hashes.pdq_dihedral[0] == hashes.pdq
    assert ImageHashes.from_dict(hashes.to_dict()) == hashes
    plain = image_hashes(image, dihedral=False)
    assert set(plain.to_dict()) == {"phash", "pdq", "pdq_quality"}


def test_from_dict_rejects_missing_fields():
    with pytest.raises(HashingError):
        ImageHashes.from_dict({"phash": "0" * 16})


def test_batch_equals_single():
    images = [photo_like(seed, (200 + 10 * seed, 150)) for seed in range(4)]
    assert image_hashes_batch(images) == [image_hashes(image) for image in images]


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_rotated_and_mirrored_copies_match_with_their_transform(transform):
    original = photo_like(31, (360, 240))
    reference = image_hashes(original)
    query = image_hashes(apply_to_image(original, transform), dihedral=False)
    for match in match_per_hash(query, reference):
        assert match.transform == transform
        assert match.within_threshold
    # The plain (non-dihedral) comparison misses every transform but identity.
    if transform != "identity":
        plain = ImageHashes(reference.phash, reference.pdq, reference.pdq_quality)
        assert match_per_hash(query, plain)[0].distance > DEFAULT_PHASH_THRESHOLD


def test_query_side_variants_are_used_when_the_reference_has_none():
    original = photo_like(32, (300, 300))
    reference = image_hashes(original, dihedral=False)
    query = image_hashes(apply_to_image(original, "rotate_90"))
    match = best_match(query, reference)
    assert match.transform == "rotate_90" and match.distance <= 2


def test_unrelated_images_do_not_match():
    first, second = image_hashes(photo_like(41)), image_hashes(photo_like(42))
    match = best_match(first, second)
    assert not match.within_threshold
    assert match.threshold in (DEFAULT_PHASH_THRESHOLD, DEFAULT_PDQ_THRESHOLD)


def test_jpeg_copy_matches(tmp_path):
    original = photo_like(51, (480, 320))
    path = tmp_path / "copy.jpg"
    original.save(path, quality=60)
    match = best_match(image_hashes(load_media(path).first_frame, dihedral=False), image_hashes(original))
    assert match.within_threshold and match.transform == "identity"


def test_caveat_says_a_match_is_not_verification():
    text = PERCEPTUAL_MATCH_CAVEAT.lower()
    assert "modified" in text and "never as 'verified'" in text and "collision" in text
