"""Pillow's convert('L') + LANCZOS resize, exact, in the compiled `_pillow_lanczos` kernel.

The kernel reads a Pillow image's own memory (no copy) and fuses the luma
conversion into the horizontal pass; see `_pillow_lanczos.c` for why it is
exact. It is built by `pip install` when a C compiler is present; without
it, or when the installed Pillow's memory layout is not the one it reads,
`available()` says so and the caller uses the numpy path (`lanczos_cpu`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from provenance.hashing.pil_lanczos import lanczos_kernel

try:
    # mypy reads no compiled modules, so it cannot see this one (built by setup.py from _pillow_lanczos.c).
    from provenance.hashing import _pillow_lanczos  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler
    _pillow_lanczos = None

_VECTOR = 16  # int16 lanes per SIMD multiply-add: weight rows are padded to a multiple
_INT16_MAX = 2**15 - 1
# Modes whose 'L' conversion the kernel does itself (Pillow's rgb2l), with
# each one's band count and bytes per pixel in Pillow's memory.
_DIRECT = {"L": (1, 1), "RGB": (3, 4), "RGBA": (4, 4), "RGBX": (4, 4)}


@dataclass(frozen=True)
class Axis:
    """One axis of one input size, as the kernel takes it (see `_pillow_lanczos.c`); empty: no pass."""

    bounds: bytes  # int32 (out, 2): first input, count
    weights: bytes  # int32 (out, ksize): Pillow's weights
    ksize: int
    hi: bytes  # int16 (out, padded): round(weight / 2**shift), zero past each count
    lo: bytes  # int16 (out, padded): weight - hi * 2**shift
    padded: int  # ksize rounded up to a multiple of 16
    shift: int
    slack: bytes  # int32 (2, out): 255 x the sum of each output's negative, then positive, lo parts

    @property
    def horizontal(self) -> tuple:
        return (self.bounds, self.weights, self.ksize, self.hi, self.lo, self.padded, self.shift, self.slack)

    @property
    def vertical(self) -> tuple:
        return (self.bounds, self.weights, self.ksize)


_NO_PASS = Axis(b"", b"", 0, b"", b"", 0, 0, b"")


@lru_cache(maxsize=256)
def axis(in_size: int, out_size: int) -> Axis:
    if in_size == out_size:  # Pillow skips a pass whose size does not change (no box here)
        return _NO_PASS
    bounds, weights = lanczos_kernel(in_size, out_size)
    ksize = weights.shape[1]
    padded = -(-ksize // _VECTOR) * _VECTOR
    wide = np.zeros((out_size, padded), dtype=np.int64)
    wide[:, :ksize] = weights
    shift = 0
    while np.abs(np.round(wide / 2**shift)).max() > _INT16_MAX:
        shift += 1
    hi = np.round(wide / 2**shift).astype(np.int64)
    lo = wide - hi * 2**shift
    slack = 255 * np.stack([np.minimum(lo, 0).sum(axis=1), np.maximum(lo, 0).sum(axis=1)])
    return Axis(
        bounds.tobytes(),
        weights.tobytes(),
        ksize,
        hi.astype(np.int16).tobytes(),
        lo.astype(np.int16).tobytes(),
        padded,
        shift,
        slack.astype(np.int32).tobytes(),
    )


@lru_cache(maxsize=1)
def available() -> bool:
    """Whether the compiled kernel is importable and reads this Pillow's images correctly (probed once)."""
    if _pillow_lanczos is None:
        return False
    probe = Image.radial_gradient("L").resize((97, 61))
    images = [probe.convert(mode) for mode in _DIRECT]
    expected = np.stack([np.asarray(probe.resize((32, 32), Image.Resampling.LANCZOS))] * len(images))
    try:
        got = resize_many(images, (32, 32))
    except ValueError:  # the kernel's field checks refused Pillow's struct
        return False
    return bool(np.array_equal(got, expected))


def simd() -> bool:
    """Whether the kernel runs its AVX2 path on this CPU (else its portable C path)."""
    return available() and bool(_pillow_lanczos.simd)


def resize_many(images: Sequence[Image.Image], size: tuple[int, int], out: np.ndarray | None = None, threads: int = 1) -> np.ndarray:
    """`image.convert('L').resize(size, LANCZOS)` for each image, as (N, h, w) uint8, bit for bit.

    Only after `available()` has said yes. Loads lazily opened images (here,
    one after another). The kernel runs without the GIL, once for all the
    images, on up to `threads` native threads (fewer when the images are too
    small to repay starting one), so Python threads each given a list also
    run in parallel.
    """
    out_w, out_h = size
    if out is None:
        out = np.empty((len(images), out_h, out_w), dtype=np.uint8)
    items = []
    sources = []  # the capsules do not keep their images alive: these do, until the kernel is done
    for position, image in enumerate(images):
        image.load()
        if image.width == 0 or image.height == 0:
            out[position] = 0  # what Pillow gives for an empty image
            continue
        source = image if image.mode in _DIRECT else image.convert("L")
        sources.append(source)
        bands, pixelsize = _DIRECT[source.mode]
        items.append(
            (position, source.getim(), source.width, source.height, bands, pixelsize)
            + axis(source.width, out_w).horizontal
            + axis(source.height, out_h).vertical
        )
    _pillow_lanczos.resize_many(items, out_w, out_h, out, max(1, threads))
    return out
