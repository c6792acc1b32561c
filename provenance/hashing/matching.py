"""Dihedral-aware comparison of two images' hashes."""

from __future__ import annotations

from dataclasses import dataclass

from provenance.hashing.dihedral import TRANSFORMS, inverse
from provenance.hashing.distance import pdq_distance, phash_distance
from provenance.hashing.image import ImageHashes
from provenance.hashing.policy import DEFAULT_PDQ_THRESHOLD, DEFAULT_PHASH_THRESHOLD, PDQ_MIN_QUALITY


@dataclass(frozen=True)
class PerceptualMatch:
    hash_kind: str  # "phash" or "pdq"
    transform: str  # what turns the reference into the query (see dihedral.TRANSFORMS)
    distance: int
    threshold: int

    @property
    def within_threshold(self) -> bool:
        return self.distance <= self.threshold

    def to_dict(self) -> dict[str, object]:
        return {
            "hash_kind": self.hash_kind,
            "transform": self.transform,
            "distance": self.distance,
            "threshold": self.threshold,
            "within_threshold": self.within_threshold,
        }


def _closest(query: str, query_variants: tuple[str, ...], ref: str, ref_variants: tuple[str, ...], distance) -> tuple[str, int]:
    """Smallest distance over the transforms, using whichever side has variants."""
    if ref_variants:
        pairs = [(name, distance(query, h)) for name, h in zip(TRANSFORMS, ref_variants, strict=True)]
    elif query_variants:
        # hash(t(query)) close to ref means query = t^-1(ref).
        pairs = [(inverse(name), distance(h, ref)) for name, h in zip(TRANSFORMS, query_variants, strict=True)]
    else:
        pairs = [("identity", distance(query, ref))]
    return min(pairs, key=lambda pair: pair[1])


def match_per_hash(
    query: ImageHashes,
    reference: ImageHashes,
    phash_threshold: int = DEFAULT_PHASH_THRESHOLD,
    pdq_threshold: int = DEFAULT_PDQ_THRESHOLD,
) -> list[PerceptualMatch]:
    """The closest transform per hash kind; PDQ is left out when either side is low quality."""
    transform, dist = _closest(query.phash, query.phash_dihedral, reference.phash, reference.phash_dihedral, phash_distance)
    results = [PerceptualMatch("phash", transform, dist, phash_threshold)]
    if min(query.pdq_quality, reference.pdq_quality) >= PDQ_MIN_QUALITY:
        transform, dist = _closest(query.pdq, query.pdq_dihedral, reference.pdq, reference.pdq_dihedral, pdq_distance)
        results.append(PerceptualMatch("pdq", transform, dist, pdq_threshold))
    return results


def best_match(
    query: ImageHashes,
    reference: ImageHashes,
    phash_threshold: int = DEFAULT_PHASH_THRESHOLD,
    pdq_threshold: int = DEFAULT_PDQ_THRESHOLD,
) -> PerceptualMatch:
    """The comparison that is relatively closest to its threshold (check `within_threshold`).

    A match only ever supports a `modified` verdict: see `PERCEPTUAL_MATCH_CAVEAT`.
    """
    candidates = match_per_hash(query, reference, phash_threshold, pdq_threshold)
    return min(candidates, key=lambda m: m.distance / max(m.threshold, 1))
