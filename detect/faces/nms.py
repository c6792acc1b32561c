"""Greedy non-maximum suppression for (x1, y1, x2, y2) boxes."""

from __future__ import annotations

import torch


def box_overlap(box: torch.Tensor, others: torch.Tensor, mode: str = "union") -> torch.Tensor:
    """Overlap of one box with each of `others`: IoU ("union") or intersection over the smaller area ("min")."""
    ix1 = torch.maximum(box[0], others[:, 0])
    iy1 = torch.maximum(box[1], others[:, 1])
    ix2 = torch.minimum(box[2], others[:, 2])
    iy2 = torch.minimum(box[3], others[:, 3])
    inter = (ix2 - ix1).clamp(min=0) * (iy2 - iy1).clamp(min=0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    if mode == "min":
        denom = torch.minimum(area, areas)
    else:
        denom = area + areas - inter
    return inter / denom.clamp(min=1e-9)


def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: str = "union") -> torch.Tensor:
    """Indices of the boxes kept, best score first."""
    order = torch.argsort(scores, descending=True, stable=True)
    keep: list[int] = []
    while order.numel() > 0:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        if rest.numel() == 0:
            break
        overlap = box_overlap(boxes[best], boxes[rest], mode)
        order = rest[overlap <= threshold]
    return torch.tensor(keep, dtype=torch.long)
