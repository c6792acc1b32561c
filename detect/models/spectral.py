"""Spectral detector: azimuthally averaged Fourier spectrum + logistic regression.

After Durall et al. 2020 ("Watch your up-convolution"): the up-sampling layers
of generators leave the high-frequency end of the power spectrum too flat or
too bumpy compared with camera images. The whole power spectrum is reduced to
a 1-D radial profile, which a linear classifier separates. Everything is plain
torch so the detector is differentiable (the PGD benchmark attacks it).

The fitted parameters live in a small JSON file (`detect/weights/spectral.json`),
written by `python -m detect.train spectral`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from detect.base import ModelCard, Task
from detect.errors import DetectError

NAME = "spectral"
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "spectral.json"
_LUMA = (0.299, 0.587, 0.114)


class SpectralError(DetectError):
    """The spectral parameters file is missing or malformed."""


def radial_bins(size: int, bins: int) -> torch.Tensor:
    """A (bins, size*size) averaging matrix: row k is the mean over ring k.

    Rings split the radius 0..size/2 of the centred spectrum evenly; corners
    beyond size/2 (frequencies present only along diagonals) are left out so
    every ring is a full circle.
    """
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    radius = torch.sqrt(coords[:, None] ** 2 + coords[None, :] ** 2).flatten()
    ring = torch.floor(radius / (size / 2) * bins).long()
    inside = ring < bins
    matrix = torch.zeros(bins, size * size, dtype=torch.float64)
    matrix[ring[inside], torch.nonzero(inside).squeeze(1)] = 1.0
    matrix /= matrix.sum(dim=1, keepdim=True).clamp_min(1.0)
    return matrix.float()


def radial_profile(batch: torch.Tensor, bins: int) -> torch.Tensor:
    """(N, 3, S, S) RGB in [0, 1] -> (N, bins) log power per ring, mean-centred.

    A Hann window suppresses the cross that the tile's borders would otherwise
    add to the spectrum; centring each profile removes overall contrast (a gain
    is a constant shift in log power), leaving only the spectrum's shape.
    """
    size = batch.shape[-1]
    if batch.shape[-2] != size:
        raise SpectralError(f"spectral detector needs square tiles, got {tuple(batch.shape[-2:])}")
    luma = torch.tensor(_LUMA, dtype=batch.dtype, device=batch.device).view(1, 3, 1, 1)
    gray = (batch.float() * luma).sum(dim=1)
    gray = gray - gray.mean(dim=(-2, -1), keepdim=True)
    window = torch.hann_window(size, periodic=False, device=batch.device)
    gray = gray * (window[:, None] * window[None, :])
    spectrum = torch.fft.fftshift(torch.fft.fft2(gray), dim=(-2, -1))
    log_power = torch.log(spectrum.real**2 + spectrum.imag**2 + 1e-8).flatten(1)
    profile = log_power @ radial_bins(size, bins).to(batch.device).T
    return profile - profile.mean(dim=1, keepdim=True)


@dataclass(frozen=True)
class SpectralParams:
    size: int
    bins: int
    mean: list[float]
    std: list[float]
    coef: list[float]
    bias: float
    version: str = "1"
    trained_with: str = ""

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "SpectralParams":
        try:
            raw = json.loads(text)
            params = cls(**raw)
        except (json.JSONDecodeError, TypeError) as exc:
            raise SpectralError(f"malformed spectral parameters: {exc}") from None
        if not (len(params.mean) == len(params.std) == len(params.coef) == params.bins):
            raise SpectralError("spectral parameters: mean/std/coef lengths differ from bins")
        return params


class SpectralDetector(torch.nn.Module):
    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor
    coef: torch.Tensor
    """Scores square RGB tiles; probability that a tile is synthetic."""

    def __init__(self, params: SpectralParams, weights_sha256: str | None = None):
        super().__init__()
        self.params = params
        self.register_buffer("mean", torch.tensor(params.mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(params.std, dtype=torch.float32).clamp_min(1e-6))
        self.register_buffer("coef", torch.tensor(params.coef, dtype=torch.float32))
        self.bias = float(params.bias)
        self.card = ModelCard(
            name=NAME,
            version=params.version,
            task=Task.IMAGE,
            input_size=(params.size, params.size),
            weights_sha256=weights_sha256,
            licence="Apache-2.0 (project-fitted parameters)",
            citation="Durall, Keuper, Keuper. Watch your Up-Convolution: CNN Based Generative "
            "Deep Neural Networks are Failing to Reproduce Spectral Distributions. CVPR 2020.",
            description="Azimuthally averaged log power spectrum of the luma, logistic regression. " + params.trained_with,
        )

    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        features = (radial_profile(batch, self.params.bins) - self.mean) / self.std
        return features @ self.coef + self.bias

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(batch))

    def score(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.forward(batch)


def load_spectral(path: Path = DEFAULT_WEIGHTS) -> SpectralDetector:
    """Load the fitted parameters; raises SpectralError if the file is absent or bad."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SpectralError(f"spectral parameters not found: {path} ({exc.strerror})") from None
    params = SpectralParams.from_json(data.decode("utf-8"))
    return SpectralDetector(params, hashlib.sha256(data).hexdigest()).eval()
