"""Train the face-level probe's head: real aligned faces vs landmark self-blends.

There are few real faces to train on (a dozen, see the model card), so the
question that matters is how the head does on faces it has never seen: the
L2 strength is chosen on self-blends of held-out faces (every fourth face),
then the head is refitted on the crops of all faces with that strength.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from detect.models.face_probe import INPUT_SIZE, GridFeatures
from detect.models.trained import load_backbone, save_head
from detect.train.face_data import FacePools, fixed_face_set
from detect.train.fit_probe import extract, fit_head
from detect.train.logistic import fit_logistic

L2_CHOICES = (1e-2, 1e-1, 1.0)


def fit_face_probe(pools: FacePools, out: Path, count: int = 2400, seed: int = 0, log=print) -> str:
    """`count` crops of the training faces, count/4 of the held-out ones; returns the head's sha256."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    features = GridFeatures(load_backbone()).to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs omit memory_format
    training, held_out = pools.split_faces()
    log(f"faces: {len(training.real)} for training, {len(held_out.real)} held out for validation")
    started = time.monotonic()
    train_x, train_y = fixed_face_set(training, INPUT_SIZE, count, seed=seed)
    train_f = extract(features, train_x, device)
    del train_x
    val_x, val_y = fixed_face_set(held_out, INPUT_SIZE, count // 4, seed=seed + 10_000)
    val_f = extract(features, val_x, device)
    log(f"features: {train_f.shape[1]}-d for {count}+{count // 4} crops in {time.monotonic() - started:.0f}s")
    _, l2, auc = fit_head(train_f, train_y, val_f, val_y, log, L2_CHOICES, "AUC on self-blends of unseen faces")
    all_f, all_y = torch.cat([train_f, val_f]), torch.cat([train_y, val_y])
    mean, std = all_f.mean(0), all_f.std(0).clamp_min(1e-6)
    coef, bias = fit_logistic((all_f - mean) / std, all_y, l2, balanced=True)
    log(f"chose l2 {l2:g} (unseen-face AUC {auc:.4f}); refitted on all {len(all_y)} crops")
    return save_head({"mean": mean, "std": std, "coef": coef, "bias": torch.tensor(bias)}, out)
