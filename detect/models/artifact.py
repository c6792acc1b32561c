"""Low-level artifact CNNs trained from scratch: whole-image tiles and face crops.

Why from scratch, and why on a residual: frozen ImageNet features scored at
chance on generators this project never saw (issue 15). What generators share
is how they make pixels: up-sampling layers leave neighbouring pixels
correlated in a fixed pattern. The network therefore sees the neighbouring-
pixel relationship (NPR, Tan et al., CVPR 2024), the image minus its own 2x
nearest-neighbour reduction and re-enlargement, which removes the content and
keeps the local 2x2 structure, and learns its statistics with a small CNN.
Tiles are cut at native resolution (resizing erases the traces), and the
score is averaged over the four quarter turns so that a photo stored sideways
scores like the upright one.

The same architecture, trained on aligned face crops (FaceForensics++
manipulations against their originals, resized like inference crops), is the
face-task detector.

Weights: `detect/weights/artifact_image.pt` and `artifact_face.pt`, written
by `python -m detect.train artifact` (recipe in the model cards).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from detect.base import ModelCard, Task
from detect.errors import DetectError
from detect.models.tensor_file import load_tensors, save_tensors

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
KINDS = {
    "image": ("npr-cnn", Task.IMAGE, WEIGHTS / "artifact_image.pt"),
    "face": ("npr-cnn-face", Task.FACE, WEIGHTS / "artifact_face.pt"),
}
TURNS = 4


class ArtifactModelError(DetectError):
    """The artifact CNN's weights are missing or do not fit."""


def npr(batch: torch.Tensor) -> torch.Tensor:
    """x minus its 2x nearest reduction re-enlarged: the neighbouring-pixel residual (content removed)."""
    height, width = batch.shape[-2] // 2 * 2, batch.shape[-1] // 2 * 2
    batch = batch[..., :height, :width]
    small = batch[..., ::2, ::2]
    return batch - small.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)


def _block(cin: int, cout: int, stride: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ArtifactNet(nn.Module):
    """(N, 3, S, S) RGB in [0, 1] -> (N,) logits; S a multiple of 8, 128 by default.

    The stem is a 4x4 convolution with stride 2: it sees each 2x2 cell of the
    residual whole, which is where up-sampling leaves its pattern, and halves
    the cost of every later layer (two CPU cores train it at ~80 tiles/s).
    """

    def __init__(self, width: int = 24):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            _block(3, w, 2, kernel=4),
            _block(w, 2 * w, 2),
            _block(2 * w, 2 * w, 1),
            _block(2 * w, 4 * w, 2),
            _block(4 * w, 4 * w, 1),
        )
        self.head = nn.Linear(8 * w, 1)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        x = self.body(npr(batch) * 4.0)  # the residual is small: scaled to a unit-ish range
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return self.head(pooled).squeeze(1)


class ArtifactDetector(nn.Module):
    """`Detector`: the CNN's probability, averaged (in logit space) over four quarter turns."""

    def __init__(self, net: ArtifactNet, card: ModelCard, turns: int = TURNS):
        super().__init__()
        self.net = net.eval()
        self.card = card
        self.turns = turns

    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        turned = torch.cat([torch.rot90(batch, k, dims=(2, 3)) for k in range(self.turns)])
        return self.net(turned).reshape(self.turns, len(batch)).mean(dim=0)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Differentiable probabilities (the attack benchmarks take gradients through it)."""
        return torch.sigmoid(self.logits(batch))

    def score(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.forward(batch.float()).float()


def save_weights(net: ArtifactNet, meta: dict, path: Path) -> str:
    """State dict plus metadata (size, width, recipe) in one file; returns its sha256."""
    return save_tensors({"state": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, "meta": meta}, path)


def _net_of(saved: Any) -> tuple[ArtifactNet, dict]:
    meta = dict(saved["meta"])
    net = ArtifactNet(width=int(meta.get("width", 24)))
    net.load_state_dict(saved["state"])
    return net, meta


def read_weights(path: Path) -> tuple[ArtifactNet, dict, str]:
    (net, meta), data = load_tensors(path, "artifact CNN weights", ArtifactModelError, _net_of)
    return net.eval(), meta, hashlib.sha256(data).hexdigest()


def load_artifact(kind: str = "image", path: Path | None = None) -> ArtifactDetector:
    name, task, default = KINDS[kind]
    net, meta, digest = read_weights(path or default)
    size = int(meta.get("size", 128))
    card = ModelCard(
        name=name,
        version=str(meta.get("version", "1")),
        task=task,
        input_size=(size, size),
        weights_sha256=digest,
        licence=str(meta.get("licence", "see detect/model_cards")),
        citation="Tan et al., Rethinking the Up-Sampling Operations in CNN-based Generative Network for "
        "Generalizable Deepfake Detection (NPR), CVPR 2024.",
        description=str(meta.get("description", "")),
    )
    return ArtifactDetector(net, card).eval()
