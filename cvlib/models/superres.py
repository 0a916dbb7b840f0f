"""A small super-resolution network for lesson 10: residual blocks and sub-pixel (PixelShuffle) upsampling.

:class:`SRNet` follows SRResNet (Ledig et al., 2017) at a small size: a 3x3 convolution, ``blocks``
residual blocks at the low resolution (where the computation is cheap), then ``log2(scale)`` steps of
"convolution to 4x the channels + ``PixelShuffle(2)``" (Shi et al., 2016: the convolution learns the
sub-pixel values, the shuffle rearranges them into a 2x larger map). It predicts the **difference** to
the bicubic upsampling of its input and adds it (global residual learning, as in VDSR), so an untrained
network starts at the bicubic baseline rather than at noise.

Input ``(B, 3, h, w)`` in [0, 1] -> output ``(B, 3, scale * h, scale * w)`` (not clamped: clamp to [0, 1] to view).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SRNet"]


class _Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRNet(nn.Module):
    """Super-resolution by ``scale`` (2, 4 or 8). See the module docstring.

    Args:
        scale: the upsampling factor, a power of 2.
        channels: width of the feature maps; blocks: residual blocks at the input resolution.

    Raises:
        ValueError: a scale that is not 2, 4 or 8, or non-positive sizes; at call time, a bad input.
    """

    def __init__(self, scale: int = 4, channels: int = 32, blocks: int = 4) -> None:
        super().__init__()
        if scale not in (2, 4, 8) or channels < 1 or blocks < 0:
            raise ValueError(f"need scale in (2, 4, 8), channels >= 1, blocks >= 0; got {scale}, {channels}, {blocks}.")
        self.scale = scale
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.body = nn.Sequential(*[_Residual(channels) for _ in range(blocks)])
        ups: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            ups += [nn.Conv2d(channels, 4 * channels, 3, padding=1), nn.PixelShuffle(2), nn.ReLU(inplace=True)]
        self.up = nn.Sequential(*ups)
        self.tail = nn.Conv2d(channels, 3, 3, padding=1, bias=False)
        nn.init.zeros_(self.tail.weight)  # start exactly at the bicubic baseline

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3 or not x.is_floating_point():
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"SRNet expects float RGB images (B, 3, h, w) in [0, 1], got {got}.")
        features = self.head(x)
        residual = self.tail(self.up(features + self.body(features)))
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + residual
