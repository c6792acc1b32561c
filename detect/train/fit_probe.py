"""Train the EfficientNet-Lite0 probe's head on the synthetic tile set.

The shipped head (version 2) is one draw: `bag=1`, upright features. The
two options exist for the recipe study in `bench/probe_variants.py`:
`bag` averages the logits of heads fitted on several draws (for linear
heads that average is itself one linear head, so inference costs nothing
extra), and `turns` fits on features averaged over four quarter turns of
each tile, which makes the score the same for a photo at any turn. Neither
ranked the corpus's real generator output better than the shipped head
(study and figures: `bench/results/detect_probe_variants.md`).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from detect.models.trained import INPUT_SIZE, TURNS, BackboneFeatures, ProbeFeatures, load_backbone, save_head
from detect.train.dataset import FAKE_MIX, ImagePools, fixed_set
from detect.train.logistic import fit_logistic
from detect.train.metrics import roc_auc

L2_CHOICES = (1e-4, 1e-3, 1e-2)
VALIDATION_SEED = 10_000  # added to a draw's seed for its held-out tiles


def extract(features: BackboneFeatures, tiles: torch.Tensor, device: torch.device, batch: int = 32) -> torch.Tensor:
    out = []
    with torch.inference_mode():
        for start in range(0, len(tiles), batch):
            chunk = tiles[start : start + batch].to(device).contiguous(memory_format=torch.channels_last)
            out.append(features(chunk).float().cpu())
    return torch.cat(out)


def fit_probe(pools: ImagePools, out: Path, count: int = 2400, seed: int = 0, bag: int = 1, turns: bool = False, log=print) -> str:
    """Fit one head per draw (seeds `seed` .. `seed + bag - 1`, `count` training and count/4 held-out
    tiles each, L2 picked on the held-out tiles) and save their average; returns its sha256.

    `turns`: features averaged over four quarter turns of each tile (`ProbeFeatures`)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    features = ProbeFeatures(load_backbone(), turn_average=turns).to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs omit memory_format
    heads, held_out = [], []
    for draw_seed in range(seed, seed + bag):
        started = time.monotonic()
        train_x, train_y = fixed_set(pools, INPUT_SIZE, count, seed=draw_seed, kinds=FAKE_MIX)
        train_f = extract(features, train_x, device)
        del train_x
        val_x, val_y = fixed_set(pools, INPUT_SIZE, count // 4, seed=draw_seed + VALIDATION_SEED, kinds=FAKE_MIX)
        val_f = extract(features, val_x, device)
        log(f"draw {draw_seed}: {train_f.shape[1]}-d features for {count}+{count // 4} tiles in {time.monotonic() - started:.0f}s")
        head, l2, auc = fit_head(train_f, train_y, val_f, val_y, log)
        log(f"draw {draw_seed}: chose l2 {l2:g} (AUC {auc:.4f})")
        heads.append(head)
        held_out.append((val_f, val_y))
    if len(heads) == 1:
        bagged = heads[0]  # the head as fitted: version 2's command still writes its file byte for byte
    else:
        bagged = bag_heads(heads)
        val_f, val_y = torch.cat([f for f, _ in held_out]), torch.cat([y for _, y in held_out])
        log(f"bag of {bag}: held-out synthetic AUC {roc_auc(val_y.numpy(), head_logits(bagged, val_f).numpy()):.4f}")
    if turns:
        bagged["turns"] = torch.tensor(float(TURNS))
    return save_head(bagged, out)


def bag_heads(heads: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One head whose logit is the mean of the heads' logits (standardisation folded into the weights)."""
    coef = torch.stack([h["coef"] / h["std"] for h in heads]).mean(0)
    bias = torch.stack([h["bias"] - (h["mean"] / h["std"]) @ h["coef"] for h in heads]).mean(0)
    return {"mean": torch.zeros_like(coef), "std": torch.ones_like(coef), "coef": coef, "bias": bias}


def head_logits(head: dict[str, torch.Tensor], features: torch.Tensor) -> torch.Tensor:
    return ((features - head["mean"]) / head["std"]) @ head["coef"] + head["bias"]


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
    assert best is not None, "l2_choices is never empty"
    auc, l2, coef, bias = best
    return {"mean": mean, "std": std, "coef": coef, "bias": torch.tensor(bias)}, l2, auc
