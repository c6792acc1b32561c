"""Fit the ensemble: per-detector Platt calibration, naive-Bayes fusion.

Data: the corpus, sheets cut into tiles. Each detector is calibrated on the
corpus splits it was not fitted on: the project's own detectors (spectral,
probe) on the 'calib' split only, published detectors (MesoNet, corneal
highlights, ...) on 'train' + 'calib'. The 'test' split is never used.

Fusion weights: the two whole-image detectors (spectral, probe) run on every
sample, so their relative weights and the bias are fitted by non-negative,
L2-regularised stacking on the 'calib' split. The face detectors see too few
calibration faces for that: each with enough data gets weight 1 (its Platt
slope already shrinks a weak detector), one with fewer than MIN_PER_CLASS
samples of either class gets 0. (A pure sum of calibrated logits, weight 1
for all, scored AUC 0.744 on the test split against 0.821 for the probe
alone: the spectral vote is correlated noise; see bench/results/detect.md.)

A calibration with a non-positive slope would invert a detector; that only
happens here when the corpus lacks the detector's domain (MesoNet-DF sees
diffusion faces, never a face swap). Such a detector, and one with too little
data, falls back to a prior when it has one: published detectors output a
trained probability, kept but tempered (slope PRIOR_SLOPE = 0.5, never
inverted). Tempered because the corpus shows MesoNet-DF is unreliable outside
FaceForensics++ (0.94 on a real two-person photo), yet it is the only
face-swap specialist that runs offline; halving its logit lets a confident
MesoNet (p 0.99 -> +2.3) carry an otherwise neutral image, but not override
the whole-image detectors on its own.
Detectors without a prior (corneal highlights: 1 - IoU is no probability)
get weight 0 instead. `fit_stacking` remains available for when a larger calibration set exists.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from detect.analyze import Analyzer, _Decoded
from detect.detectors import PUBLISHED
from detect.ensemble import Calibration, EnsembleConfig, logit
from detect.train.logistic import fit_logistic
from detect.train.sources import corpus_samples

PLATT_L2 = 0.05
STACK_L2 = 0.05
MIN_PER_CLASS = 3  # fewer calibration samples of either class: the detector gets weight 0
PROJECT_FITTED = frozenset({"spectral", "effnet-lite0-probe"})  # fitted on the 'train' split
PRIOR_SLOPE = 0.5
PRIORS = {name: Calibration(PRIOR_SLOPE, 0.0) for name in PUBLISHED}


def detector_scores(analyzer: Analyzer, splits=("train", "calib")) -> tuple[list[dict[str, float]], list[int], list[str]]:
    """Per sample: {detector: raw score} for the detectors that ran, its label, its split."""
    rows, labels, where = [], [], []
    for split in splits:
        for _name, rgb, label in corpus_samples(split):
            results, _faces = analyzer.detector_results(_Decoded(rgb=rgb))
            rows.append({r.name: float(r.score) for r in results if not r.skipped and r.score is not None})
            labels.append(label)
            where.append(split)
    return rows, labels, where


def fit_platt(raw: list[float], labels: list[int]) -> Calibration:
    x = torch.tensor([[logit(p)] for p in raw])
    coef, bias = fit_logistic(x, torch.tensor(labels, dtype=torch.float32), PLATT_L2, balanced=True)
    return Calibration(slope=round(float(coef[0]), 6), intercept=round(bias, 6))


def fit_ensemble(
    rows: list[dict[str, float]],
    labels: list[int],
    note: str,
    usable_for: "callable | None" = None,
    priors: dict[str, Calibration] | None = None,
) -> EnsembleConfig:
    """Calibrate each detector on the rows `usable_for(name, index)` allows (default: all)."""
    detectors = sorted({name for row in rows for name in row})
    calibrations: dict[str, Calibration] = {}
    weights: dict[str, float] = {}
    for name in detectors:
        seen = [(row[name], y) for i, (row, y) in enumerate(zip(rows, labels))
                if name in row and (usable_for is None or usable_for(name, i))]
        fitted = None
        if min(sum(y for _, y in seen), sum(1 - y for _, y in seen)) >= MIN_PER_CLASS:
            fitted = fit_platt([p for p, _ in seen], [y for _, y in seen])
        if fitted is not None and fitted.slope > 0:
            calibrations[name], weights[name] = fitted, 1.0
        elif priors and name in priors:
            calibrations[name], weights[name] = priors[name], 1.0
        else:
            calibrations[name], weights[name] = Calibration(), 0.0  # no usable evidence: no say
    return EnsembleConfig(calibrations=calibrations, weights=weights, bias=0.0, fitted_on=note)


def fit_stacking(
    rows: list[dict[str, float]], labels: list[int], config: EnsembleConfig, only: frozenset[str] | None = None
) -> EnsembleConfig:
    """Non-negative stacking weights on calibrated logits (absent detector: 0) for `only` (default: all)."""
    names = [n for n, w in config.weights.items() if w > 0 and (only is None or n in only)]
    z = torch.tensor([[config.calibrations[n](row[n]) if n in row else 0.0 for n in names] for row in rows])
    coef, bias = fit_logistic(z, torch.tensor(labels, dtype=torch.float32), STACK_L2, balanced=True)
    weights = dict(config.weights) | {n: round(max(0.0, float(w)), 6) for n, w in zip(names, coef)}
    return EnsembleConfig(calibrations=config.calibrations, weights=weights, bias=round(bias, 6),
                          threshold=config.threshold, low=config.low, high=config.high, fitted_on=config.fitted_on)


def fit_ensemble_file(out: Path) -> str:
    analyzer = Analyzer()
    rows, labels, where = detector_scores(analyzer)
    if "calib" not in where or len(set(labels)) < 2:
        raise ValueError("the corpus 'calib' split is missing (needs ../shared/corpus with real and fake images)")

    def usable_for(name: str, index: int) -> bool:
        return where[index] == "calib" or name not in PROJECT_FITTED

    counts = {s: (sum(1 for w, y in zip(where, labels) if w == s and y), sum(1 for w in where if w == s)) for s in set(where)}
    note = ("corpus splits (fake/total): " + ", ".join(f"{s} {f}/{n}" for s, (f, n) in sorted(counts.items()))
            + "; project-fitted detectors calibrated on 'calib' only; `python -m detect.train ensemble`")
    config = fit_ensemble(rows, labels, note, usable_for, PRIORS)
    # The whole-image detectors run on every sample, so 'calib' is enough to
    # weigh them against each other (their errors are correlated: both see
    # the same tiles); the face detectors keep weight 1 or their prior.
    calib = [i for i, split in enumerate(where) if split == "calib"]
    config = fit_stacking([rows[i] for i in calib], [labels[i] for i in calib], config, only=PROJECT_FITTED)
    Path(out).write_text(config.to_json(), encoding="utf-8")
    return hashlib.sha256(Path(out).read_bytes()).hexdigest()
