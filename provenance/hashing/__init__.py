"""Perceptual hashing: exact batched pHash, PDQ, dihedral variants, video frame comparison and lookup.

Files are read and decoded by `provenance.media` (the one loader); this package hashes pictures.

A perceptual match never proves identity; see `PERCEPTUAL_MATCH_CAVEAT`.
"""

from provenance.hashing.dihedral import TRANSFORMS
from provenance.hashing.distance import pdq_distance, phash_distance
from provenance.hashing.errors import HashingError
from provenance.hashing.image import ImageHashes, image_hashes, image_hashes_batch
from provenance.hashing.matching import PerceptualMatch, best_match, match_per_hash
from provenance.hashing.policy import (
    DEFAULT_PDQ_THRESHOLD,
    DEFAULT_PHASH_THRESHOLD,
    PDQ_MIN_QUALITY,
    PERCEPTUAL_MATCH_CAVEAT,
)

__all__ = [
    "DEFAULT_PDQ_THRESHOLD",
    "DEFAULT_PHASH_THRESHOLD",
    "PDQ_MIN_QUALITY",
    "PERCEPTUAL_MATCH_CAVEAT",
    "TRANSFORMS",
    "HashingError",
    "ImageHashes",
    "PerceptualMatch",
    "best_match",
    "image_hashes",
    "image_hashes_batch",
    "match_per_hash",
    "pdq_distance",
    "phash_distance",
]
