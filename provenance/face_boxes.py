"""Face boxes of a detector verdict: put in the content's own pixels when scanned, read back for drawing.

The detectors report boxes in pixels of the picture they were handed
(`detect.base.FaceBox`): upright, and for a large image or video frame the
reduced picture `provenance.media` sampled. A certificate states them in the
content's full size instead, upright as a viewer shows it (EXIF orientation
applied); for a video, in the stream's width x height of the frame named by
`frame`. That way a box means the same whatever reduction the sampler used.

Read back from metadata (signed or not), boxes are display data only: they
never change a status, and a malformed entry is dropped, not trusted.
Nothing here imports the detectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .media import MediaFile

_ORIENTATION = 0x0112  # EXIF: how a viewer turns the stored pixels; 5-8 swap width and height
_TURNED = (5, 6, 7, 8)


def turned(picture: Any) -> bool:
    """Whether a viewer shows this decoded picture turned a quarter (its EXIF orientation is 5-8)."""
    try:
        return picture.getexif().get(_ORIENTATION, 1) in _TURNED
    except Exception:  # an unreadable EXIF block: shown as stored, as the detectors read it
        return False


def upright_size(media: MediaFile) -> tuple[int, int]:
    """The content's full width x height as shown: the size certificate boxes are stated in."""
    if media.kind == "image" and media.sample and turned(media.sample[0].decoded):
        return media.height, media.width
    return media.width, media.height


def seen_size(media: MediaFile) -> tuple[int, int]:
    """The size of the picture the detectors scored (the first sampled frame, upright)."""
    picture = media.sample[0].decoded if media.kind == "image" else media.sample[0].image
    width, height = picture.size
    return (height, width) if media.kind == "image" and turned(picture) else (width, height)


def to_content_pixels(boxes: list[dict], seen: tuple[int, int], full: tuple[int, int]) -> list[dict]:
    """The detector's boxes scaled from the picture it saw to the content's full size; 1 decimal, scores 6."""
    fx, fy = full[0] / seen[0], full[1] / seen[1]
    out = []
    for entry in boxes:
        x0, y0, x1, y1 = (float(v) for v in entry["box"])
        scaled: dict[str, Any] = {
            "box": [round(x0 * fx, 1), round(y0 * fy, 1), round(x1 * fx, 1), round(y1 * fy, 1)],
            "score": None if entry.get("score") is None else round(float(entry["score"]), 6),
        }
        if entry.get("frame") is not None:
            scaled["frame"] = int(entry["frame"])
        out.append(scaled)
    return out


@dataclass(frozen=True)
class DrawnBox:
    """One box as a share of the picture it belongs to (percent), ready to position over it at any size."""

    left: float
    top: float
    width: float
    height: float
    score: float | None
    frame: int | None

    @property
    def label(self) -> str:
        return "face" if self.score is None else f"face score {self.score:.2f}"


def drawn(entries: Any, size: tuple[int, int], frame: int | None = None) -> list[DrawnBox]:
    """The well-formed boxes of `entries` (untrusted) on a picture of `size`, clipped to it.

    `frame`: only the boxes of that video frame; None: the boxes of a still (no frame).
    """
    width, height = size
    if not isinstance(entries, list) or width <= 0 or height <= 0:
        return []
    out = []
    for entry in entries:
        parsed = _parsed(entry)
        if parsed is None or parsed[2] != frame:
            continue
        (x0, y0, x1, y1), score, _ = parsed
        x0, x1 = (min(max(v, 0.0), width) for v in (x0, x1))
        y0, y1 = (min(max(v, 0.0), height) for v in (y0, y1))
        if x1 <= x0 or y1 <= y0:
            continue
        out.append(DrawnBox(100 * x0 / width, 100 * y0 / height, 100 * (x1 - x0) / width, 100 * (y1 - y0) / height, score, frame))
    return out


def _parsed(entry: Any) -> tuple[tuple[float, float, float, float], float | None, int | None] | None:
    if not isinstance(entry, dict):
        return None
    box, score, frame = entry.get("box"), entry.get("score"), entry.get("frame")
    if not isinstance(box, list) or len(box) != 4 or not all(_number(v) for v in box):
        return None
    if score is not None and not (_number(score) and 0.0 <= score <= 1.0):
        score = None
    if frame is not None and (not isinstance(frame, int) or isinstance(frame, bool)):
        return None
    x0, y0, x1, y1 = (float(v) for v in box)
    return (x0, y0, x1, y1), (None if score is None else float(score)), frame


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
