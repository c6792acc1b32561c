"""Fit the ensemble: per-detector Platt calibration and stacking weights.

Data: the corpus 'calib' split (sheets cut into tiles), which neither the
CNN nor the spectral fit has seen. The splits are tiny, so both fits are
strongly regularised and the stacking weights are clamped to be non-negative.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from detect.analyze import Analyzer, _Decoded
from detect.ensemble import Calibration, EnsembleConfig, logit
from detect.train.logistic import fit_logistic
from detect.train.sources import corpus_samples

PLATT_L2 = 0.05
STACK_L2 = 0.05
MIN_PER_CLASS = 3  # fewer calibration samples of either class: the detector gets weight 0


def detector_scores(analyzer: Analyzer, split: str) -> tuple[list[str], list[dict[str, float]], list[int]]:
    """(sample names, per-sample {detector: raw score} for detectors that ran, labels)."""
    names, rows, labels = [], [], []
    for name, rgb, label in corpus_samples(split):
        results, _faces = analyzer.detector_results(_Decoded(rgb=rgb))
        rows.append({r.name: float(r.score) for r in results if not r.skipped and r.score is not None})
        names.append(name)
        labels.append(label)
    return names, rows, labels


def fit_platt(raw: list[float], labels: list[int]) -> Calibration:
    x = torch.tensor([[logit(p)] for p in raw])
    coef, bias = fit_logistic(x, torch.tensor(labels, dtype=torch.float32), PLATT_L2, balanced=True)
    return Calibration(slope=round(float(coef[0]), 6), intercept=round(bias, 6))


def fit_ensemble(rows: list[dict[str, float]], labels: list[int], note: str) -> EnsembleConfig:
    detectors = sorted({name for row in rows for name in row})
    calibrations: dict[str, Calibration] = {}
    usable = []
    for name in detectors:
        seen = [(row[name], y) for row, y in zip(rows, labels) if name in row]
        if min(sum(y for _, y in seen), sum(1 - y for _, y in seen)) < MIN_PER_CLASS:
            continue
        calibrations[name] = fit_platt([p for p, _ in seen], [y for _, y in seen])
        usable.append(name)
    # Stacking on calibrated logits; a detector that did not run contributes 0.
    z = torch.tensor([[calibrations[n](row[n]) if n in row else 0.0 for n in usable] for row in rows])
    coef, bias = fit_logistic(z, torch.tensor(labels, dtype=torch.float32), STACK_L2, balanced=True)
    weights = {n: round(max(0.0, float(w)), 6) for n, w in zip(usable, coef)}
    for name in detectors:
        weights.setdefault(name, 0.0)  # ran, but too little data to calibrate: no say
        calibrations.setdefault(name, Calibration())
    return EnsembleConfig(calibrations=calibrations, weights=weights, bias=round(bias, 6), fitted_on=note)


def fit_ensemble_file(out: Path) -> str:
    analyzer = Analyzer()
    names, rows, labels = detector_scores(analyzer, "calib")
    if not rows or len(set(labels)) < 2:
        raise ValueError("the corpus 'calib' split is missing (needs ../shared/corpus with real and fake images)")
    note = (f"corpus 'calib' split: {len(rows)} samples ({sum(labels)} fake); "
            "fitted by `python -m detect.train ensemble`")
    config = fit_ensemble(rows, labels, note)
    Path(out).write_text(config.to_json(), encoding="utf-8")
    return hashlib.sha256(Path(out).read_bytes()).hexdigest()
