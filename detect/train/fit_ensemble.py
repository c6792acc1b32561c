"""Fit the ensemble: per-detector Platt calibration, then a fusion rule chosen by cross-validation on 'calib'.

Data: the corpus, sheets cut into tiles; the 'test' split is never used.
Each detector is calibrated on the corpus splits it was not fitted on: the
project's own detectors (spectral and the two probes) on 'calib' only,
published detectors (MesoNet, corneal highlights, ...) on 'train' + 'calib'.

A detector gets weight 0, with the reason recorded in the configuration
(it still runs and is reported), when

- fewer than MIN_PER_CLASS fake or real samples on which it ran are
  available to calibrate it (face detectors run only where a face is found;
  the corpus has two face-swap fakes outside 'test'), or
- its fitted Platt slope is not positive: fusing it would invert it.

Fusion: among the candidates

- non-negative L2-regularised logistic stacking of the calibrated logits of
  every detector with a positive weight (a detector that did not run on a
  sample contributes 0, i.e. no evidence), for each L2 in STACK_L2_CHOICES,
- each usable detector alone (its calibrated probability),

the one with the best leave-one-out AUC on the 'calib' samples is kept (ties:
lower leave-one-out log-loss). In every fold the calibrations and the
stacking are refitted without the held-out sample, so the figures are honest
for the whole procedure. The winner is then refitted on all the data and its
name and figures written to `rule`. This replaced a fixed rule (tempered
prior for MesoNet-DF, weight 1 for the face detectors) that scored test AUC
0.705 against 0.821 for the probe alone (bench/results/detect.md).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from detect.ensemble import Calibration, EnsembleConfig, logit
from detect.train.logistic import fit_logistic
from detect.train.metrics import roc_auc
from detect.train.sources import corpus_samples

PLATT_L2 = 0.05
STACK_L2_CHOICES = (0.01, 0.1, 1.0)
MIN_PER_CLASS = 3  # fewer calibration samples of either class: the detector gets weight 0
# Fitted on the corpus 'train' split: calibrated on 'calib' only.
PROJECT_FITTED = frozenset({"spectral", "effnet-lite0-probe", "effnet-lite0-face", "npr-cnn", "npr-cnn-face"})

Usable = Callable[[str, int], bool]


def detector_scores(analyzer, splits=("train", "calib")) -> tuple[list[dict[str, float]], list[int], list[str]]:
    """Per sample: {detector: raw score} for the detectors that ran, its label, its split."""
    from detect.stills import DecodedStill

    rows, labels, where = [], [], []
    for split in splits:
        for _name, rgb, label in corpus_samples(split):
            results, _faces = analyzer.detector_results(DecodedStill(rgb=rgb))
            rows.append({r.name: float(r.score) for r in results if not r.skipped and r.score is not None})
            labels.append(label)
            where.append(split)
    return rows, labels, where


def fit_platt(raw: list[float], labels: list[int]) -> Calibration:
    x = torch.tensor([[logit(p)] for p in raw])
    coef, bias = fit_logistic(x, torch.tensor(labels, dtype=torch.float32), PLATT_L2, balanced=True)
    return Calibration(slope=round(float(coef[0]), 6), intercept=round(bias, 6))


def fit_ensemble(rows: list[dict[str, float]], labels: list[int], note: str, usable_for: Usable | None = None) -> EnsembleConfig:
    """Calibrate each detector on the rows `usable_for(name, index)` allows (default: all); weight 1 or 0 + reason."""
    detectors = sorted({name for row in rows for name in row})
    calibrations: dict[str, Calibration] = {}
    weights: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for name in detectors:
        seen = [
            (row[name], y) for i, (row, y) in enumerate(zip(rows, labels)) if name in row and (usable_for is None or usable_for(name, i))
        ]
        fakes = sum(y for _, y in seen)
        reals = len(seen) - fakes
        calibrations[name], weights[name] = Calibration(), 0.0
        if min(fakes, reals) < MIN_PER_CLASS:
            reasons[name] = f"too little calibration data: ran on {fakes} fake and {reals} real samples, needs {MIN_PER_CLASS} of each"
            continue
        fitted = fit_platt([p for p, _ in seen], [y for _, y in seen])
        if fitted.slope <= 0:
            reasons[name] = (
                f"calibrated slope {fitted.slope:.3f} is not positive on {fakes} fake / {reals} real "
                "samples: it ranks them the wrong way round, fusing it would invert it"
            )
            continue
        calibrations[name], weights[name] = fitted, 1.0
    return EnsembleConfig(calibrations=calibrations, weights=weights, reasons=reasons, fitted_on=note)


def fit_stacking(
    rows: list[dict[str, float]], labels: list[int], config: EnsembleConfig, l2: float = 0.1, only: frozenset[str] | None = None
) -> EnsembleConfig:
    """Non-negative stacking weights on calibrated logits (absent detector: 0) for the detectors with weight > 0."""
    names = [n for n, w in config.weights.items() if w > 0 and (only is None or n in only)]
    if not names:
        return config
    z = torch.tensor([[config.calibrations[n](row[n]) if n in row else 0.0 for n in names] for row in rows])
    coef, bias = fit_logistic(z, torch.tensor(labels, dtype=torch.float32), l2, balanced=True)
    weights = dict(config.weights) | {n: round(max(0.0, float(w)), 6) for n, w in zip(names, coef)}
    return replace(config, weights=weights, bias=round(bias, 6))


def single(config: EnsembleConfig, name: str) -> EnsembleConfig:
    """Only `name` counts (its calibrated probability); the others keep running with weight 0."""
    weights = {n: (1.0 if n == name else 0.0) for n in config.weights}
    reasons = dict(config.reasons)
    for other in config.weights:
        if other != name and config.weights[other] > 0:
            reasons[other] = f"the cross-validated rule on 'calib' keeps {name} alone"
    return replace(config, weights=weights, bias=0.0, reasons=reasons)


def candidates(config: EnsembleConfig) -> list[str]:
    usable = sorted(n for n, w in config.weights.items() if w > 0)
    return [f"stacking l2={l2:g}" for l2 in STACK_L2_CHOICES] + [f"single {n}" for n in usable]


def apply_rule(rule: str, calibrated: EnsembleConfig, rows, labels, where) -> EnsembleConfig:
    """Fuse the calibrated detectors by `rule`: stacking on the 'calib' rows, or one detector alone."""
    if rule.startswith("single "):
        name = rule.split(" ", 1)[1]
        if calibrated.weights.get(name, 0) > 0:
            return single(calibrated, name)
        return replace(calibrated, weights={n: 0.0 for n in calibrated.weights})
    l2 = float(rule.split("=", 1)[1])
    calib = [i for i, split in enumerate(where) if split == "calib"]
    return fit_stacking([rows[i] for i in calib], [labels[i] for i in calib], calibrated, l2)


def choose_rule(rows, labels, where, usable_for_split: Callable[[list[str]], Usable]) -> tuple[str, dict[str, tuple[float, float]]]:
    """Leave-one-out over the 'calib' samples: the best rule and {rule: (AUC, log-loss)}."""
    best, figures, _held = choose_rule_with_scores(rows, labels, where, usable_for_split)
    return best, figures


# The `uncertain` band: at most this share of held-out calib reals may be called likely_manipulated,
# and at most this share of held-out calib fakes likely_authentic.
BAND_ERROR = 0.05


def band_from_scores(reals: list[float], fakes: list[float], error: float = BAND_ERROR) -> tuple[float, float, float]:
    """(low, threshold, high) from held-out fused scores: high keeps false alarms on reals at `error`,
    low keeps missed fakes at `error`, the threshold maximises balanced accuracy between them."""
    real, fake = np.asarray(reals, dtype=np.float64), np.asarray(fakes, dtype=np.float64)
    # Order statistics, rounded outwards, so the shares hold exactly on these scores.
    high = float(np.clip(math.ceil(np.quantile(real, 1 - error, method="higher") * 1e4) / 1e4, 0.5, 0.95))
    low = float(np.clip(math.floor(np.quantile(fake, error, method="lower") * 1e4) / 1e4, 0.05, 0.5))
    candidates = np.unique(np.r_[real, fake, 0.5])
    balanced = ((real[None, :] < candidates[:, None]).mean(1) + (fake[None, :] >= candidates[:, None]).mean(1)) / 2
    # Best balanced accuracy; among ties the candidate nearest 0.5.
    best = np.lexsort((np.abs(candidates - 0.5), -balanced))[0]
    threshold = float(np.clip(candidates[best], low, high))
    return low, round(threshold, 4), high


def choose_rule_with_scores(rows, labels, where, usable_for_split: Callable[[list[str]], Usable]):
    """choose_rule, plus each rule's leave-one-out fused scores of the calib samples (in calib order)."""
    full = fit_ensemble(rows, labels, "", usable_for_split(where))
    held_scores: dict[str, list[float]] = {rule: [] for rule in candidates(full)}
    calib = [i for i, split in enumerate(where) if split == "calib"]
    for i in calib:
        keep = [j for j in range(len(rows)) if j != i]
        sub_rows, sub_labels, sub_where = [rows[j] for j in keep], [labels[j] for j in keep], [where[j] for j in keep]
        calibrated = fit_ensemble(sub_rows, sub_labels, "", usable_for_split(sub_where))
        for rule in held_scores:
            held_scores[rule].append(apply_rule(rule, calibrated, sub_rows, sub_labels, sub_where).fuse(rows[i]))
    truth = [labels[i] for i in calib]
    figures = {}
    for rule, scores in held_scores.items():
        loss = -sum(math.log(max(p if y else 1 - p, 1e-6)) for p, y in zip(scores, truth)) / len(truth)
        figures[rule] = (roc_auc(truth, scores), loss)
    best = max(figures, key=lambda r: (figures[r][0], -figures[r][1]))
    return best, figures, held_scores


