"""How one detector's outcome is written down, and the face crops face detectors score.

Shared by still (`detect.analyze`) and video (`detect.video_analysis`)
scoring, so neither reaches into the other.
"""

from __future__ import annotations

from typing import Mapping, Protocol, Sequence

import numpy as np
import torch

from detect.base import MAX_FACE_BOXES, Detector, DetectorResult, FaceBox

FACE_MARGIN = 0.3  # context kept around a face box, as a fraction of its size


def face_crop_tensor(face, size: int) -> torch.Tensor:
    """One aligned face as a (3, size, size) float tensor in [0, 1]."""
    crop = face.crop(size, margin=FACE_MARGIN)
    return torch.from_numpy(np.asarray(crop.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0


def scored(detector: Detector, score: float) -> DetectorResult:
    return DetectorResult(name=detector.card.name, version=detector.card.version, score=score, weights_sha256=detector.card.weights_sha256)


def skipped(detector: Detector, reason: str) -> DetectorResult:
    return DetectorResult(name=detector.card.name, version=detector.card.version, skipped=True, reason=reason)


class _Fuser(Protocol):
    def fuse(self, scores: Mapping[str, float]) -> float: ...


def face_boxes(faces: Sequence, per_face: Sequence[Mapping[str, float]], ensemble: _Fuser, frame: int | None = None) -> tuple[FaceBox, ...]:
    """Each face's box with its own score: the ensemble's fusion of the face-task detectors' scores of that face.

    The report's per-detector face scores are the max over faces; this is the
    per-face view behind them, calibrated and weighted as the verdict is (image
    detectors left out), so faces compare with one another. None where no
    face-task detector scored the face. At most MAX_FACE_BOXES, in the order found.
    """
    return tuple(
        FaceBox(box=_inside(face), score=float(ensemble.fuse(scores)) if scores else None, frame=frame)
        for face, scores in list(zip(faces, per_face))[:MAX_FACE_BOXES]
    )


def _inside(face) -> tuple[float, float, float, float]:
    """The face's box clipped to its picture: MTCNN's regression can reach past an edge, a drawn box should not."""
    width, height = face.image.size
    x0, y0, x1, y1 = (float(v) for v in face.box)
    return (min(max(x0, 0.0), width), min(max(y0, 0.0), height), min(max(x1, 0.0), width), min(max(y1, 0.0), height))
