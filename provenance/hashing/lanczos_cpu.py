"""Pillow's 8-bit LANCZOS resize on the CPU, exact, as banded float32 matrix products.

Pillow (libImaging/Resample.c) resizes an 8-bit plane in two passes,
horizontal then vertical. Each output pixel is an integer sum
`2**21 + sum(pixel * weight)` over a narrow window of inputs, with integer
weights scaled by 2**22, shifted right by 22 and clipped to 0..255.
`pil_lanczos.lanczos_weights` rebuilds those weights.

Why it is fast: each output reads only about 6/32 of a row, so the
products are taken over bands (a few consecutive outputs and the union of
their windows) instead of the dense matrix, and in float32, where BLAS runs
twice as wide as in float64.

Why it is exact: a float32 sum is exact when every partial sum is a
representable integer. Each weight is split as `hi + lo`, `hi` a multiple of
2**s and `|lo| <= 2**(s-1)`. Every partial sum of `pixel * hi` terms is a
multiple of 2**s no larger than `255 * sum|hi|`, so it is exact when that
is at most 2**(24+s); every partial sum of `pixel * lo` terms is an integer
no larger than `255 * sum|lo|`, exact when that is at most 2**24. Both hold
for every summation order, so BLAS's blocking and FMA change nothing. The two
exact halves are added in float64 (exact: integers below 2**31), then shifted
and clipped as Pillow does. All weights are stored pre-scaled by 2**-22, a
power of two, which changes no rounding and turns Pillow's shift into a floor.
`split_weights` picks the smallest `s` that satisfies both; when none does
(only for inputs over ~5000 px on the reduced axis) the pass runs in float64,
where all these integer sums (below 2**31) are exact anyway.

The products run in torch on CPU tensors that share the numpy buffers:
torch's matmul reads the strided band slices in place as numpy's does, and
it follows `torch.set_num_threads`, where numpy's OpenBLAS starts its own
threads, which thrash when several hashing threads call it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

from provenance.hashing.pil_lanczos import float32_matmul_is_ieee, lanczos_weights

_PRECISION_BITS = 22
_UNIT = 2.0**-_PRECISION_BITS
_FLOAT32_EXACT = float(1 << 24)
_STRIP_PIXELS = 1 << 18  # rows converted to float32 and reduced together: 1 MiB, about a core's L2 cache
_MIN_STRIP_ROWS = 512  # but not so few rows that each product's fixed cost shows (wide images)
_BAND = 8  # outputs per band: wider bands waste work on zeros, narrower ones make BLAS calls too skinny


@dataclass(frozen=True)
class Band:
    """Outputs `start:end` read inputs `lo:hi`.

    `weights` is float32 (hi - lo, 2 * (end - start)), the hi and lo parts of
    each output in turn, or float64 (hi - lo, end - start) when the split cannot
    be exact; both scaled by 2**-22.
    """

    start: int
    end: int
    lo: int
    hi: int
    weights: torch.Tensor


@dataclass(frozen=True)
class AxisPlan:
    """How one axis of one input size is reduced."""

    in_size: int
    out_size: int
    split: bool  # float32 hi/lo products; otherwise float64 ones
    bands: tuple[Band, ...]


def split_weights(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(hi, lo) float32 matrices with hi + lo == weights and exact float32 sums, or None."""
    for shift in range(0, 12):
        step = float(1 << shift)
        hi = np.round(weights / step) * step
        lo = weights - hi
        hi_ok = 255.0 * np.abs(hi).sum(axis=1).max() <= _FLOAT32_EXACT * step
        lo_ok = 255.0 * np.abs(lo).sum(axis=1).max() <= _FLOAT32_EXACT
        if not lo_ok:
            break  # a larger shift only makes the lo part bigger
        if hi_ok:
            return hi.astype(np.float32), lo.astype(np.float32)
    return None


