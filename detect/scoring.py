"""How one detector's outcome is written down, and the face crops face detectors score.

Shared by still (`detect.analyze`) and video (`detect.video_analysis`)
scoring, so neither reaches into the other.
"""

from __future__ import annotations

import numpy as np
import torch

from detect.base import Detector, DetectorResult

FACE_MARGIN = 0.3  # context kept around a face box, as a fraction of its size


def face_crop_tensor(face, size: int) -> torch.Tensor:
    """One aligned face as a (3, size, size) float tensor in [0, 1]."""
    crop = face.crop(size, margin=FACE_MARGIN)
    return torch.from_numpy(np.asarray(crop.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0


def scored(detector: Detector, score: float) -> DetectorResult:
    return DetectorResult(name=detector.card.name, version=detector.card.version, score=score, weights_sha256=detector.card.weights_sha256)


def skipped(detector: Detector, reason: str) -> DetectorResult:
    return DetectorResult(name=detector.card.name, version=detector.card.version, skipped=True, reason=reason)
