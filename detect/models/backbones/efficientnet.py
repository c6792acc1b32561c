"""EfficientNet (Tan & Le 2019) with the parameter names of the `efficientnet_pytorch` package.

Only what loading published checkpoints needs: the B0-B7 compound scaling, TF
"SAME" padding, swish, squeeze-and-excitation, batch norm with eps 1e-3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride, expand ratio, in, out) of the B0 stages; SE ratio 0.25 everywhere.
_B0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# name: (width multiplier, depth multiplier, resolution, dropout)
SCALING = {
    "efficientnet-b0": (1.0, 1.0, 224, 0.2),
    "efficientnet-b1": (1.0, 1.1, 240, 0.2),
    "efficientnet-b2": (1.1, 1.2, 260, 0.3),
    "efficientnet-b3": (1.2, 1.4, 300, 0.3),
    "efficientnet-b4": (1.4, 1.8, 380, 0.4),
    "efficientnet-b5": (1.6, 2.2, 456, 0.4),
    "efficientnet-b6": (1.8, 2.6, 528, 0.5),
    "efficientnet-b7": (2.0, 3.1, 600, 0.5),
}
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:  # never round down by more than 10%
        rounded += divisor
    return int(rounded)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding (asymmetric at stride 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s, d in zip(x.shape[-2:], self.kernel_size, self.stride, self.dilation):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


@dataclass(frozen=True)
class BlockArgs:
    kernel: int
    stride: int
    expand: int
    cin: int
    cout: int
    se_ratio: float = 0.25


class MBConvBlock(nn.Module):
    def __init__(self, args: BlockArgs) -> None:
        super().__init__()
        self.args = args
        hidden = args.cin * args.expand
        if args.expand != 1:
            self._expand_conv = SameConv2d(args.cin, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, args.kernel, stride=args.stride, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        squeezed = max(1, int(args.cin * args.se_ratio))
        self._se_reduce = SameConv2d(hidden, squeezed, 1)
        self._se_expand = SameConv2d(squeezed, hidden, 1)
        self._project_conv = SameConv2d(hidden, args.cout, 1, bias=False)
        self._bn2 = _bn(args.cout)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if self.args.expand != 1:
            x = F.silu(self._bn0(self._expand_conv(x)))
        x = F.silu(self._bn1(self._depthwise_conv(x)))
        squeezed = self._se_expand(F.silu(self._se_reduce(F.adaptive_avg_pool2d(x, 1))))
        x = torch.sigmoid(squeezed) * x
        x = self._bn2(self._project_conv(x))
        if self.args.stride == 1 and self.args.cin == self.args.cout:
            x = x + inputs  # drop-connect only matters in training, which this port does not do
        return x


class EfficientNet(nn.Module):
    def __init__(self, variant: str = "efficientnet-b4", num_classes: int = 1000) -> None:
        super().__init__()
        width, depth, self.resolution, dropout = SCALING[variant]
        stem = round_filters(32, width)
        self._conv_stem = SameConv2d(3, stem, 3, stride=2, bias=False)
        self._bn0 = _bn(stem)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in _B0_STAGES:
            cin, cout = round_filters(cin, width), round_filters(cout, width)
            for r in range(int(math.ceil(depth * repeats))):
                blocks.append(MBConvBlock(BlockArgs(kernel, stride if r == 0 else 1, expand, cin if r == 0 else cout, cout)))
        self._blocks = nn.ModuleList(blocks)
        head = round_filters(1280, width)
        self._conv_head = SameConv2d(blocks[-1].args.cout, head, 1, bias=False)
        self._bn1 = _bn(head)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(head, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.silu(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.silu(self._bn1(self._conv_head(x)))
        return self._fc(self._dropout(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)))