def usable_for_split(where: list[str]) -> Usable:
    """Project-fitted detectors calibrate on 'calib' only; published ones also on 'train'."""

    def usable(name: str, index: int) -> bool:
        return where[index] == "calib" or name not in PROJECT_FITTED

    return usable


def dataset_scores(analyzer, root: Path, per_source: int = 0, log=print) -> tuple[list[dict[str, float]], list[int], list[str]]:
    """Per file of a built data set's 'calib' split (detect.train.data): {detector: raw score}, label, 'calib'.

    `per_source` > 0 keeps at most that many files of each (source, label), chosen by a salted hash:
    every detector runs on every file (a second or two each on two CPU cores), so this bounds the fit.
    """
    from detect.analyze import AnalysisError
    from detect.train.data import read_index

    items = [i for i in read_index(root) if i.split == "calib"]
    if per_source > 0:
        ranked = sorted(items, key=lambda i: hashlib.sha256(f"calib:{i.path}".encode()).hexdigest())
        kept: dict[tuple[str, str], int] = {}
        items = []
        for item in ranked:
            key = (item.source, item.label)
            if kept.get(key, 0) < per_source:
                kept[key] = kept.get(key, 0) + 1
                items.append(item)
    rows, labels = [], []
    for n, item in enumerate(items):
        try:
            report = analyzer.analyze_file(Path(root) / item.path)
        except AnalysisError as exc:
            log(f"skipped {item.path}: {exc}")
            continue
        rows.append({d.name: float(d.score) for d in report.detectors if not d.skipped and d.score is not None})
        labels.append(int(item.label == "fake"))
        if (n + 1) % 100 == 0:
            log(f"scored {n + 1}/{len(items)} calib files")
    return rows, labels, ["calib"] * len(rows)


