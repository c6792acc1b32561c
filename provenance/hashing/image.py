"""Perceptual hashes of still images: the values certify stores and verify compares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PIL import Image

from provenance.hashing.errors import HashingError
from provenance.hashing.pdq import pdq_hash
from provenance.hashing.phash import phash_batch

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ImageHashes:
    phash: str  # str(imagehash.phash(image)): 16 hex digits
    pdq: str  # 64 hex digits
    pdq_quality: int
    # Hashes of the rotated and mirrored image, in `dihedral.TRANSFORMS` order
    # (index 0 repeats the plain hash); empty when not computed.
    phash_dihedral: tuple[str, ...] = field(default=())
    pdq_dihedral: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"phash": self.phash, "pdq": self.pdq, "pdq_quality": self.pdq_quality}
        if self.phash_dihedral:
            data["phash_dihedral"] = list(self.phash_dihedral)
        if self.pdq_dihedral:
            data["pdq_dihedral"] = list(self.pdq_dihedral)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ImageHashes:
        try:
            return cls(
                phash=str(data["phash"]),
                pdq=str(data["pdq"]),
                pdq_quality=_whole(data["pdq_quality"]),
                phash_dihedral=tuple(str(h) for h in _listed(data.get("phash_dihedral"))),
                pdq_dihedral=tuple(str(h) for h in _listed(data.get("pdq_dihedral"))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise HashingError(f"malformed image hashes: {exc}") from None


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return int(value)


def _listed(value: object) -> list | tuple:
    """A stored list of hashes (absent: none); anything else is malformed."""
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"expected a list of hashes, got {type(value).__name__}")
    return value


def image_hashes_batch(images: Sequence[Image.Image], dihedral: bool = True, device: str | torch.device = "cpu") -> list[ImageHashes]:
    """Hashes for many images; pHash runs batched (compiled kernel on the CPU, torch elsewhere), PDQ per image."""
    phashes = phash_batch(images, device=device, dihedral=dihedral)
    results = []
    for image, phash_variants in zip(images, phashes, strict=True):
        pdq = pdq_hash(image, dihedral=dihedral)
        results.append(
            ImageHashes(
                phash=phash_variants[0],
                pdq=pdq.hashes[0],
                pdq_quality=pdq.quality,
                phash_dihedral=tuple(phash_variants) if dihedral else (),
                pdq_dihedral=pdq.hashes if dihedral else (),
            )
        )
    return results


def image_hashes(image: Image.Image, dihedral: bool = True) -> ImageHashes:
    return image_hashes_batch([image], dihedral=dihedral)[0]
