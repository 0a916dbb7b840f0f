"""pix2pix's generator (Isola et al., 2017): a U-Net with skip connections, for lesson 10.

This module holds nn.Modules only (the rule of :mod:`cvlib.models`); the conditional GAN loss, the
L1 term and the training step live in the task module :mod:`cvlib.conditional`. pix2pix's
discriminator is the PatchGAN of lesson 06 (:class:`cvlib.models.cyclegan.PatchDiscriminator`) given the
input and the output image stacked on the channel axis (``in_channels = source + target channels``).

- :class:`UNetGenerator`: ``(B, in_channels, H, W)`` in [-1, 1] -> ``(B, out_channels, H, W)`` in [-1, 1]
  (tanh). ``depth`` encoder blocks (4x4 convolution, stride 2; batch norm except on the first;
  LeakyReLU 0.2) halve the image down to ``H / 2**depth``; as many decoder blocks (4x4 transposed
  convolution, stride 2; batch norm; ReLU; dropout 0.5 in the three innermost) double it back, each
  concatenating the encoder's feature map of the same size (the skips carry the input's fine
  detail straight across, which an encoder-decoder without skips must squeeze through its bottleneck).
  pix2pix uses ``depth = 8`` for 256-px images (a 1 x 1 bottleneck); the dropout is its only noise
  source (it keeps dropout on at test time; here ``eval()`` switches it off, like any PyTorch module).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["UNetGenerator"]


class UNetGenerator(nn.Module):
    """pix2pix U-Net generator (see the module docstring).

    Args:
        in_channels / out_channels: image channels of the source and of the generated image.
        ngf: channels of the first encoder block; block ``i`` has ``ngf * min(2**i, 8)``.
        depth: number of stride-2 blocks, >= 2; the input side must be divisible by ``2**depth``.
        dropout: dropout probability in the three innermost decoder blocks (0 switches it off).

    Raises:
        ValueError: bad sizes; at call time, an input of the wrong shape.
    """

    def __init__(
        self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, depth: int = 8, dropout: float = 0.5
    ) -> None:
        super().__init__()
        if min(in_channels, out_channels, ngf) < 1 or depth < 2 or not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"need channels and ngf >= 1, depth >= 2 and 0 <= dropout < 1, got in_channels={in_channels}, "
                f"out_channels={out_channels}, ngf={ngf}, depth={depth}, dropout={dropout}."
            )
        self.in_channels, self.out_channels, self.depth = in_channels, out_channels, depth
        widths = [ngf * min(2**i, 8) for i in range(depth)]
        self.down = nn.ModuleList()
        cin = in_channels
        for i, w in enumerate(widths):
            layers: list[nn.Module] = [nn.Conv2d(cin, w, 4, stride=2, padding=1, bias=i == 0 or i == depth - 1)]
            if 0 < i < depth - 1:  # no norm on the first block (pix2pix) nor on the 1 x 1 bottleneck
                layers.append(nn.BatchNorm2d(w))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            self.down.append(nn.Sequential(*layers))
            cin = w
        self.up = nn.ModuleList()
        for i in reversed(range(depth - 1)):  # decoder block that outputs the size of encoder block i
            cin_up = widths[i + 1] if i == depth - 2 else 2 * widths[i + 1]
            layers = [
                nn.ConvTranspose2d(cin_up, widths[i], 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(widths[i]),
            ]
            if dropout > 0 and i >= depth - 4:  # the three innermost decoder blocks
                layers.append(nn.Dropout(dropout))
            layers.append(nn.ReLU(inplace=True))
            self.up.append(nn.Sequential(*layers))
        self.out = nn.Sequential(nn.ConvTranspose2d(2 * widths[0], out_channels, 4, stride=2, padding=1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        multiple = 2**self.depth
        if (
            not isinstance(x, torch.Tensor)
            or x.ndim != 4
            or x.shape[1] != self.in_channels
            or x.shape[-1] % multiple
            or x.shape[-2] % multiple
        ):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"UNetGenerator expects (B, {self.in_channels}, H, W) in [-1, 1] with H and W divisible by "
                f"2**depth = {multiple}, got {got}."
            )
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = skips.pop()  # the bottleneck
        for block in self.up:
            x = torch.cat([block(x), skips.pop()], dim=1)  # the skip: the encoder's map of the same size
        return self.out(x)
