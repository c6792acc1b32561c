"""Pillow's 8-bit Lanczos resize, rebuilt as two exact matrix products.

`imagehash.phash` resizes with `Image.resize(..., LANCZOS)`. To reproduce its
bits we rebuild Pillow's fixed-point kernel (libImaging/Resample.c): double
weights per output pixel, normalised, rounded to integers scaled by 2**22,
then accumulated in integers from a 2**21 rounding offset, shifted right by
22 and clipped to 0..255 after each of the two passes (horizontal first).

All the sums are integers below 2**31, so float64 arithmetic is exact; the
float32 fast path is checked against that bound and the few outputs that sit
too close to a rounding step are recomputed in float64.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# torch is imported inside the functions that use it: `lanczos_kernel` serves the compiled
# kernel (lanczos_native), and commands that only hash must not pay for importing torch.

_PRECISION_BITS = 32 - 8 - 2
_SCALE = float(1 << _PRECISION_BITS)
_HALF = float(1 << (_PRECISION_BITS - 1))
_LANCZOS_SUPPORT = 3.0


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x *= math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    if -3.0 <= x < 3.0:
        return _sinc(x) * _sinc(x / 3.0)
    return 0.0


def _truncate(value: float) -> int:
    # C's (int) cast truncates toward zero; Python's int() does the same.
    return int(value)


@lru_cache(maxsize=256)
def lanczos_kernel(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for one axis.

    Returns `bounds` int32 (out_size, 2), each output's first input and input
    count, and `weights` int32 (out_size, ksize), its integer weights scaled
    by 2**22 (zero past the count), both read-only.
    """
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = _LANCZOS_SUPPORT * filterscale
    inv = 1.0 / filterscale
    ksize = math.ceil(support) * 2 + 1
    bounds = np.zeros((out_size, 2), dtype=np.int32)
    kernel = np.zeros((out_size, ksize), dtype=np.int32)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(_truncate(center - support + 0.5), 0)
        count = min(_truncate(center + support + 0.5), in_size) - xmin
        weights = [_lanczos((x + xmin - center + 0.5) * inv) for x in range(count)]
        total = sum(weights)
        for x, w in enumerate(weights):
            k = w / total if total != 0.0 else w
            kernel[xx, x] = _truncate((-0.5 if k < 0 else 0.5) + k * _SCALE)
        bounds[xx] = (xmin, count)
    bounds.setflags(write=False)
    kernel.setflags(write=False)
    return bounds, kernel


@lru_cache(maxsize=256)
def lanczos_weights(in_size: int, out_size: int) -> np.ndarray:
    """The (out_size, in_size) integer weight matrix Pillow uses for one axis, as float64."""
    bounds, kernel = lanczos_kernel(in_size, out_size)
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    for xx, (xmin, count) in enumerate(bounds.tolist()):
        matrix[xx, xmin : xmin + count] = kernel[xx, :count]
    matrix.setflags(write=False)
    return matrix


