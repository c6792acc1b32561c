"""Fit the spectral detector's logistic regression on radial profiles."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from detect.models.spectral import SpectralParams, radial_profile
from detect.train.dataset import ImagePools, fixed_set
from detect.train.logistic import fit_logistic
from detect.train.metrics import roc_auc

# 2: trained without bilinear/bicubic enlargement as a fake trace (see detect/train/synth.py).
VERSION = "2"

SIZE = 256
BINS = 64
# Local edits (self-blends, splices) barely move a whole-tile spectrum; the
# spectral fit uses only the global traces it can see.
SPECTRAL_MIX = {"upsample": 0.6, "corpus": 0.4}


def profiles(tiles: torch.Tensor) -> torch.Tensor:
    return torch.cat([radial_profile(tiles[i : i + 256], BINS) for i in range(0, len(tiles), 256)])


def fit_spectral(pools: ImagePools, out: Path, count: int = 4000, seed: int = 0, l2: float = 1e-3, log=print) -> str:
    tiles, labels = fixed_set(pools, SIZE, count, seed=seed, kinds=SPECTRAL_MIX)
    feats = profiles(tiles)
    mean, std = feats.mean(0), feats.std(0).clamp_min(1e-6)
    coef, bias = fit_logistic((feats - mean) / std, labels, l2)
    val_tiles, val_labels = fixed_set(pools, SIZE, count // 4, seed=seed + 10_000, kinds=SPECTRAL_MIX)
    val_logits = ((profiles(val_tiles) - mean) / std) @ coef + bias
    log(f"spectral: fitted on {count} tiles, held-out synthetic AUC {roc_auc(val_labels.numpy(), val_logits.numpy()):.4f}")
    params = SpectralParams(
        size=SIZE,
        bins=BINS,
        mean=[round(v, 6) for v in mean.tolist()],
        std=[round(v, 6) for v in std.tolist()],
        coef=[round(v, 6) for v in coef.tolist()],
        bias=round(bias, 6),
        version=VERSION,
        trained_with=f"Fitted by `python -m detect.train spectral` on {count} tiles (seed {seed}).",
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(params.to_json(), encoding="utf-8")
    return hashlib.sha256(Path(out).read_bytes()).hexdigest()