def fit_ensemble_file(out: Path, data: Path | None = None, per_source: int = 0, log=print) -> str:
    """Fit on a built data set's 'calib' split when `data` is given, otherwise on the corpus splits."""
    from detect.analyze import Analyzer

    if data is not None:
        rows, labels, where = dataset_scores(Analyzer(), data, per_source, log)
        source = (
            "data set 'calib' split (detect/train/sources.json"
            + (f", at most {per_source} per source and label" if per_source else "")
            + ")"
        )
        command = "`python -m detect.train ensemble --data DATA" + (f" --per-source {per_source}" if per_source else "") + "`"
    else:
        rows, labels, where = detector_scores(Analyzer())
        source, command = "corpus splits", "`python -m detect.train ensemble`"
    if "calib" not in where or len(set(labels)) < 2:
        raise ValueError("no 'calib' split with real and fake files (needs ../shared/corpus, or --data with a built set)")
    return write_fitted(rows, labels, where, out, log, source=source, command=command)


BAND_MIN_PER_CLASS = 100  # fewer held-out calib files of a class: the fixed 0.35 / 0.65 band stays


def write_fitted(
    rows,
    labels,
    where,
    out: Path,
    log=print,
    source: str = "corpus splits",
    command: str = "`python -m detect.train ensemble`",
    banded: bool = True,
) -> str:
    counts = {s: (sum(1 for w, y in zip(where, labels) if w == s and y), sum(1 for w in where if w == s)) for s in set(where)}
    note = (
        f"{source} (fake/total): "
        + ", ".join(f"{s} {f}/{n}" for s, (f, n) in sorted(counts.items()))
        + f"; project-fitted detectors calibrated on 'calib' only; {command}"
    )
    best, figures, held = choose_rule_with_scores(rows, labels, where, usable_for_split)
    for rule, (auc, loss) in figures.items():
        log(f"{rule}: leave-one-out on calib AUC {auc:.3f}, log-loss {loss:.3f}")
    config = apply_rule(best, fit_ensemble(rows, labels, note, usable_for_split(where)), rows, labels, where)
    summary = "; ".join(f"{rule} {auc:.3f}/{loss:.3f}" for rule, (auc, loss) in figures.items())
    truth = [labels[i] for i, split in enumerate(where) if split == "calib"]
    reals = [p for p, y in zip(held[best], truth) if not y]
    fakes = [p for p, y in zip(held[best], truth) if y]
    band = ""
    if banded and min(len(reals), len(fakes)) >= BAND_MIN_PER_CLASS:
        low, threshold, high = band_from_scores(reals, fakes)
        config = replace(config, low=low, threshold=threshold, high=high)
        band = (
            f"; band from the leave-one-out scores of {len(reals)} real / {len(fakes)} fake calib files: "
            f"likely_manipulated from {high} (at most {BAND_ERROR:.0%} of reals), likely_authentic below {low} "
            f"(at most {BAND_ERROR:.0%} of fakes), threshold {threshold}"
        )
        log(band[2:])
    config = replace(config, rule=f"{best} (chosen by leave-one-out AUC / log-loss on calib: {summary}){band}")
    log(f"chose {best}; weights {dict(config.weights)}")
    for name, reason in sorted(config.reasons.items()):
        log(f"weight 0 for {name}: {reason}")
    Path(out).write_text(config.to_json(), encoding="utf-8")
    return hashlib.sha256(Path(out).read_bytes()).hexdigest()
