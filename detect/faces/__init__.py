"""Face detection with landmarks: `find_faces(image) -> list[Face]`."""

from __future__ import annotations

import functools

from PIL import Image

from detect.device import pick_device
from detect.faces.face import Face
from detect.faces.mtcnn import MTCNN

# Large photos are searched at this size, for faces at least MIN_FACE pixels
# tall there: smaller faces carry too few pixels for any face detector here
# (MesoNet reads 256 px crops, the corneal cue needs eyes 40 px apart), and
# the pyramid's first level costs (12 / MIN_FACE)^2 of the image's pixels.
# For a photo larger than MAX_SIDE the smallest face searched for is thus 2.5 %
# of its long side (3.3-3.8 % of the short side of a 4:3 or 3:2 photo), and
# the pyramid's first level is 480 px long whatever the photo's size. Raising
# MIN_FACE is the remaining lever on MTCNN's cost (~1 / MIN_FACE^2), but the
# corpus has 33 px faces in 512 px photos that the face detectors do score,
# so it stays at 32.
MAX_SIDE = 1280
MIN_FACE = 32
MIN_CONFIDENCE = 0.9


@functools.lru_cache(maxsize=1)
def default_detector() -> MTCNN:
    """The bundled MTCNN on the default device, loaded once per process (2 MB, reused by every call)."""
    return MTCNN(device=pick_device())


def find_faces(
    image: Image.Image,
    detector: MTCNN | None = None,
    max_side: int = MAX_SIDE,
    min_confidence: float = MIN_CONFIDENCE,
    min_face: int = MIN_FACE,
) -> list[Face]:
    """Faces in `image`, most confident first, with boxes and landmarks in its pixels."""
    detector = detector or default_detector()
    rgb = image if image.mode == "RGB" else image.convert("RGB")  # no copy when it is RGB already
    factor = max(rgb.width, rgb.height) / max_side
    searched = rgb
    if factor > 1:
        size = (max(1, round(rgb.width / factor)), max(1, round(rgb.height / factor)))
        searched = rgb.resize(size, Image.Resampling.BOX)
    else:
        factor = 1.0
    if min(searched.size) < min_face:
        return []  # no face of the smallest size searched fits (a thin strip, a tiny icon)
    found = detector.detect(searched, min_face=min_face)
    faces = []
    for box, score, points in zip(found.boxes, found.scores, found.landmarks):
        if score < min_confidence:
            continue
        faces.append(
            Face(
                box=_scaled_box(box, factor),
                landmarks=tuple((float(x) * factor, float(y) * factor) for x, y in points),
                confidence=float(score),
                image=rgb,
            )
        )
    return sorted(faces, key=lambda f: f.confidence, reverse=True)


__all__ = ["Face", "MTCNN", "find_faces", "default_detector"]


def _scaled_box(box, factor: float) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) * factor for v in box)
    return x0, y0, x1, y1
