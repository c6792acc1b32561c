"""The training stream: balanced real / manipulated tiles, made fresh each draw."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from detect.train import synth
from detect.train.sources import corpus_samples, load_rgb

# How often each kind of fake is drawn (corpus fakes only when some are loaded).
FAKE_MIX = {"upsample": 0.4, "self_blend": 0.2, "splice": 0.15, "corpus": 0.25}


@dataclass
class ImagePools:
    real: list[np.ndarray]
    fake: list[np.ndarray] = field(default_factory=list)  # generator output (corpus train split)

    @classmethod
    def load(cls, real_paths: list[Path], fake_paths: list[Path], corpus_split: str | None) -> "ImagePools":
        real = [load_rgb(p) for p in real_paths]
        fake = [load_rgb(p) for p in fake_paths]
        if corpus_split:
            for _, rgb, label in corpus_samples(corpus_split):
                (fake if label else real).append(rgb)
        if len(real) < 2:
            raise ValueError("need at least two real photos to train (see detect/model_cards/effnet_probe.md)")
        return cls(real=real, fake=fake)


def draw(rng: np.random.Generator, pools: ImagePools, size: int, kinds: dict[str, float] = FAKE_MIX) -> tuple[np.ndarray, int]:
    """One augmented tile and its label (1 = manipulated), real and fake equally often."""
    photo = pools.real[int(rng.integers(len(pools.real)))]
    if rng.random() < 0.5:
        return synth.augment(rng, synth.downscaled_crop(rng, photo, size)), 0
    names = [k for k in kinds if k != "corpus" or pools.fake]
    weights = np.array([kinds[k] for k in names])
    kind = str(rng.choice(names, p=weights / weights.sum()))
    if kind == "upsample":
        tile = synth.upsample_artefact(rng, photo, size)
    elif kind == "self_blend":
        tile = synth.self_blend(rng, photo, size)
    elif kind == "splice":
        donor = pools.real[int(rng.integers(len(pools.real)))]
        tile = synth.splice(rng, photo, donor, size)
    else:
        tile = synth.random_crop(rng, pools.fake[int(rng.integers(len(pools.fake)))], size)
    return synth.augment(rng, tile), 1


def fixed_set(pools: ImagePools, size: int, count: int, seed: int, kinds: dict[str, float] = FAKE_MIX) -> tuple[torch.Tensor, torch.Tensor]:
    """A reproducible batch (validation / fitting): tiles (N, 3, S, S) and labels (N,)."""
    rng = np.random.default_rng(seed)
    tiles, labels = zip(*(draw(rng, pools, size, kinds) for _ in range(count)))
    batch = torch.from_numpy(np.stack(tiles)).permute(0, 3, 1, 2).float().div_(255.0)
    return batch, torch.tensor(labels, dtype=torch.float32)
