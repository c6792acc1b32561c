"""Train the EfficientNet-Lite0 probe's head on the synthetic tile set."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from detect.models.trained import INPUT_SIZE, BackboneFeatures, ProbeFeatures, load_backbone, save_head
from detect.train.dataset import FAKE_MIX, ImagePools, fixed_set
from detect.train.logistic import fit_logistic
from detect.train.metrics import roc_auc

L2_CHOICES = (1e-4, 1e-3, 1e-2)


def extract(features: BackboneFeatures, tiles: torch.Tensor, device: torch.device, batch: int = 32) -> torch.Tensor:
    out = []
    with torch.inference_mode():
        for start in range(0, len(tiles), batch):
            chunk = tiles[start : start + batch].to(device).contiguous(memory_format=torch.channels_last)
            out.append(features(chunk).float().cpu())
    return torch.cat(out)


def fit_probe(pools: ImagePools, out: Path, count: int = 2400, seed: int = 0, log=print) -> str:
    """Extract features of `count` training and count/4 validation tiles; pick L2 on validation."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    features = ProbeFeatures(load_backbone()).to(device).to(memory_format=torch.channels_last)
    started = time.monotonic()
    train_x, train_y = fixed_set(pools, INPUT_SIZE, count, seed=seed, kinds=FAKE_MIX)
    train_f = extract(features, train_x, device)
    val_x, val_y = fixed_set(pools, INPUT_SIZE, count // 4, seed=seed + 10_000, kinds=FAKE_MIX)
    val_f = extract(features, val_x, device)
    log(f"features: {train_f.shape[1]}-d for {count}+{count // 4} tiles in {time.monotonic() - started:.0f}s")
    head, l2, auc = fit_head(train_f, train_y, val_f, val_y, log)
    log(f"chose l2 {l2:g} (AUC {auc:.4f})")
    return save_head(head, out)


def fit_head(
    train_f: torch.Tensor,
    train_y: torch.Tensor,
    val_f: torch.Tensor,
    val_y: torch.Tensor,
    log=print,
    l2_choices: tuple[float, ...] = L2_CHOICES,
    scored_on: str = "held-out synthetic AUC",
) -> tuple[dict[str, torch.Tensor], float, float]:
    """Standardisation + logistic regression on the training features; L2 picked by AUC on the
    validation features. Returns (head, chosen L2, its validation AUC)."""
    mean, std = train_f.mean(0), train_f.std(0).clamp_min(1e-6)
    best = None
    for l2 in l2_choices:
        coef, bias = fit_logistic((train_f - mean) / std, train_y, l2, balanced=True)
        auc = roc_auc(val_y.numpy(), (((val_f - mean) / std) @ coef + bias).numpy())
        log(f"l2 {l2:g}: {scored_on} {auc:.4f}")
        if best is None or auc > best[0]:
            best = (auc, l2, coef, bias)
    auc, l2, coef, bias = best
    return {"mean": mean, "std": std, "coef": coef, "bias": torch.tensor(bias)}, l2, auc
