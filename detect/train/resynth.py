"""Synthetic up-sampling fakes: a real crop, reduced and grown back by a randomly drawn learned-style up-sampler.

Why: the artifact CNN learns the traces of the generator families it is shown and does not carry them to a family it
never saw (leave-one-family-out, BENCHMARKS.md). What generators share is the last step: a decoder that grows a small
grid into pixels with learned kernels (transposed convolutions, nearest or bilinear growth followed by a
convolution), which leaves a pattern on every 2x2 cell (Tan et al., NPR, CVPR 2024). Drawing such up-samplers at
random and applying them to real crops gives fakes of countless "generators" whose content is exactly that of the
real crops, so content cannot be the signal, only the up-sampling trace can.

Plain interpolation (bilinear, bicubic or Lanczos, reductions and enlargements up to 1.6x) is given to both labels by
the training's processing (fit_artifact.process), so a moderately resized photo is not what these fakes teach; the
random kernels are. Exact 2x enlargement is not given to the reals, which is why enlarged real photos still read
as fake; at inference they fall below the fine-detail floor and get `uncertain` (detect.stills.MIN_DETAIL).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_BILINEAR_1D = torch.tensor([0.25, 0.75, 0.75, 0.25])


def _noisy(base: torch.Tensor, rng: np.random.Generator, scale: float) -> torch.Tensor:
    """`base` plus Gaussian noise of `scale` times its largest tap (numpy's generator keeps runs reproducible)."""
    noise = torch.from_numpy(rng.normal(0.0, scale, size=tuple(base.shape))).float()
    return base + noise * base.abs().max()


def _transposed(x: torch.Tensor, rng: np.random.Generator, scale: float) -> torch.Tensor:
    """A stride-2 transposed convolution: a bilinear kernel per channel, perturbed, with a little channel mixing."""
    channels = x.shape[1]
    kernel = torch.outer(_BILINEAR_1D, _BILINEAR_1D)
    weight = torch.zeros(channels, channels, 4, 4)
    for c in range(channels):
        weight[c, c] = kernel
    weight = _noisy(weight, rng, scale / 2) if rng.random() < 0.5 else weight
    for c in range(channels):
        weight[c, c] = _noisy(kernel, rng, scale)
    return F.conv_transpose2d(x, weight, stride=2, padding=1)


def _grow_then_convolve(x: torch.Tensor, rng: np.random.Generator, scale: float) -> torch.Tensor:
    """Nearest or bilinear growth by 2, then a perturbed 3x3 smoothing convolution per channel (a decoder block)."""
    mode = "nearest" if rng.random() < 0.5 else "bilinear"
    grown = F.interpolate(x, scale_factor=2, mode=mode, align_corners=False if mode == "bilinear" else None)
    channels = x.shape[1]
    smooth = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0
    identity = torch.zeros(3, 3)
    identity[1, 1] = 1.0
    mix = float(rng.uniform(0.0, 1.0))
    base = mix * smooth + (1.0 - mix) * identity
    weight = torch.stack([_noisy(base, rng, scale) for _ in range(channels)])[:, None]
    return F.conv2d(F.pad(grown, (1, 1, 1, 1), mode="replicate"), weight, groups=channels)


def resynthesise(rng: np.random.Generator, crop: np.ndarray) -> np.ndarray:
    """A fake with `crop`'s content: reduced by 2 or 4, then grown back by one or two random up-samplers."""
    side = crop.shape[0]
    stages = 1 if rng.random() < 0.7 else 2
    x = torch.tensor(crop).permute(2, 0, 1)[None].float().div(255.0)  # a copy: cached crops are read-only
    small = F.avg_pool2d(x, 2**stages)
    for _ in range(stages):
        scale = float(np.exp(rng.uniform(np.log(0.02), np.log(0.2))))
        upsample = _transposed if rng.random() < 0.5 else _grow_then_convolve
        # Grown from a replicate-padded grid and cut back, so the crop has no dark or odd border of its own.
        small = upsample(F.pad(small, (1, 1, 1, 1), mode="replicate"), rng, scale)[:, :, 2:-2, 2:-2]
    # Each channel keeps the real crop's mean and spread: a shift of colour or contrast is not the trace to learn.
    mean, spread = x.mean(dim=(2, 3), keepdim=True), x.std(dim=(2, 3), keepdim=True)
    small = (small - small.mean(dim=(2, 3), keepdim=True)) / small.std(dim=(2, 3), keepdim=True).clamp_min(1e-6) * spread + mean
    out = small[0].clamp(0.0, 1.0).mul(255.0).round().byte().permute(1, 2, 0).numpy()
    return out[:side, :side]
