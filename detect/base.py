"""The detector interface: media in, a probability of manipulation out.

`detect` knows nothing of chains, IPFS or ledgers. Everything a certificate
needs from here is in `VerdictReport.to_dict()`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Protocol, Sequence, runtime_checkable

import torch

# Boxes kept per report: a crowd photo's hundreds of faces would only bloat the signed metadata.
MAX_FACE_BOXES = 64


class Task(str, Enum):
    FACE = "face"  # scores aligned face crops
    IMAGE = "image"  # scores the whole image


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    task: Task
    input_size: tuple[int, int]  # (height, width) the model expects
    weights_sha256: str | None  # None: no weights loaded (the detector is skipped)
    licence: str
    citation: str
    description: str = ""


@runtime_checkable
class Detector(Protocol):
    """A model that scores inputs of its task.

    `score` takes a float batch (N, 3, H, W) in [0, 1], RGB, already resized to
    `card.input_size`, and returns N probabilities in [0, 1] that each input is
    manipulated or synthetic.
    """

    card: ModelCard

    def score(self, batch: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class LandmarkDetector(Detector, Protocol):
    """A face detector that reads found faces (their landmarks) rather than face crops: the corneal highlights.

    `score_faces` gives each face a score, or None where the cue cannot be read
    (no highlight in an eye); `skip_reason` says why none could be scored.
    """

    def score_faces(self, faces: Sequence[Any]) -> list[float | None]: ...

    def skip_reason(self, faces: Sequence[Any]) -> str: ...


class Label(str, Enum):
    AUTHENTIC = "likely_authentic"
    UNCERTAIN = "uncertain"
    MANIPULATED = "likely_manipulated"
    UNSCANNED = "unscanned"


@dataclass(frozen=True)
class DetectorResult:
    name: str
    version: str
    score: float | None = None  # None when skipped
    weights_sha256: str | None = None
    skipped: bool = False
    reason: str = ""

    def to_dict(self) -> dict:
        if self.skipped:
            return {"name": self.name, "version": self.version, "skipped": True, "reason": self.reason}
        return {
            "name": self.name,
            "version": self.version,
            "score": self.score,
            "weights_sha256": self.weights_sha256,
        }


@dataclass(frozen=True)
class FaceBox:
    """One face the face detectors saw, for drawing over the picture.

    `box` is (x0, y0, x1, y1) in pixels of the picture as the detectors
    decoded it: upright (EXIF orientation applied) and at the size the caller
    handed in (`analyze_file`: the file's full size). `score` is the ensemble's
    fusion of the face-task detectors' scores of this face alone (None when no
    face-task detector scored it). `frame` is the video frame the face is in
    (None for a still).
    """

    box: tuple[float, float, float, float]
    score: float | None = None
    frame: int | None = None

    def to_dict(self) -> dict:
        out: dict = {"box": [float(v) for v in self.box], "score": self.score}
        if self.frame is not None:
            out["frame"] = self.frame
        return out


@dataclass(frozen=True)
class VerdictReport:
    label: Label
    score: float  # ensemble probability of manipulated or synthetic
    threshold: float
    detectors: Sequence[DetectorResult] = field(default_factory=tuple)
    faces: int = 0
    frames: Sequence[int] = field(default_factory=tuple)  # video frames that drove the score
    notes: Sequence[str] = field(default_factory=tuple)  # why the label is `uncertain` whatever the score
    # Where the faces are: every face of a still (most confident first, at most MAX_FACE_BOXES); for a
    # video, the faces of the frames in `frames`. `faces` stays the count.
    face_boxes: Sequence[FaceBox] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {
            "label": self.label.value,
            "score": self.score,
            "threshold": self.threshold,
            "detectors": [d.to_dict() for d in self.detectors],
            "faces": self.faces,
            "frames": list(self.frames),
            "notes": list(self.notes),
            "face_boxes": [b.to_dict() for b in self.face_boxes],
        }

    @classmethod
    def unscanned(cls) -> "VerdictReport":
        return cls(label=Label.UNSCANNED, score=0.0, threshold=0.0)


__all__ = [
    "Task",
    "ModelCard",
    "Detector",
    "LandmarkDetector",
    "Label",
    "DetectorResult",
    "FaceBox",
    "MAX_FACE_BOXES",
    "VerdictReport",
    "asdict",
]
