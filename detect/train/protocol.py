"""The evaluation protocol's arithmetic: AUC with bootstrap intervals, per group, and a confound baseline.

Every figure the detector benchmarks report comes with a 95% interval from a
stratified bootstrap (fakes and reals resampled separately, so every resample
has both). A figure per family compares that family's fakes with all the
reals of the same evaluation set.

The confound baseline is a logistic regression that sees only what should
not matter (image size and shape, file format, JPEG quantisation, bytes per
pixel). Fitted on the training split and scored on the evaluation set, it
tells whether the set can be separated without looking at the pixels: if its
AUC's interval lies above 0.5, the set leaks, and a detector's figure on it
is partly that leak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from PIL import Image

from detect.train.logistic import fit_logistic
from detect.train.metrics import roc_auc

BOOTSTRAP = 1000


@dataclass(frozen=True)
class Figure:
    auc: float
    low: float
    high: float
    fakes: int
    reals: int

    def cell(self) -> str:
        if math.isnan(self.auc):
            return "-"
        return f"{self.auc:.3f} [{self.low:.2f}, {self.high:.2f}]"


def bootstrap_auc(labels: Sequence[int], scores: Sequence[float], rounds: int = BOOTSTRAP, seed: int = 0) -> Figure:
    """AUC and its 95% percentile interval over stratified bootstrap resamples."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    fakes, reals = s[y], s[~y]
    if len(fakes) == 0 or len(reals) == 0:
        return Figure(float("nan"), float("nan"), float("nan"), len(fakes), len(reals))
    rng = np.random.default_rng(seed)
    truth = np.r_[np.ones(len(fakes), bool), np.zeros(len(reals), bool)]
    values = []
    for _ in range(rounds):
        sample = np.r_[rng.choice(fakes, len(fakes)), rng.choice(reals, len(reals))]
        values.append(roc_auc(truth, sample))
    low, high = np.percentile(values, [2.5, 97.5])
    return Figure(roc_auc(y, s), float(low), float(high), len(fakes), len(reals))


def rate_interval(hits: int, total: int, z: float = 1.96) -> tuple[float, float, float]:
    """A proportion with its Wilson 95% interval."""
    if total == 0:
        return float("nan"), float("nan"), float("nan")
    p = hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def per_group(labels: Sequence[int], scores: Sequence[float], groups: Sequence[str], rounds: int = BOOTSTRAP) -> dict[str, Figure]:
    """For each group that holds fakes: its fakes against every real of the set."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(groups)
    reals = s[~y]
    out = {}
    for name in sorted(set(g[y])):
        fakes = s[y & (g == name)]
        out[name] = bootstrap_auc([1] * len(fakes) + [0] * len(reals), np.r_[fakes, reals], rounds)
    return out


# ------------------------------------------------------------------ confounds

CONFOUND_FEATURES = ("log width", "log height", "aspect", "jpeg", "png", "other format", "jpeg luma quant", "bytes per pixel")


def confound_features(path: Path) -> list[float]:
    """What a file says about itself without its pixels."""
    with Image.open(path) as image:
        width, height = image.size
        fmt = image.format or ""
        tables = getattr(image, "quantization", None) or {}
    luma = float(np.mean(tables[0])) if 0 in tables else 0.0
    size = Path(path).stat().st_size
    return [
        math.log(width),
        math.log(height),
        width / height,
        float(fmt == "JPEG"),
        float(fmt == "PNG"),
        float(fmt not in ("JPEG", "PNG")),
        luma,
        size / (width * height),
    ]


def confound_baseline(train_x: Iterable[list[float]], train_y: Sequence[int], test_x: Iterable[list[float]]) -> np.ndarray:
    """Scores of a standardised logistic regression on the confound features (fitted on train, applied to test)."""
    x = torch.tensor(list(train_x), dtype=torch.float64)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    coef, bias = fit_logistic((x - mean) / std, torch.tensor(train_y, dtype=torch.float64), 0.01, balanced=True)
    t = (torch.tensor(list(test_x), dtype=torch.float64) - mean) / std
    return torch.sigmoid(t.float() @ coef + bias).numpy()