def _clip8(sums: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.floor((sums + _HALF) / _SCALE).clamp_(0, 255)


def _exact_pass(pixels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(..., n) x (m, n) -> (..., m) in float64, bit-exact."""
    return _clip8(pixels.double() @ weights.T)


def _column_groups(weights: torch.Tensor, width: int) -> list[tuple[int, int, int, int]]:
    """(first output, end output, first input, end input) for runs of `width` outputs.

    Each output only reads a narrow window of inputs, so multiplying by the
    whole dense matrix would waste most of its work on zeros.
    """
    import torch

    nonzero = weights != 0
    columns = torch.arange(weights.shape[1], device=weights.device)
    first = torch.where(nonzero, columns, weights.shape[1]).min(dim=1).values.tolist()
    last = torch.where(nonzero, columns, -1).max(dim=1).values.tolist()
    groups = []
    for start in range(0, weights.shape[0], width):
        end = min(start + width, weights.shape[0])
        lo, hi = min(first[start:end]), max(last[start:end]) + 1
        groups.append((start, end, lo, max(hi, lo)))
    return groups


def _fast_pass(pixels: torch.Tensor, weights64: torch.Tensor, group_width: int = 4) -> torch.Tensor:
    """Like `_exact_pass` but in float32, falling back to float64 where rounding could differ.

    `pixels` may already be float32 (the caller's reusable buffer).
    """
    import torch

    source = pixels if pixels.dtype == torch.float32 else pixels.float()
    rows = source.reshape(-1, source.shape[-1])  # a view: the buffer is contiguous
    weights32 = weights64.float()
    groups = _column_groups(weights64, group_width)
    sums = torch.empty(rows.shape[0], weights64.shape[0], dtype=torch.float32, device=source.device)
    for start, end, lo, hi in groups:
        # A 2-D strided slice goes to BLAS as is; no copy of the pixels.
        sums[:, start:end] = rows[:, lo:hi] @ weights32[start:end, lo:hi].T
    # Rounding error of a float32 dot product of n terms stays below
    # n * 2**-24 * sum|terms| whatever the summation order; we allow twice that.
    # Zero weights add no error, so the term count is the widest kernel.
    bound = 255.0 * weights64.abs().sum(dim=1).max().item()
    terms = int((weights64 != 0).sum(dim=1).max().item())
    margin = (bound * terms * 2.0**-23 + 1.0) / _SCALE
    shifted = (sums.double() + _HALF) / _SCALE
    frac = shifted - torch.floor(shifted)
    doubtful = (frac < margin) | (frac > 1.0 - margin)
    out = torch.floor(shifted).clamp_(0, 255)
    for start, end, lo, hi in groups:
        for column in range(start, end):
            suspects = doubtful[:, column].nonzero().squeeze(1)
            if suspects.numel():
                exact = rows[suspects, lo:hi].double() @ weights64[column, lo:hi]
                out[suspects, column] = _clip8(exact)
    return out.reshape(*source.shape[:-1], weights64.shape[0])


def float32_matmul_is_ieee(device: torch.device) -> bool:
    """Whether torch's float32 matrix products on `device` round as IEEE float32.

    An application may let torch run float32 products in TF32 (CUDA) or
    bfloat16 (oneDNN on CPUs that have it), which round the 22-bit weights;
    the error bounds here assume IEEE float32, so those settings must turn the
    float32 paths off. A setting that cannot be read counts as not IEEE.
    """
    import torch

    try:
        if device.type == "cuda":
            backend = torch.backends.cuda.matmul
            precision = getattr(backend, "fp32_precision", "none")
            return not backend.allow_tf32 and precision in ("none", "ieee")
        if device.type == "cpu":
            matmul = getattr(torch.backends.mkldnn, "matmul", None)
            precision = getattr(matmul, "fp32_precision", "none") if matmul is not None else "none"
            return precision in ("none", "ieee") and getattr(torch.backends, "fp32_precision", "none") in ("none", "ieee")
    except RuntimeError:
        return False
    return False


def resize_gray(pixels: torch.Tensor, size: tuple[int, int], fast: bool = True) -> torch.Tensor:
    """Resize a batch of grayscale images (B, H, W) to (B, h, w) exactly as Pillow's LANCZOS.

    Values are returned as float64 holding integers 0..255.
    """
    import torch

    out_h, out_w = size
    _, in_h, in_w = pixels.shape
    device = pixels.device
    fast = fast and float32_matmul_is_ieee(device)
    current = pixels
    if out_w != in_w:
        weights = torch.from_numpy(lanczos_weights(in_w, out_w).copy()).to(device)
        current = _fast_pass(current, weights) if fast else _exact_pass(current, weights)
    if out_h != in_h:
        weights = torch.from_numpy(lanczos_weights(in_h, out_h).copy()).to(device)
        transposed = current.transpose(1, 2)
        current = _exact_pass(transposed, weights).transpose(1, 2)
    return current.double()
