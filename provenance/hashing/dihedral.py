"""The eight dihedral transforms (rotations and mirrors) of an image.

The order is the one `pdqhash.compute_dihedral` returns its hashes in, so a
pHash variant and a PDQ variant at the same index describe the same picture.
Each name says what was done to the original to obtain the variant.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

TRANSFORMS: tuple[str, ...] = (
    "identity",
    "rotate_90",  # counter-clockwise, as PIL's Transpose.ROTATE_90
    "rotate_180",
    "rotate_270",
    "flip_top_bottom",
    "flip_left_right",
    "transpose",  # mirror about the main diagonal
    "transverse",  # mirror about the anti-diagonal
)

_PIL_TRANSPOSE = {
    "rotate_90": Image.Transpose.ROTATE_90,
    "rotate_180": Image.Transpose.ROTATE_180,
    "rotate_270": Image.Transpose.ROTATE_270,
    "flip_top_bottom": Image.Transpose.FLIP_TOP_BOTTOM,
    "flip_left_right": Image.Transpose.FLIP_LEFT_RIGHT,
    "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}

_INVERSE = {"rotate_90": "rotate_270", "rotate_270": "rotate_90"}


def inverse(name: str) -> str:
    """The transform that undoes `name` (only the quarter turns differ from themselves)."""
    return _INVERSE.get(name, name)


def apply_to_image(image: Image.Image, name: str) -> Image.Image:
    if name == "identity":
        return image
    return image.transpose(_PIL_TRANSPOSE[name])


def apply_to_arrays(blocks: np.ndarray) -> np.ndarray:
    """All eight variants of a stack of square (..., n, n) arrays, stacked on a new axis -3.

    Row index = y, column = x, as in a PIL image converted to an array.
    """
    rot90 = np.rot90(blocks, 1, axes=(-2, -1))  # counter-clockwise, like PIL
    variants = [
        blocks,
        rot90,
        np.rot90(blocks, 2, axes=(-2, -1)),
        np.rot90(blocks, 3, axes=(-2, -1)),
        blocks[..., ::-1, :],
        blocks[..., :, ::-1],
        np.swapaxes(blocks, -2, -1),
        np.rot90(blocks, 2, axes=(-2, -1)).swapaxes(-2, -1),
    ]
    return np.stack(variants, axis=-3)
