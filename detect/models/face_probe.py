"""The project's face-level detector: a frozen EfficientNet-Lite0 probe on aligned face crops.

Same frozen backbone as `detect.models.trained` (the whole-image probe), but
features pooled on a 3x3 grid instead of over the whole input: in an aligned
crop (`detect.faces.Face.crop`, margin 0.3) the face sits at a fixed place, so
grid cells separate the inner face, its outline and the background, and a
linear head can weigh a blend boundary or a colour / sharpness mismatch
between face and surroundings (what a face swap leaves) rather than the
overall look of the face (which mostly says who it is). Only the low and
middle blocks are used (strides 4 to 16): blending traces are local, and the
deeper blocks mostly encode identity and content. With pooled global
statistics (the whole-image probe's features) the head scored AUC ~0.70 on
self-blends of faces it had not seen; with the grid, ~0.78.

Head: standardisation + logistic regression, trained on real faces against
landmark self-blended faces (SBI) with Das et al.'s landmark cut-out,
resolution loss, JPEG and H.264 applied to both classes; see
detect/model_cards/effnet_face_probe.md and `python -m detect.train face`.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from detect.base import ModelCard, Task
from detect.models.trained import (
    PROBE_LICENCE,
    BackboneFeatures,
    ProbeDetector,
    TrainedModelError,
    backbone_path,
    combined_sha256,
    load_backbone,
    read_head,
)

NAME = "effnet-lite0-face"
VERSION = "1"
INPUT_SIZE = 224
DEFAULT_HEAD = Path(__file__).resolve().parents[1] / "weights" / "effnet_face_head.pt"
TAPS = (2, 4, 7, 10)  # MBConv blocks pooled (strides 4, 8, 16, 16); later blocks are not run
GRID = 3


class GridFeatures(BackboneFeatures):
    """(N, 3, 224, 224) RGB in [0, 1] -> (N, D): per-cell mean and std of each tapped block on a GRID x GRID grid."""

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        pooled = []
        for index, x in self.block_outputs(batch, last=max(TAPS)):
            if index in TAPS:
                x32 = x.float()
                mean = F.adaptive_avg_pool2d(x32, GRID)
                square = F.adaptive_avg_pool2d(x32 * x32, GRID)
                pooled += [mean.flatten(1), (square - mean * mean).clamp_min(0).sqrt().flatten(1)]
        return torch.cat(pooled, dim=1)


def face_card(weights_sha256: str) -> ModelCard:
    return ModelCard(
        name=NAME,
        version=VERSION,
        task=Task.FACE,
        input_size=(INPUT_SIZE, INPUT_SIZE),
        weights_sha256=weights_sha256,
        licence=PROBE_LICENCE,
        citation="Tan & Le, EfficientNet, ICML 2019 (Lite variant); Shiohara & Yamasaki, Detecting Deepfakes "
        "with Self-Blended Images, CVPR 2022; Das, Seferbekov, Datta, Islam, Amin, Towards Solving the "
        "DeepFake Problem: An Analysis on Improving DeepFake Detection using Dynamic Face Augmentation, "
        "ICCV Workshops 2021; linear probe after Ojha, Li, Lee, CVPR 2023.",
        description="Frozen EfficientNet-Lite0 blocks 2-10, mean and std on a 3x3 grid, + logistic head on "
        "aligned 224x224 face crops (margin 0.3), trained on real faces vs landmark self-blends; weights_sha256 = "
        "sha256(backbone sha256 hex + head sha256 hex).",
    )


def load_face_probe(head_path: Path = DEFAULT_HEAD) -> ProbeDetector:
    """The shipped face detector; TrainedModelError when the head or the backbone package is missing."""
    head, data = read_head(head_path)
    if "turns" in head:  # aligned crops are upright by construction; a turn-averaging head is the whole-image probe's
        raise TrainedModelError(f"{head_path} is a turn-averaging whole-image head, not a face head")
    features = GridFeatures(load_backbone())
    detector = ProbeDetector(features, head, "", card=face_card(combined_sha256(backbone_path(), data))).eval()
    return detector.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs omit memory_format
