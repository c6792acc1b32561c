"""MesoNet (Afchar et al. 2018): Meso4 and MesoInception4, loading the published Keras weights.

The published HDF5 files hold weights only. Keras layouts differ from
PyTorch's: conv kernels are (kh, kw, in, out), dense kernels (in, out), batch
norm uses eps 1e-3, and Flatten reads NHWC, so the feature map is permuted to
channels-last before the first dense layer. The networks output a sigmoid where
1 means *real*; `score` returns 1 - that, the probability of a manipulated face.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from detect.base import ModelCard, Task
from detect.errors import DetectError

INPUT_SIZE = (256, 256)
KERAS_BN_EPS = 1e-3
CITATION = "Afchar, Nozick, Yamagishi, Echizen. MesoNet: a Compact Facial Video Forgery Detection Network. IEEE WIFS 2018. arXiv:1809.00888"


class MesoWeightsError(DetectError):
    """A MesoNet weights file is missing, unreadable, or has the wrong layout."""


def _conv(cin: int, cout: int, k: int, dilation: int = 1) -> nn.Conv2d:
    # Keras "same" padding at stride 1 is symmetric for odd kernels.
    return nn.Conv2d(cin, cout, k, padding=dilation * (k // 2), dilation=dilation)


class _Head(nn.Module):
    """Flatten (NHWC, as Keras) -> Dense(16) -> LeakyReLU(0.1) -> Dense(1)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.dense1 = nn.Linear(features, 16)
        self.dense2 = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1).flatten(1)
        return self.dense2(F.leaky_relu(self.dense1(x), 0.1)).squeeze(1)


