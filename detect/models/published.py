"""Published detectors whose checkpoints users download themselves.

- CNNDetection (Wang et al. 2020): ResNet-50, one logit, ImageNet normalisation.
- UniversalFakeDetect (Ojha et al. 2023): frozen CLIP ViT-L/14 image features
  and a linear head (768 -> 1), CLIP normalisation.
- Self-Blended Images (Shiohara & Yamasaki 2022): EfficientNet-B4, two-way
  softmax on 380x380 face crops in [0, 1].

Each loader accepts the checkpoint exactly as its authors publish it (wrapper
dicts, `module.` prefixes from DataParallel, TorchScript archives for CLIP) and
raises `PublishedWeightsError` with the mismatching keys otherwise.
"""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from detect.base import ModelCard, Task
from detect.errors import DetectError
from detect.models.backbones.clip_vit import VisionTransformer
from detect.models.backbones.efficientnet import EfficientNet
from detect.models.backbones.resnet import ResNet50

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


class PublishedWeightsError(DetectError):
    """A checkpoint is missing, unreadable, or not laid out like the published one."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_checkpoint(path: Path) -> Mapping[str, object]:
    """A checkpoint's top-level mapping, tensors on the CPU, without running pickled code."""
    path = Path(path)
    if not path.is_file():
        raise PublishedWeightsError(f"{path}: no such weights file")
    if _is_torchscript(path):
        return _torchscript_state(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types here, including the weights-only unpickler's own
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PublishedWeightsError(
            f"{path}: not a readable PyTorch checkpoint, or one that would need to run pickled code ({first_line})"
        ) from None
    if not isinstance(loaded, Mapping):
        raise PublishedWeightsError(f"{path}: expected a state dict, found {type(loaded).__name__}")
    return loaded


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") for name in archive.namelist())


def _torchscript_state(path: Path) -> dict[str, torch.Tensor]:
    """OpenAI's CLIP files are TorchScript archives; only their parameters are used."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return dict(torch.jit.load(str(path), map_location="cpu").state_dict())
    except Exception as exc:
        raise PublishedWeightsError(f"{path}: unreadable TorchScript archive ({str(exc).splitlines()[0]})") from None


def state_dict_from(checkpoint: Mapping[str, object], wrapper_keys: tuple[str, ...] = ("model", "state_dict")) -> dict[str, torch.Tensor]:
    """Unwrap `{"model": {...}}`-style checkpoints and drop DataParallel's `module.` prefix."""
    for key in wrapper_keys:
        inner = checkpoint.get(key)
        if isinstance(inner, Mapping):
            checkpoint = inner
            break
    state = {}
    for key, value in checkpoint.items():
        if isinstance(value, torch.Tensor):
            state[key.removeprefix("module.")] = value
    return state


def check_layout(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """Raise unless `state` has exactly `module`'s keys and shapes, naming what differs."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})")
        raise PublishedWeightsError(f"{what}: checkpoint does not match the published layout: {'; '.join(parts)}")


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """load_state_dict that names what is wrong instead of dumping every key."""
    check_layout(module, state, what)
    module.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})


class _Normalise(nn.Module):
    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class _PublishedDetector:
    """Shared plumbing: a network, its preprocessing, its card, `score` in eval mode."""

    network: nn.Module
    card: ModelCard

    def _setup(self, device: torch.device | None) -> None:
        self.device = device or torch.device("cpu")
        self.network.to(self.device).eval()

    def to(self, device: torch.device) -> "_PublishedDetector":
        self.device = device
        self.network.to(device)
        return self

    def _probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        """P(synthetic) from the network's outputs: the sigmoid of its one logit, unless a detector says otherwise."""
        return torch.sigmoid(outputs[:, 0])

    @torch.inference_mode()
    def score(self, batch: torch.Tensor) -> torch.Tensor:
        return self._probabilities(self.network(batch.to(self.device)).float()).cpu()


class CNNDetection(_PublishedDetector):
    """Wang et al. 2020: a ResNet-50 trained on ProGAN images with blur/JPEG augmentation."""

    def __init__(
        self, state: Mapping[str, torch.Tensor] | None = None, sha256: str | None = None, device: torch.device | None = None
    ) -> None:
        self.resnet = ResNet50(num_classes=1)
        if state is not None:
            load_strict(self.resnet, state, "CNNDetection")
        self.network = nn.Sequential(_Normalise(IMAGENET_MEAN, IMAGENET_STD), self.resnet)
        self.card = ModelCard(
            name="cnndetection",
            version="blur_jpg_prob0.5",
            task=Task.IMAGE,
            input_size=(224, 224),
            weights_sha256=sha256,
            licence="CC BY-NC-SA 4.0 (weights; research use)",
            citation="Wang, Wang, Zhang, Owens, Efros. CNN-generated images are surprisingly easy to spot... for now. CVPR 2020",
            description="ResNet-50 trained on ProGAN/LSUN; sigmoid of one logit is P(synthetic)",
        )
        self._setup(device)


class UnivFD(_PublishedDetector):
    """Ojha et al. 2023: nearest-neighbour-like linear probe on frozen CLIP ViT-L/14 features."""

    def __init__(
        self,
        head: Mapping[str, torch.Tensor] | None = None,
        backbone: Mapping[str, torch.Tensor] | None = None,
        sha256: str | None = None,
        device: torch.device | None = None,
        vit: VisionTransformer | None = None,
    ) -> None:
        self.vit = vit or VisionTransformer()
        if backbone is not None:
            load_strict(self.vit, backbone, "CLIP image tower")
        self.fc = nn.Linear(self.vit.proj.shape[1], 1)
        if head is not None:
            load_strict(self.fc, head, "UnivFD head")
        self.network = nn.Sequential(_Normalise(CLIP_MEAN, CLIP_STD), self.vit, self.fc)
        self.card = ModelCard(
            name="univfd",
            version="clip-vit-l14",
            task=Task.IMAGE,
            input_size=(224, 224),
            weights_sha256=sha256,
            licence="head: no licence file published; CLIP weights: MIT",
            citation="Ojha, Li, Lee. Towards Universal Fake Image Detectors that Generalize Across Generative Models. CVPR 2023",
            description="linear head on CLIP ViT-L/14 image features; sigmoid is P(synthetic)",
        )
        self._setup(device)


class _SBINet(nn.Module):
    """The authors' wrapper: the published keys carry its `net.` attribute prefix."""

    def __init__(self) -> None:
        super().__init__()
        self.net = EfficientNet("efficientnet-b4", num_classes=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SBI(_PublishedDetector):
    """Shiohara & Yamasaki 2022: EfficientNet-B4 trained on self-blended face images."""

    def __init__(
        self, state: Mapping[str, torch.Tensor] | None = None, sha256: str | None = None, device: torch.device | None = None
    ) -> None:
        self.network = _SBINet()
        if state is not None:
            load_strict(self.network, state, "SBI")
        self.card = ModelCard(
            name="sbi",
            version="ffraw",
            task=Task.FACE,
            input_size=(380, 380),
            weights_sha256=sha256,
            licence="research use (see the SBI repository)",
            citation="Shiohara, Yamasaki. Detecting Deepfakes with Self-Blended Images. CVPR 2022",
            description="EfficientNet-B4 on 380x380 face crops in [0, 1]; softmax[1] is P(fake)",
        )
        self._setup(device)

    def _probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(outputs, dim=1)[:, 1]


def load_cnndetection(path: Path, device: torch.device | None = None) -> CNNDetection:
    return CNNDetection(state_dict_from(read_checkpoint(path)), sha256_file(path), device)


def load_sbi(path: Path, device: torch.device | None = None) -> SBI:
    return SBI(state_dict_from(read_checkpoint(path)), sha256_file(path), device)


def clip_visual_state(checkpoint: Mapping[str, object]) -> dict[str, torch.Tensor]:
    """The image tower's keys from a full CLIP state dict (`visual.*`), or a bare tower's."""
    state = state_dict_from(checkpoint)
    visual = {k.removeprefix("visual."): v for k, v in state.items() if k.startswith("visual.")}
    return visual or state


def univfd_head_state(checkpoint: Mapping[str, object]) -> dict[str, torch.Tensor]:
    """The head's weight and bias, whether saved bare or as the `fc.` of the full model."""
    state = state_dict_from(checkpoint)
    return {k.removeprefix("fc."): v for k, v in state.items() if k.removeprefix("fc.") in ("weight", "bias")}


def load_univfd(head_path: Path, backbone_path: Path, device: torch.device | None = None) -> UnivFD:
    head = univfd_head_state(read_checkpoint(head_path))
    backbone = clip_visual_state(read_checkpoint(backbone_path))
    # One identity for the pair: the head alone says nothing about the features it reads.
    combined = hashlib.sha256((sha256_file(head_path) + sha256_file(backbone_path)).encode()).hexdigest()
    return UnivFD(head, backbone, combined, device)
