"""Corneal specular highlights (Hu, Li, Lyu 2020): do the two eyes reflect the same light?

In a photograph both corneas mirror the same, distant light sources, so the
bright highlights sit at the same place relative to each iris. GAN faces
(StyleGAN2 in the paper) often get this wrong. We cut a patch around each eye
(orientation from the eye line, size from the eye distance), locate the iris
centre from the dark pupil, keep the small bright blobs inside the iris that
do not reach its rim (the rim is where sclera and eyelids come in), and report
1 - IoU of the two masks at their best relative shift of up to 2 px: 0 when
the highlights coincide, 1 when they do not overlap.

Limits, measured on the corpus: eyes need to be >= 40 px apart; reflections
on the very rim of the iris are lost with the sclera; real portraits score
0.5-0.65 (partial overlap), so the ensemble must calibrate this cue rather
than read it as a probability.

The score is undefined (NaN from `score`, None from `score_faces`) when the
eyes are too small or no distinct highlight is found in *both* eyes; callers
then report the detector as skipped for that face. It has no learned weights;
its identity (`weights_sha256`) is the hash of its parameters.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from detect.base import ModelCard, Task
from detect.faces.face import LEFT_EYE, RIGHT_EYE, Face


@dataclass(frozen=True)
class CornealParams:
    patch: int = 64  # pixels per eye patch
    patch_to_eye_distance: float = 0.35  # eye patch side as a fraction of the eye distance
    min_eye_distance: float = 40.0  # pixels; below that the highlight is a pixel or two
    iris_to_eye_distance: float = 0.085  # iris radius (~5.8 mm) over eye distance (~63 mm), slightly less
    iris_quantile: float = 0.2  # darkest fraction of the central patch taken as the pupil and iris
    min_contrast: float = 0.15  # a highlight is this much brighter (luminance) than the iris median
    contrast_mads: float = 4.0  # ... and this many median absolute deviations above it
    min_pixels: int = 3
    max_fraction: float = 0.25  # blobs larger than this share of the iris are glare or sclera, not a highlight
    tolerance: int = 2  # pixels of relative shift searched before the IoU: the two iris centres are estimates


DEFAULT = CornealParams()


def _luminance(rgb: torch.Tensor) -> torch.Tensor:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _disc(size: int, cy: float, cx: float, radius: float) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size]
    return (ys - cy) ** 2 + (xs - cx) ** 2 <= radius**2


def _iris_centre(lum: np.ndarray) -> tuple[float, float] | None:
    """Darkness-weighted centroid near the landmark: the pupil dominates.

    Pixels near the darkness cut-off weigh ~0, so the centre does not jump with
    which iris pixels fall under it; a grey closing fills the holes that the
    reflections punch into the pupil, which would otherwise push the centre away.
    """
    size = lum.shape[0]
    centre = (size - 1) / 2
    central = _disc(size, centre, centre, 0.3 * size)
    weight = np.where(central, np.clip(np.quantile(lum[central], DEFAULT.iris_quantile) - lum, 0, None), 0)
    weight = ndimage.grey_closing(weight, size=(9, 9))
    if weight.sum() <= 0:
        return None  # a flat patch has no iris to find
    ys, xs = np.mgrid[0:size, 0:size]
    return float((ys * weight).sum() / weight.sum()), float((xs * weight).sum() / weight.sum())


def highlight_mask(lum: np.ndarray, params: CornealParams = DEFAULT) -> np.ndarray | None:
    """The highlight of one eye patch, shifted so the iris centre is the patch centre; None if none found."""
    size = lum.shape[0]
    centre = (size - 1) / 2
    radius = params.iris_to_eye_distance / params.patch_to_eye_distance * size
    found = _iris_centre(lum)
    if found is None:
        return None
    iy, ix = found
    iris = _disc(size, iy, ix, radius)
    values = lum[_disc(size, iy, ix, 0.7 * radius)]  # the inner iris: eyelids and sclera stay out of its statistics
    median = float(np.median(values))
    spread = float(np.median(np.abs(values - median)))
    threshold = median + max(params.min_contrast, params.contrast_mads * spread)
    # Sclera, eyelid and skin reach in from the rim of the disc; reflections sit inside it.
    labels, _count = ndimage.label(iris & (lum > threshold))
    rim = iris & ~_disc(size, iy, ix, radius - 1.5)
    largest = params.max_fraction * iris.sum()
    bright = labels > 0
    for index in set(np.unique(labels[rim]).tolist()) - {0}:
        bright[labels == index] = False
    sizes = np.bincount(labels[bright], minlength=1)
    for index in np.flatnonzero(sizes > largest):
        bright[labels == index] = False
    pixels = int(bright.sum())
    if pixels < params.min_pixels or pixels > largest:
        return None
    return np.roll(bright, (round(centre - iy), round(centre - ix)), axis=(0, 1))


def iou(a: np.ndarray, b: np.ndarray, tolerance: int = DEFAULT.tolerance) -> float:
    """IoU of two highlight masks at their best relative shift of up to `tolerance` pixels.

    The two iris centres are estimates a pixel or two apart; a shift search
    absorbs that without letting distant highlights overlap.
    """
    best = 0.0
    for dy in range(-tolerance, tolerance + 1):
        for dx in range(-tolerance, tolerance + 1):
            moved = np.roll(b, (dy, dx), axis=(0, 1))
            union = np.logical_or(a, moved).sum()
            if union:
                best = max(best, float(np.logical_and(a, moved).sum() / union))
    return best


def eye_pair(face: Face, params: CornealParams = DEFAULT) -> torch.Tensor | None:
    """(3, patch, 2 * patch) RGB in [0, 1]: left eye patch, then right; None if the eyes are too small."""
    distance = face.eye_distance
    if distance < params.min_eye_distance:
        return None
    side = params.patch_to_eye_distance * distance
    scale = side / params.patch
    cos, sin = math.cos(face.roll) * scale, math.sin(face.roll) * scale
    half = params.patch / 2
    source = face.image.convert("RGB")
    halves = []
    for index in (LEFT_EYE, RIGHT_EYE):
        ex, ey = face.landmarks[index]
        if not (side / 2 <= ex <= source.width - side / 2 and side / 2 <= ey <= source.height - side / 2):
            return None  # an eye at the frame edge is not fully visible
        coeffs = (cos, -sin, ex - cos * half + sin * half, sin, cos, ey - sin * half - cos * half)
        patch = source.transform((params.patch, params.patch), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BICUBIC)
        halves.append(np.asarray(patch, dtype=np.float32) / 255)
    return torch.from_numpy(np.concatenate(halves, axis=1)).permute(2, 0, 1).clamp(0, 1)


class CornealDetector:
    """Scores eye pairs by how differently the two corneas reflect the light."""

    def __init__(self, params: CornealParams = DEFAULT) -> None:
        self.params = params
        identity = hashlib.sha256(json.dumps(asdict(params), sort_keys=True).encode()).hexdigest()
        self.card = ModelCard(
            name="corneal-highlights",
            version="1.0",
            task=Task.FACE,
            input_size=(params.patch, 2 * params.patch),
            weights_sha256=identity,
            licence="Apache-2.0 (this project's implementation)",
            citation="Hu, Li, Lyu. Exposing GAN-generated Faces Using Inconsistent Corneal Specular Highlights. ICASSP 2021. arXiv:2009.11924",
            description="1 - IoU of the two eyes' specular highlight masks; input: eye_pair() patches; NaN when no highlight in both eyes",
        )

    def to(self, device: torch.device) -> "CornealDetector":
        return self  # numpy on the CPU: the masks are tiny

    def score(self, batch: torch.Tensor) -> torch.Tensor:
        """(N,) 1 - highlight IoU for eye-pair patches; NaN where an eye has no distinct highlight."""
        lum = _luminance(batch.detach().float().cpu().permute(1, 0, 2, 3)).numpy()
        size = self.params.patch
        scores = []
        for pair in lum:
            left = highlight_mask(pair[:, :size], self.params)
            right = highlight_mask(pair[:, size:], self.params)
            scores.append(math.nan if left is None or right is None else 1.0 - iou(left, right, self.params.tolerance))
        return torch.tensor(scores, dtype=torch.float32)

    def score_faces(self, faces: Sequence[Face]) -> list[float | None]:
        """Per face: the score, or None where the detector does not apply."""
        pairs = [eye_pair(face, self.params) for face in faces]
        usable = [p for p in pairs if p is not None]
        values = iter(self.score(torch.stack(usable)).tolist() if usable else [])
        out: list[float | None] = []
        for pair in pairs:
            value = next(values) if pair is not None else math.nan
            out.append(None if math.isnan(value) else value)
        return out

    def skip_reason(self, faces: Sequence[Face]) -> str:
        if all(face.eye_distance < self.params.min_eye_distance for face in faces):
            return f"eyes too small (under {self.params.min_eye_distance:.0f} px apart)"
        return "no distinct corneal highlight in both eyes"
