"""The project's own detector: a small residual-trace CNN trained here.

It sees 128x128 tiles at native resolution and keeps full resolution in its
first layer, because the traces it looks for (generator up-sampling, blending
seams, resampled splices) live in the highest frequencies. Small enough to
train on two CPU cores and to commit (about 1.2 MB); trained by
`python -m detect.train cnn` (see `detect/model_cards/artefact_cnn.md`).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from detect.base import ModelCard, Task

NAME = "artefact_cnn"
VERSION = "1"
INPUT_SIZE = 128
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "artefact_cnn.pt"


class TrainedModelError(Exception):
    """The trained detector's weights are missing or do not fit the architecture."""


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ArtefactNet(nn.Module):
    """A fixed high-pass residual next to the pixels, six 3x3 conv blocks, one logit.

    The residual (pixel minus its 3x3 mean) makes up-sampling and blending
    traces salient from the first step, which lets a small net learn them on a
    CPU budget; the first block keeps full resolution for the same reason.
    """

    def __init__(self, width: int = 16):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _block(6, w, 1),
            _block(w, 2 * w, 2),
            _block(2 * w, 4 * w, 2),
            _block(4 * w, 4 * w, 1),
            _block(4 * w, 8 * w, 2),
            _block(8 * w, 8 * w, 1),
        )
        self.head = nn.Linear(8 * w, 1)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB in [0, 1] -> (N,) logits of 'manipulated'."""
        residual = batch - F.avg_pool2d(batch, 3, stride=1, padding=1, count_include_pad=False)
        x = self.features(torch.cat([batch - 0.5, 8.0 * residual], dim=1))
        return self.head(x.mean(dim=(-2, -1))).squeeze(1)


class ArtefactDetector(nn.Module):
    """`Detector` wrapper: probabilities, model card, weights hash."""

    def __init__(self, net: ArtefactNet, weights_sha256: str | None):
        super().__init__()
        self.net = net.eval()
        self.card = ModelCard(
            name=NAME,
            version=VERSION,
            task=Task.IMAGE,
            input_size=(INPUT_SIZE, INPUT_SIZE),
            weights_sha256=weights_sha256,
            licence="Apache-2.0 (trained by this project on package-shipped photos)",
            citation="Architecture and training: this project (detect/model_cards/artefact_cnn.md). "
            "Self-blending after Shiohara & Yamasaki, CVPR 2022; augmentation after Wang et al., CVPR 2020.",
            description="Small CNN on native-resolution 128x128 tiles; mean over tiles.",
        )

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(batch))

    def score(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.forward(batch.contiguous(memory_format=torch.channels_last)).float()


def save_weights(net: ArtefactNet, path: Path) -> str:
    """Write a state dict deterministically; return its sha256."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, buffer)
    data = buffer.getvalue()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def load_trained(path: Path = DEFAULT_WEIGHTS) -> ArtefactDetector:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TrainedModelError(f"trained detector weights not found: {path} ({exc.strerror})") from None
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        net = ArtefactNet()
        net.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, EOFError) as exc:
        raise TrainedModelError(f"trained detector weights do not fit ArtefactNet: {exc}") from None
    net = net.to(memory_format=torch.channels_last)
    return ArtefactDetector(net, hashlib.sha256(data).hexdigest()).eval()
