"""MTCNN (Zhang et al. 2016): a three-stage cascade that finds faces and five landmarks.

P-Net scans an image pyramid for candidate windows, R-Net rejects most of
them, O-Net refines the survivors and places the landmarks. The network shapes
follow the published state dicts shipped in `detect/weights/mtcnn/`; those
weights were converted from the original Caffe models, whose dense layers read
their input in (width, height, channel) order, hence the permutes below.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from detect.faces.nms import nms

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights" / "mtcnn"


class PNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, 3)
        self.prelu1 = nn.PReLU(10)
        self.conv2 = nn.Conv2d(10, 16, 3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, 3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)  # face / not-face logits
        self.conv4_2 = nn.Conv2d(32, 4, 1)  # box regression

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)[:, 1]


class RNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, 3)
        self.prelu1 = nn.PReLU(28)
        self.conv2 = nn.Conv2d(28, 48, 3)
        self.prelu2 = nn.PReLU(48)
        self.conv3 = nn.Conv2d(48, 64, 2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).flatten(1)))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)[:, 1]


class ONet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3)
        self.prelu1 = nn.PReLU(32)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.prelu2 = nn.PReLU(64)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.prelu3 = nn.PReLU(64)
        self.conv4 = nn.Conv2d(64, 128, 2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)  # 5 x coordinates, then 5 y coordinates

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).flatten(1)))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)[:, 1]


@dataclass(frozen=True)
class Detections:
    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2 in pixels
    scores: np.ndarray  # (N,)
    landmarks: np.ndarray  # (N, 5, 2) x, y


def _empty() -> Detections:
    return Detections(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, 5, 2), np.float32))


def _normalise(pixels: torch.Tensor) -> torch.Tensor:
    # The networks were trained on (p - 127.5) / 128.
    return (pixels - 127.5) * 0.0078125


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Grow each box to a square around its centre (R- and O-Net take square windows)."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    cx = boxes[:, 0] + w / 2
    cy = boxes[:, 1] + h / 2
    return torch.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], dim=1)


def _regress(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    w = (boxes[:, 2] - boxes[:, 0]).unsqueeze(1)
    h = (boxes[:, 3] - boxes[:, 1]).unsqueeze(1)
    return boxes + offsets * torch.cat([w, h, w, h], dim=1)


def _crop_windows(image: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Cut each box out of `image` (3, H, W), zero outside the frame, resized to size x size."""
    _, height, width = image.shape
    out = torch.empty((len(boxes), 3, size, size), dtype=image.dtype)
    for i, (x1, y1, x2, y2) in enumerate(boxes.round().long().tolist()):
        bw, bh = max(x2 - x1, 1), max(y2 - y1, 1)
        window = torch.zeros((3, bh, bw), dtype=image.dtype)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
        if sx2 > sx1 and sy2 > sy1:
            window[:, sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[:, sy1:sy2, sx1:sx2]
        out[i] = F.interpolate(window.unsqueeze(0), size=(size, size), mode="area")[0]
    return out


class MTCNN:
    """The cascade with its three networks, on one device."""

    def __init__(
        self,
        weights_dir: Path = WEIGHTS_DIR,
        device: torch.device | None = None,
        min_face: int = 20,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        pyramid_factor: float = 0.709,
    ) -> None:
        self.device = device or torch.device("cpu")
        self.min_face = min_face
        self.thresholds = thresholds
        self.pyramid_factor = pyramid_factor
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()
        digest = hashlib.sha256()
        for name, net in (("pnet", self.pnet), ("rnet", self.rnet), ("onet", self.onet)):
            path = weights_dir / f"{name}.pt"
            digest.update(path.read_bytes())
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            net.to(self.device).eval()
        # One hash over the three files in order: the detector's identity in reports.
        self.weights_sha256 = digest.hexdigest()

    def _scales(self, height: int, width: int, min_face: int) -> list[float]:
        scale = 12.0 / min_face
        side = min(height, width) * scale
        scales = []
        while side >= 12:
            scales.append(scale)
            scale *= self.pyramid_factor
            side *= self.pyramid_factor
        return scales

    def _proposals(self, picture: Image.Image, min_face: int) -> torch.Tensor:
        """Stage 1: (N, 5) candidate boxes with scores from the image pyramid."""
        width, height = picture.size
        found = []
        for scale in self._scales(height, width, min_face):
            # PIL's box filter is an area resize like the original's, about 4x faster than torch's on the CPU.
            level = picture.resize((int(width * scale + 1), int(height * scale + 1)), Image.Resampling.BOX)
            resized = torch.from_numpy(np.array(level, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
            offsets, prob = self.pnet(_normalise(resized).to(self.device))
            prob, offsets = prob[0].cpu(), offsets[0].cpu()
            ys, xs = torch.nonzero(prob >= self.thresholds[0], as_tuple=True)
            if len(ys) == 0:
                continue
            # Each P-Net output cell sees a 12x12 window at stride 2 of the scaled image.
            cells = torch.stack([xs, ys, xs, ys], dim=1).float() * 2
            boxes = (cells + torch.tensor([0.0, 0.0, 12.0, 12.0])) / scale
            boxes = _regress(boxes, offsets[:, ys, xs].T)
            scores = prob[ys, xs]
            keep = nms(boxes, scores, 0.5)
            found.append(torch.cat([boxes[keep], scores[keep, None]], dim=1))
        if not found:
            return torch.zeros((0, 5))
        candidates = torch.cat(found)
        candidates = candidates[nms(candidates[:, :4], candidates[:, 4], 0.7)]
        return torch.cat([_square(candidates[:, :4]), candidates[:, 4:]], dim=1)

    def _refine(self, image: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Stage 2: R-Net keeps and tightens the likely faces."""
        offsets, prob = self.rnet(_normalise(_crop_windows(image, boxes[:, :4], 24)).to(self.device))
        offsets, prob = offsets.cpu(), prob.cpu()
        passed = prob > self.thresholds[1]
        boxes, offsets, prob = boxes[passed, :4], offsets[passed], prob[passed]
        keep = nms(boxes, prob, 0.7)
        refined = _square(_regress(boxes[keep], offsets[keep]))
        return torch.cat([refined, prob[keep, None]], dim=1)

    def _output(self, image: torch.Tensor, boxes: torch.Tensor) -> Detections:
        """Stage 3: O-Net gives final boxes, scores and landmarks."""
        offsets, points, prob = self.onet(_normalise(_crop_windows(image, boxes[:, :4], 48)).to(self.device))
        offsets, points, prob = offsets.cpu(), points.cpu(), prob.cpu()
        passed = prob > self.thresholds[2]
        boxes, offsets, points, prob = boxes[passed, :4], offsets[passed], points[passed], prob[passed]
        w = (boxes[:, 2] - boxes[:, 0]).unsqueeze(1)
        h = (boxes[:, 3] - boxes[:, 1]).unsqueeze(1)
        xs = boxes[:, 0:1] + w * points[:, :5]
        ys = boxes[:, 1:2] + h * points[:, 5:]
        landmarks = torch.stack([xs, ys], dim=2)
        boxes = _regress(boxes, offsets)
        keep = nms(boxes, prob, 0.7, mode="min")
        return Detections(boxes[keep].numpy(), prob[keep].numpy(), landmarks[keep].numpy())

    @torch.inference_mode()
    def detect(self, pixels: np.ndarray, min_face: int | None = None) -> Detections:
        """Faces at least `min_face` pixels tall in an (H, W, 3) uint8 RGB array."""
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB array, got shape {pixels.shape}")
        picture = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
        image = torch.from_numpy(np.array(pixels, dtype=np.uint8)).permute(2, 0, 1).float()
        boxes = self._proposals(picture, min_face or self.min_face)
        if len(boxes):
            boxes = self._refine(image, boxes)
        if not len(boxes):
            return _empty()
        return self._output(image, boxes)
