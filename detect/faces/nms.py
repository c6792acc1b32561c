"""Greedy non-maximum suppression for (x1, y1, x2, y2) boxes.

MTCNN calls this a dozen times per image on up to a few thousand candidate
windows, so it runs in numpy: one pairwise-overlap matrix when the set is
small enough, one vectorised row per kept box otherwise. Each torch call costs
microseconds of dispatch, which dominated the earlier per-box torch loop.
"""

from __future__ import annotations

import numpy as np
import torch

# Above this many boxes the n x n overlap matrix (4 bytes a cell) is not worth building.
_MATRIX_MAX = 2048


def _overlaps(b: np.ndarray, areas: np.ndarray, rows: np.ndarray | slice, cols: np.ndarray | slice, mode: str) -> np.ndarray:
    """Overlap of boxes b[rows] (as a column) with boxes b[cols] (as a row)."""
    r, c = b[rows], b[cols]
    iw = np.minimum(r[..., 2:3], c[:, 2]) - np.maximum(r[..., 0:1], c[:, 0])
    ih = np.minimum(r[..., 3:4], c[:, 3]) - np.maximum(r[..., 1:2], c[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    ra, ca = areas[rows][..., None], areas[cols]
    denom = np.minimum(ra, ca) if mode == "min" else ra + ca - inter
    return inter / np.maximum(denom, 1e-9)


def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: str = "union") -> torch.Tensor:
    """Indices of the boxes kept, best score first (ties keep input order)."""
    if mode not in ("union", "min"):
        raise ValueError(f"unknown overlap mode {mode!r}")
    n = len(scores)
    if n == 0:
        return torch.zeros((0,), dtype=torch.long)
    s = scores.detach().cpu().numpy()
    order = np.argsort(-s, kind="stable")
    b = boxes.detach().cpu().numpy().astype(np.float32, copy=False)[order]
    areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    keep: list[int] = []
    if n <= _MATRIX_MAX:
        over = _overlaps(b, areas, slice(None), slice(None), mode) > threshold
        suppressed = np.zeros(n, dtype=bool)
        for i in range(n):
            if not suppressed[i]:
                keep.append(i)
                suppressed |= over[i]
    else:
        rest = np.arange(n)
        while rest.size:
            best = int(rest[0])
            keep.append(best)
            rest = rest[1:]
            if rest.size:
                rest = rest[_overlaps(b, areas, np.array([best]), rest, mode)[0] <= threshold]
    return torch.from_numpy(order[np.array(keep, dtype=np.int64)].astype(np.int64))