@lru_cache(maxsize=256)
def axis_plan(in_size: int, out_size: int, band: int = _BAND) -> AxisPlan:
    import torch  # here, not at the top: this fallback is the only CPU path that needs it

    weights = lanczos_weights(in_size, out_size)
    split = split_weights(weights)
    weights = weights * _UNIT
    if split is not None:
        split = (split[0] * np.float32(_UNIT), split[1] * np.float32(_UNIT))
    nonzero = weights != 0
    columns = np.arange(in_size)
    first = np.where(nonzero, columns, in_size).min(axis=1)
    last = np.where(nonzero, columns, -1).max(axis=1) + 1
    bands = []
    for start in range(0, out_size, band):
        end = min(start + band, out_size)
        lo_col = int(first[start:end].min())
        hi_col = max(int(last[start:end].max()), lo_col)
        if split is None:
            stacked = weights[start:end, lo_col:hi_col].T
        else:
            # Columns hi, lo of the first output, then of the next: all bands' products
            # side by side pair up at even and odd columns, added in one pass.
            stacked = np.stack([part[start:end, lo_col:hi_col] for part in split], axis=1).reshape(-1, hi_col - lo_col).T
        bands.append(Band(start, end, lo_col, hi_col, torch.from_numpy(np.ascontiguousarray(stacked))))
    return AxisPlan(in_size, out_size, split is not None, tuple(bands))


def reduce_rows(rows: np.ndarray, plan: AxisPlan, out: np.ndarray) -> None:
    """Resize each row of `rows` (M, in_size), float32 holding 0..255, into the uint8 array `out` (M, out_size)."""
    import torch

    source = torch.from_numpy(rows)
    if not plan.split:
        source = source.double()
    # numpy's float32 products are always IEEE; torch's only unless told otherwise.
    with_torch = not plan.split or float32_matmul_is_ieee(source.device)
    if with_torch:
        products = torch.cat([source[:, band.lo : band.hi] @ band.weights for band in plan.bands], dim=1).numpy()
    else:
        products = np.concatenate([rows[:, band.lo : band.hi] @ band.weights.numpy() for band in plan.bands], axis=1)
    if plan.split:
        sums = np.add(products[:, 0::2], products[:, 1::2], dtype=np.float64)
    else:
        sums = products
    # Pillow: (2**21 + sum) >> 22, then clip to 0..255. The sums are already
    # scaled by 2**-22, and once clipped to [0, 255] the cast to uint8
    # truncates, which is the floor of a non-negative value.
    sums += 0.5
    np.clip(sums, 0.0, 255.0, out=out, casting="unsafe")


def _reduce_in_strips(rows: np.ndarray, plan: AxisPlan, out: np.ndarray) -> None:
    """`reduce_rows` over strips of about `_STRIP_PIXELS`, converting each strip to float32 just before its products.

    The float32 copy of a strip is still in cache when the products read it,
    and a huge image never needs a float32 copy of itself.
    """
    step = max(_MIN_STRIP_ROWS, _STRIP_PIXELS // rows.shape[1])
    for first in range(0, rows.shape[0], step):
        strip = rows[first : first + step]
        if strip.dtype != np.float32:
            strip = strip.astype(np.float32)
        reduce_rows(strip, plan, out[first : first + step])


def resize_stack(planes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, H, W) planes (uint8, or float32 holding integers 0..255) -> (N, h, w) uint8, exactly Pillow's L-mode LANCZOS resize."""
    count, in_h, in_w = planes.shape
    out_h, out_w = size
    if in_h == 0 or in_w == 0:
        return np.zeros((count, out_h, out_w), dtype=np.uint8)  # what Pillow gives for an empty image
    if out_w == in_w:  # Pillow skips a pass whose size does not change (no box here)
        narrowed = planes.astype(np.uint8)
    else:
        narrowed = np.empty((count, in_h, out_w), dtype=np.uint8)
        _reduce_in_strips(planes.reshape(count * in_h, in_w), axis_plan(in_w, out_w), narrowed.reshape(count * in_h, out_w))
    if out_h == in_h:
        return narrowed
    # The vertical pass as rows: transpose the small (N, H, w) intermediate, converting it back to float32.
    columns = np.empty((count, out_w, in_h), dtype=np.float32)
    np.copyto(columns, narrowed.transpose(0, 2, 1))
    result = np.empty((count, out_w, out_h), dtype=np.uint8)
    _reduce_in_strips(columns.reshape(count * out_w, in_h), axis_plan(in_h, out_h), result.reshape(count * out_w, out_h))
    return np.ascontiguousarray(result.transpose(0, 2, 1))
