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

from detect.device import intra_op_threads, to_device
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


def _nhwc(pixels: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> a (N, 3, H, W) uint8 view, which is channels_last memory already."""
    return torch.from_numpy(pixels).permute(0, 3, 1, 2)


def _integral(pixels: np.ndarray) -> torch.Tensor:
    """(3, H+1, W+1) summed-area table of an (H, W, 3) uint8 image, zero first row and column.

    Channel-first, int32 whenever no sum can reach 2**31 (below 8.4 Mpx; the face search
    reads at most 1280 px long), int64 beyond. Both are exact, so the windows are the same
    numbers either way; int32 summed straight from the uint8 view into the table, with no
    widened copy or zero-filled table first, built the 32 corpus stills' tables in 0.10 s instead of
    0.35 s (1 thread).
    """
    height, width = pixels.shape[:2]
    dtype = _table_dtype(height, width)
    table = torch.empty((3, height + 1, width + 1), dtype=dtype)
    table[:, 0, :] = 0
    table[:, :, 0] = 0
    inner = table[:, 1:, 1:]
    torch.cumsum(torch.from_numpy(pixels).permute(2, 0, 1), 1, dtype=dtype, out=inner)
    torch.cumsum(inner, 2, out=inner)
    return table


def _table_dtype(height: int, width: int) -> torch.dtype:
    """The narrowest integer type that holds the sum of every uint8 value of an image this size."""
    return torch.int32 if 255 * height * width <= torch.iinfo(torch.int32).max else torch.int64


def _bins(start: np.ndarray, length: np.ndarray, size: int, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adaptive-average-pool bins of windows [start, start + length) into `size` cells.

    Bin a spans [floor(a L / S), ceil((a + 1) L / S)) of the window, as in
    torch's adaptive_avg_pool2d. Returns the bins' first and end coordinates
    in the image, clipped to [0, limit], and each bin's unclipped length.
    """
    a = np.arange(size)
    lo = (a[None] * length[:, None]) // size
    hi = ((a[None] + 1) * length[:, None] + size - 1) // size
    first = np.clip(start[:, None] + lo, 0, limit)
    end = np.clip(start[:, None] + hi, 0, limit)
    return first, end, hi - lo


_GATHER_CHUNK = 512


def _windows_by_table(
    pixels: np.ndarray, x1: np.ndarray, y1: np.ndarray, bw: np.ndarray, bh: np.ndarray, size: int, region: tuple[int, int, int, int]
) -> torch.Tensor:
    """All windows at once from a summed-area table of the rectangle the boxes cover."""
    left, top, right, bottom = region
    table = _integral(pixels[top:bottom, left:right])
    xs, xe, xn = _bins(x1 - left, bw, size, right - left)
    ys, ye, yn = _bins(y1 - top, bh, size, bottom - top)
    flat = table.reshape(3, -1)
    stride = right - left + 1
    out = torch.empty((len(x1), 3, size, size))
    # Gather the four corners of every bin from the flattened planes, (3, n, S, S) each, in
    # chunks so a crowded image's thousands of candidates stay within a few tens of MB.
    for i in range(0, len(x1), _GATHER_CHUNK):
        part = slice(i, i + _GATHER_CHUNK)
        row_s, row_e = torch.from_numpy(ys[part] * stride)[:, :, None], torch.from_numpy(ye[part] * stride)[:, :, None]
        col_s, col_e = torch.from_numpy(xs[part])[:, None, :], torch.from_numpy(xe[part])[:, None, :]
        sums = flat[:, row_e + col_e] - flat[:, row_s + col_e] - flat[:, row_e + col_s] + flat[:, row_s + col_s]
        areas = torch.from_numpy(yn[part, :, None] * xn[part, None, :]).float()
        out[part] = (sums.float() / areas).permute(1, 0, 2, 3)
    return out


def _windows_one_by_one(pixels: np.ndarray, x1: np.ndarray, y1: np.ndarray, bw: np.ndarray, bh: np.ndarray, size: int) -> torch.Tensor:
    """Each window zero-padded and area-resized on its own: cheaper than a table for a few boxes."""
    height, width = pixels.shape[:2]
    out = torch.empty((len(x1), 3, size, size))
    for i, (x, y, w, h) in enumerate(zip(x1.tolist(), y1.tolist(), bw.tolist(), bh.tolist())):
        window = torch.zeros((h, w, 3))
        sx1, sy1, sx2, sy2 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        if sx2 > sx1 and sy2 > sy1:
            window[sy1 - y : sy2 - y, sx1 - x : sx2 - x] = torch.from_numpy(pixels[sy1:sy2, sx1:sx2])
        out[i] = F.adaptive_avg_pool2d(window.permute(2, 0, 1), size)
    return out.contiguous(memory_format=torch.channels_last)


# Building the table costs about as much per covered pixel as one window costs
# per this many pixels of the region: above that many boxes per pixel the
# table wins (R-Net's hundreds of candidates), below it the loop (O-Net's few).
_PIXELS_PER_WINDOW = 8000


def _crop_windows(pixels: np.ndarray, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Cut each box out of an (H, W, 3) uint8 image, zero outside the frame, area-resized: (N, 3, S, S) float.

    Exactly the original implementation's numbers (zero-pad each window, then
    `F.interpolate(mode="area")`, i.e. adaptive average pooling), computed for
    many boxes at once from a summed-area table when that is cheaper.
    """
    height, width = pixels.shape[:2]
    corners = boxes.round().long().numpy()
    x1, y1 = corners[:, 0], corners[:, 1]
    bw, bh = np.maximum(corners[:, 2] - x1, 1), np.maximum(corners[:, 3] - y1, 1)
    left, top = int(np.clip(x1.min(), 0, width)), int(np.clip(y1.min(), 0, height))
    right, bottom = int(np.clip((x1 + bw).max(), left, width)), int(np.clip((y1 + bh).max(), top, height))
    if len(boxes) * _PIXELS_PER_WINDOW >= (right - left) * (bottom - top):
        windows = _windows_by_table(pixels, x1, y1, bw, bh, size, (left, top, right, bottom))
    else:
        windows = _windows_one_by_one(pixels, x1, y1, bw, bh, size)
    # A box that rounds to no width or height was cut as an all-zero window (the original did so too).
    empty = torch.from_numpy((corners[:, 2] <= x1) | (corners[:, 3] <= y1))
    if bool(empty.any()):
        windows = windows.clone()
        windows[empty] = 0.0
    return windows


class MTCNN:
    """The cascade with its three networks, on one device.

    The networks run in channels_last layout (on the CPU its max-pool and
    small-convolution kernels are several times faster than NCHW's), take
    uint8 pixels to the device (through pinned memory with a non-blocking copy
    on CUDA) and normalise there, and stay in fp32: the stage thresholds were
    set for fp32 scores.
    """

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
            net.to(self.device, memory_format=torch.channels_last).eval()  # type: ignore[call-overload]  # torch's stubs omit memory_format
        # One hash over the three files in order: the detector's identity in reports.
        self.weights_sha256 = digest.hexdigest()

    def _input(self, pixels: torch.Tensor) -> torch.Tensor:
        """A (N, 3, H, W) uint8-valued CPU batch -> normalised float on the device, channels_last."""
        return _normalise(to_device(pixels, self.device).float())

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
            size = (int(width * scale + 1), int(height * scale + 1))
            # PIL's box filter is an area resize like the original's, about 4x faster than torch's on
            # the CPU. Each level is resized from the full picture: resizing from the previous level
            # instead saves ~10 % of MTCNN's time but moves boxes and flips marginal faces (measured
            # on the corpus), because the cascade's thresholds react to small pixel changes.
            level = picture.resize(size, Image.Resampling.BOX)
            offsets, prob = self.pnet(self._input(_nhwc(np.array(level)[None])))
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

    def _refine(self, pixels: np.ndarray, boxes: torch.Tensor) -> torch.Tensor:
        """Stage 2: R-Net keeps and tightens the likely faces."""
        offsets, prob = self.rnet(self._input(_crop_windows(pixels, boxes[:, :4], 24)))
        offsets, prob = offsets.cpu(), prob.cpu()
        passed = prob > self.thresholds[1]
        boxes, offsets, prob = boxes[passed, :4], offsets[passed], prob[passed]
        keep = nms(boxes, prob, 0.7)
        refined = _square(_regress(boxes[keep], offsets[keep]))
        return torch.cat([refined, prob[keep, None]], dim=1)

    def _output(self, pixels: np.ndarray, boxes: torch.Tensor) -> Detections:
        """Stage 3: O-Net gives final boxes, scores and landmarks."""
        offsets, points, prob = self.onet(self._input(_crop_windows(pixels, boxes[:, :4], 48)))
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

    def detect(self, pixels: np.ndarray | Image.Image, min_face: int | None = None) -> Detections:
        """Faces at least `min_face` pixels tall in an (H, W, 3) uint8 RGB array (or an RGB PIL image)."""
        if self.device.type != "cpu":
            return self._detect(pixels, min_face)
        # The cascade's ops are small (pyramid levels, batches of 24 and 48 px windows): one thread
        # each, never waiting for a second one (see intra_op_threads).
        with intra_op_threads(1):
            return self._detect(pixels, min_face)

    @torch.inference_mode()
    def _detect(self, pixels: np.ndarray | Image.Image, min_face: int | None) -> Detections:
        if isinstance(pixels, Image.Image):
            picture = pixels if pixels.mode == "RGB" else pixels.convert("RGB")
        else:
            if pixels.ndim != 3 or pixels.shape[2] != 3:
                raise ValueError(f"expected an (H, W, 3) RGB array, got shape {pixels.shape}")
            picture = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
        boxes = self._proposals(picture, min_face or self.min_face)
        if not len(boxes):
            return _empty()
        pixels = np.array(picture)  # writable, so torch can view it without a warning
        boxes = self._refine(pixels, boxes)
        if not len(boxes):
            return _empty()
        return self._output(pixels, boxes)
