"""The PDQ lookup radius: a knob that trades lookup recall for speed on big ledgers.

A copy rotated by 4 degrees is 14 pHash bits from the original (past the
pHash threshold of 11) but 74 PDQ bits (within the PDQ threshold of 79), so
only the PDQ lookup can find its certificate.
"""

from __future__ import annotations

import dataclasses

from PIL import Image

from provenance.context import Parts
from provenance.hashing.distance import pdq_distance, phash_distance
from provenance.hashing.image import image_hashes
from provenance.verify import Status
from provenance.verify.verifier import Verifier

from .conftest import edited, make_photo


def _rotated_copy(tmp_path):
    original = make_photo(tmp_path / "original.png", seed=5)
    copy = edited(original, tmp_path / "rotated.png", lambda im: im.rotate(4, Image.Resampling.BICUBIC))
    with Image.open(original) as a, Image.open(copy) as b:
        ref, query = image_hashes(a.convert("RGB")), image_hashes(b.convert("RGB"), dihedral=False)
    distances = (
        min(phash_distance(query.phash, v) for v in ref.phash_dihedral),
        min(pdq_distance(query.pdq, v) for v in ref.pdq_dihedral),
    )
    return original, copy, distances


def _with_lookup(parts: Parts, pdq_lookup: int) -> Parts:
    thresholds = dataclasses.replace(parts.settings.thresholds, pdq_lookup=pdq_lookup)
    return dataclasses.replace(parts, settings=dataclasses.replace(parts.settings, thresholds=thresholds))


def test_pdq_lookup_radius_decides_whether_a_pdq_only_copy_is_found(parts, certify, tmp_path):
    original, copy, (phash_bits, pdq_bits) = _rotated_copy(tmp_path)
    thresholds = parts.settings.thresholds
    assert phash_bits > thresholds.phash and pdq_bits <= thresholds.pdq  # the premise: PDQ alone can find it
    (result,) = certify(original)
    assert result.error is None

    report = Verifier(parts).verify(copy)  # default: the lookup searches the whole PDQ threshold
    assert report.status is Status.MODIFIED, report.to_dict()
    assert report.candidates[0].found_by == "perceptual" and report.candidates[0].hash_kind == "pdq"

    narrow = Verifier(_with_lookup(parts, pdq_bits - 1)).verify(copy)
    assert narrow.status is Status.NOT_FOUND, narrow.to_dict()

    # The cap only narrows the lookup: the exact copy is still found by its content hash.
    assert Verifier(_with_lookup(parts, 0)).verify(original).status is Status.VERIFIED
