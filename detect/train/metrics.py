"""Ranking and threshold metrics (no scikit-learn on the machine)."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve via the Mann-Whitney statistic (ties count half)."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def accuracy(labels, scores, threshold: float) -> float:
    labels = np.asarray(labels, dtype=bool)
    return float(np.mean((np.asarray(scores) >= threshold) == labels))
