"""Calibrate detector scores, fuse them, and turn the result into a label.

Fusion rule (documented, fitted where data allows):

1. Each detector's probability p is calibrated by Platt scaling in logit
   space: z = slope * logit(p) + intercept, fitted on the corpus 'calib' split.
2. The ensemble logit is bias + sum of weight * z over the detectors that ran.
   A detector that was skipped (no weights, no face in the image) contributes
   nothing, which is the same as a calibrated probability of 0.5: no evidence
   either way. Weights are non-negative stacking weights (logistic regression
   on the calibrated logits of the same split).
3. score = sigmoid(ensemble logit). The label is `likely_manipulated` at or
   above `high`, `likely_authentic` below `low`, `uncertain` in between; the
   reported threshold is the single decision point used for accuracy.

Detectors the file does not know (e.g. a published checkpoint a user added)
get the identity calibration and `default_weight`. A detector the file knows
but gave weight 0 (too little calibration data, or a calibration that would
invert it) still runs and is reported; `reasons` says why it has no say.
How the weights are chosen: `detect/train/fit_ensemble.py` and
detect/model_cards/ensemble.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

from detect.base import Label
from detect.errors import DetectError

DEFAULT_CONFIG = Path(__file__).resolve().parent / "weights" / "ensemble.json"
_EPS = 1e-6


class EnsembleError(DetectError):
    """The ensemble configuration is missing or malformed."""


def logit(p: float) -> float:
    p = min(max(float(p), _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Calibration:
    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, p: float) -> float:
        """Calibrated logit of a raw probability."""
        return self.slope * logit(p) + self.intercept


@dataclass(frozen=True)
class EnsembleConfig:
    calibrations: Mapping[str, Calibration] = field(default_factory=dict)
    weights: Mapping[str, float] = field(default_factory=dict)
    bias: float = 0.0
    threshold: float = 0.5
    low: float = 0.35
    high: float = 0.65
    default_weight: float = 1.0
    fitted_on: str = "unfitted defaults"
    rule: str = ""  # which fusion the fit chose, and the cross-validated figures it chose on
    reasons: Mapping[str, str] = field(default_factory=dict)  # why a known detector has weight 0
    # The rule for a video in which faces were found (fitted on compressed face crops: fit_video.py);
    # None: videos are fused like stills.
    video: "EnsembleConfig | None" = None

    def __post_init__(self):
        if not 0.0 < self.low <= self.threshold <= self.high < 1.0:
            raise EnsembleError(f"need 0 < low <= threshold <= high < 1, got {self.low}, {self.threshold}, {self.high}")
        if any(w < 0 for w in self.weights.values()):
            raise EnsembleError("ensemble weights must be non-negative")

    def fuse(self, scores: Mapping[str, float]) -> float:
        """Ensemble probability of manipulated from the raw scores of the detectors that ran."""
        z = self.bias
        for name, p in scores.items():
            z += self.weights.get(name, self.default_weight) * self.calibrations.get(name, Calibration())(p)
        return sigmoid(z)

    def for_video(self, faces_found: bool) -> "EnsembleConfig":
        """The configuration a video is fused with: the video rule when it has one and faces were found."""
        return self.video if faces_found and self.video is not None else self

    def label(self, score: float) -> Label:
        if score >= self.high:
            return Label.MANIPULATED
        if score < self.low:
            return Label.AUTHENTIC
        return Label.UNCERTAIN

    def to_json(self) -> str:
        raw = asdict(self)
        raw["calibrations"] = {k: asdict(v) for k, v in self.calibrations.items()}
        raw["weights"] = dict(self.weights)
        raw["reasons"] = dict(self.reasons)
        if self.video is None:
            raw.pop("video")
        else:
            raw["video"] = json.loads(self.video.to_json())
        return json.dumps(raw, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "EnsembleConfig":
        try:
            raw = json.loads(text)
            raw["calibrations"] = {k: Calibration(**v) for k, v in raw.get("calibrations", {}).items()}
            if raw.get("video") is not None:
                if not isinstance(raw["video"], dict) or "video" in raw["video"]:
                    raise TypeError("'video' must be one configuration without a video rule of its own")
                raw["video"] = cls.from_json(json.dumps(raw["video"]))
            return cls(**raw)
        except (json.JSONDecodeError, TypeError, AttributeError) as exc:
            raise EnsembleError(f"malformed ensemble configuration: {exc}") from None


def load_ensemble(path: Path = DEFAULT_CONFIG) -> EnsembleConfig:
    """The fitted configuration; the unfitted defaults when the file is absent."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return EnsembleConfig()
    except OSError as exc:
        raise EnsembleError(f"cannot read {path}: {exc.strerror}") from None
    return EnsembleConfig.from_json(text)