class Meso4(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList([_conv(3, 8, 3), _conv(8, 8, 5), _conv(8, 16, 5), _conv(16, 16, 5)])
        self.norms = nn.ModuleList([nn.BatchNorm2d(c, eps=KERAS_BN_EPS) for c in (8, 8, 16, 16)])
        self.head = _Head(8 * 8 * 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits; sigmoid(logit) is the probability the face is real."""
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            x = F.max_pool2d(norm(F.relu(conv(x))), 4 if i == 3 else 2)
        return self.head(x)


class _Inception(nn.Module):
    """Four branches: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 dilated 2; 1x1 -> 3x3 dilated 3."""

    def __init__(self, cin: int, a: int, b: int, c: int, d: int) -> None:
        super().__init__()
        self.b1 = _conv(cin, a, 1)
        self.b2 = nn.ModuleList([_conv(cin, b, 1), _conv(b, b, 3)])
        self.b3 = nn.ModuleList([_conv(cin, c, 1), _conv(c, c, 3, dilation=2)])
        self.b4 = nn.ModuleList([_conv(cin, d, 1), _conv(d, d, 3, dilation=3)])

    def convs(self) -> list[nn.Conv2d]:
        """In the order Keras created them (the order of the weights in the file)."""
        return [self.b1, *self.b2, *self.b3, *self.b4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [F.relu(self.b1(x))]
        for first, second in (self.b2, self.b3, self.b4):
            branches.append(F.relu(second(F.relu(first(x)))))
        return torch.cat(branches, dim=1)


class MesoInception4(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inc1 = _Inception(3, 1, 4, 4, 2)
        self.inc2 = _Inception(11, 2, 4, 4, 2)
        self.conv3 = _conv(12, 16, 5)
        self.conv4 = _conv(16, 16, 5)
        self.norms = nn.ModuleList([nn.BatchNorm2d(c, eps=KERAS_BN_EPS) for c in (11, 12, 16, 16)])
        self.head = _Head(8 * 8 * 16)

    def convs(self) -> list[nn.Conv2d]:
        return [*self.inc1.convs(), *self.inc2.convs(), self.conv3, self.conv4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits; sigmoid(logit) is the probability the face is real."""
        x = F.max_pool2d(self.norms[0](self.inc1(x)), 2)
        x = F.max_pool2d(self.norms[1](self.inc2(x)), 2)
        x = F.max_pool2d(self.norms[2](F.relu(self.conv3(x))), 2)
        x = F.max_pool2d(self.norms[3](F.relu(self.conv4(x))), 4)
        return self.head(x)


def _layers(h5: h5py.File, kind: str) -> list[dict[str, np.ndarray]]:
    """Weights of every layer of one kind ("conv2d", "dense", ...), in creation order.

    Keras numbers layers per session (a file may start at conv2d_5), so the
    numeric suffix gives the order, not the position.
    """
    pattern = re.compile(rf"^{kind}_(\d+)$")
    found = []
    for name in h5.keys():
        match = pattern.match(name)
        if match:
            group = h5[name]
            arrays = {}
            for weight_name in group.attrs["weight_names"]:
                path = weight_name.decode() if isinstance(weight_name, bytes) else weight_name
                arrays[path.split("/")[-1].split(":")[0]] = np.asarray(group[path])
            found.append((int(match.group(1)), arrays))
    return [arrays for _, arrays in sorted(found, key=lambda item: item[0])]


def _copy(param: torch.Tensor | torch.nn.Module, value: np.ndarray, what: str) -> None:
    if not isinstance(param, torch.Tensor):  # a layer's weight or buffer, which torch types loosely
        raise TypeError(f"{what}: not a tensor")
    tensor = torch.from_numpy(np.ascontiguousarray(value)).float()
    if tensor.shape != param.shape:
        raise MesoWeightsError(f"{what}: expected shape {tuple(param.shape)}, file has {tuple(tensor.shape)}")
    with torch.no_grad():
        param.copy_(tensor)


def load_keras_weights(model: Meso4 | MesoInception4, path: Path) -> None:
    """Copy the weights of a published MesoNet .h5 file into `model`."""
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise MesoWeightsError(f"{path}: not a readable HDF5 file ({exc})") from None
    with h5:
        convs, norms, denses = _layers(h5, "conv2d"), _layers(h5, "batch_normalization"), _layers(h5, "dense")
        targets = model.convs() if isinstance(model, MesoInception4) else list(model.convs)
        if (len(convs), len(norms), len(denses)) != (len(targets), len(model.norms), 2):
            raise MesoWeightsError(
                f"{path}: layer counts {len(convs)} conv / {len(norms)} batch-norm / {len(denses)} dense "
                f"do not match {type(model).__name__}"
            )
        for i, (conv, arrays) in enumerate(zip(targets, convs)):
            _copy(conv.weight, arrays["kernel"].transpose(3, 2, 0, 1), f"conv {i}")
            _copy(conv.bias, arrays["bias"], f"conv {i} bias")
        for i, (norm, arrays) in enumerate(zip(model.norms, norms)):
            _copy(norm.weight, arrays["gamma"], f"batch norm {i}")
            _copy(norm.bias, arrays["beta"], f"batch norm {i}")
            _copy(norm.running_mean, arrays["moving_mean"], f"batch norm {i}")
            _copy(norm.running_var, arrays["moving_variance"], f"batch norm {i}")
        for dense, arrays in zip((model.head.dense1, model.head.dense2), denses):
            _copy(dense.weight, arrays["kernel"].T, "dense")
            _copy(dense.bias, arrays["bias"], "dense bias")


def _variant(path: Path) -> str:
    with h5py.File(path, "r") as h5:
        return "mesoinception4" if any(k.startswith("concatenate") for k in h5.keys()) else "meso4"


class MesoNetDetector:
    """A loaded MesoNet; `score` gives P(manipulated) for 256x256 face crops."""

    def __init__(self, path: Path, name: str | None = None, device: torch.device | None = None) -> None:
        path = Path(path)
        if not path.is_file():
            raise MesoWeightsError(f"{path}: no such weights file")
        try:
            variant = _variant(path)
        except OSError as exc:
            raise MesoWeightsError(f"{path}: not a readable HDF5 file ({exc})") from None
        self.model = MesoInception4() if variant == "mesoinception4" else Meso4()
        load_keras_weights(self.model, path)
        self.device = device or torch.device("cpu")
        self.model.to(self.device).eval()
        trained_on = "DF" if "_DF" in path.name else ("F2F" if "F2F" in path.name else "unknown")
        self.card = ModelCard(
            name=name or f"{variant}-{trained_on.lower()}",
            version="1.0",
            task=Task.FACE,
            input_size=INPUT_SIZE,
            weights_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            licence="Apache-2.0",
            citation=CITATION,
            description=f"{variant} trained on FaceForensics {trained_on} face crops; input 256x256 RGB in [0, 1]",
        )

    def to(self, device: torch.device) -> "MesoNetDetector":
        self.device = device
        self.model.to(device)
        return self

    @torch.inference_mode()
    def score(self, batch: torch.Tensor) -> torch.Tensor:
        logits = self.model(batch.to(self.device, torch.float32))
        return (1.0 - torch.sigmoid(logits)).float().cpu()
