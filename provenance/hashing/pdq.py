"""PDQ hashes (Meta's 256-bit perceptual hash) through the `pdqhash` package."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image

PDQ_BITS = 256


@dataclass(frozen=True)
class PdqResult:
    hashes: tuple[str, ...]  # one per dihedral variant, `dihedral.TRANSFORMS` order
    quality: int  # 0..100; PDQ's own advice is to distrust matches below 50


def _rgb_array(image: Image.Image) -> np.ndarray:
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def vector_to_hex(vector: np.ndarray) -> str:
    """pdqhash's bit vector (most significant first) -> PDQ's canonical 64-hex-digit form."""
    return np.packbits(vector.astype(np.uint8)).tobytes().hex()


def pdq_hash(image: Image.Image, dihedral: bool = False) -> PdqResult:
    """PDQ hash and quality; with `dihedral`, all eight variants (same cost: one DCT)."""
    pixels = _rgb_array(image)
    if dihedral:
        vectors, quality = pdqhash.compute_dihedral(pixels)
        return PdqResult(tuple(vector_to_hex(v) for v in vectors), int(quality))
    vector, quality = pdqhash.compute(pixels)
    return PdqResult((vector_to_hex(vector),), int(quality))
