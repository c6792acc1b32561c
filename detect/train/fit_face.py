"""Train the face-level probe's head: real aligned faces vs landmark self-blends."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from detect.models.face_probe import INPUT_SIZE
from detect.models.trained import ProbeFeatures, load_backbone, save_head
from detect.train.face_data import FacePools, fixed_face_set
from detect.train.fit_probe import extract, fit_head


def fit_face_probe(pools: FacePools, out: Path, count: int = 1600, seed: int = 0, log=print) -> str:
    """Features of `count` training and count/4 validation crops (another seed); L2 chosen on validation."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    features = ProbeFeatures(load_backbone()).to(device).to(memory_format=torch.channels_last)
    started = time.monotonic()
    train_x, train_y = fixed_face_set(pools, INPUT_SIZE, count, seed=seed)
    log(f"drew {count} training crops in {time.monotonic() - started:.0f}s")
    train_f = extract(features, train_x, device)
    del train_x
    val_x, val_y = fixed_face_set(pools, INPUT_SIZE, count // 4, seed=seed + 10_000)
    val_f = extract(features, val_x, device)
    log(f"features: {train_f.shape[1]}-d for {count}+{count // 4} crops in {time.monotonic() - started:.0f}s")
    return save_head(fit_head(train_f, train_y, val_f, val_y, log), out)
