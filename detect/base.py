"""The detector interface: media in, a probability of manipulation out.

`detect` knows nothing of chains, IPFS or ledgers. Everything a certificate
needs from here is in `VerdictReport.to_dict()`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Protocol, Sequence, runtime_checkable

import torch


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
class VerdictReport:
    label: Label
    score: float  # ensemble probability of manipulated or synthetic
    threshold: float
    detectors: Sequence[DetectorResult] = field(default_factory=tuple)
    faces: int = 0
    frames: Sequence[int] = field(default_factory=tuple)  # video frames that drove the score
    notes: Sequence[str] = field(default_factory=tuple)  # why the label is `uncertain` whatever the score

    def to_dict(self) -> dict:
        return {
            "label": self.label.value,
            "score": self.score,
            "threshold": self.threshold,
            "detectors": [d.to_dict() for d in self.detectors],
            "faces": self.faces,
            "frames": list(self.frames),
            "notes": list(self.notes),
        }

    @classmethod
    def unscanned(cls) -> "VerdictReport":
        return cls(label=Label.UNSCANNED, score=0.0, threshold=0.0)


__all__ = ["Task", "ModelCard", "Detector", "LandmarkDetector", "Label", "DetectorResult", "VerdictReport", "asdict"]
