"""CycleGAN's networks (Zhu et al., 2017): ResNet generator and PatchGAN discriminator, used by lesson 06.

This module holds nn.Modules only (the rule of :mod:`cvlib.models`): the image pool and the
losses (least-squares GAN, Gram-matrix style) and :func:`cvlib.gan.translate` live in the task
module :mod:`cvlib.gan`; the paper's N(0, 0.02) initialisation and ``set_requires_grad`` in
:mod:`cvlib.models.utils`.

- :class:`ResnetGenerator`: an image-to-image network, ``(B, C, H, W)`` in [-1, 1] ->
  ``(B, C, H, W)`` in [-1, 1] (tanh). Encoder (strided convolutions), a stack of
  residual blocks (:class:`ResnetBlock`) at low resolution, decoder (transposed convolutions).
- :class:`PatchDiscriminator`: PatchGAN, one real/fake score per overlapping image patch,
  ``(B, C, H, W)`` -> ``(B, 1, H', W')`` raw scores (no sigmoid: the least-squares GAN loss);
  :func:`patch_size` is the side of the patch one score sees.

The training step itself (adversarial + cycle + identity losses) is written out in
lesson 06, where it is the idea being taught.
All images are float in [-1, 1], the range of the generator's tanh.
"""

from __future__ import annotations

import torch
from torch import nn


def _check_batch(x: torch.Tensor, channels: int, model: str, multiple: int = 1) -> None:
    """Raise a one-line ``ValueError`` unless ``x`` is a float ``(B, channels, H, W)`` batch, H and W multiples of ``multiple``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model} expects a torch.Tensor (B, {channels}, H, W), got {type(x).__name__}.")
    if x.ndim == 3 and x.shape[0] == channels:
        raise ValueError(
            f"{model} expects a batch (B, {channels}, H, W) but got one image {tuple(x.shape)}: add the batch dimension with x.unsqueeze(0)."
        )
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(
            f"{model} expects images of shape (B, {channels}, H, W), got {tuple(x.shape)}: build it with in_channels={x.shape[1] if x.ndim == 4 else '...'}."
        )
    if not x.is_floating_point():
        raise ValueError(
            f"{model} expects float images in [-1, 1], got {x.dtype}: use x.float() / 127.5 - 1 for uint8 images."
        )
    if x.shape[-1] % multiple or x.shape[-2] % multiple:
        raise ValueError(
            f"{model} needs H and W divisible by {multiple}, got {tuple(x.shape[-2:])}: resize or crop the images."
        )


class ResnetBlock(nn.Module):
    """Residual block ``x + F(x)``: reflect-pad, 3x3 conv, instance norm, ReLU, reflect-pad, 3x3 conv, instance norm.

    Keeps the shape ``(B, channels, H, W)``. Reflection padding avoids the dark borders that
    zero padding leaves in generated images.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=False),
            nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=False),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator: c7s1-ngf, ``n_down`` stride-2 downsamplings, ``n_blocks`` residual blocks, mirror upsampling, c7s1-C, tanh.

    Args:
        in_channels / out_channels: image channels (3 for RGB).
        ngf: channels of the first layer; each downsampling doubles them.
        n_blocks: residual blocks at the lowest resolution (the paper: 9 for 256 px, 6 for 128 px).
        n_down: stride-2 downsamplings (the paper: 2); H and W must be divisible by ``2 ** n_down``.

    Input ``(B, in_channels, H, W)`` float (in [-1, 1] by convention); output
    ``(B, out_channels, H, W)`` float in [-1, 1].
    """

    def __init__(
        self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, n_blocks: int = 9, n_down: int = 2
    ) -> None:
        super().__init__()
        if n_blocks < 0 or n_down < 0 or ngf < 1:
            raise ValueError(
                f"ngf must be >= 1 and n_blocks, n_down >= 0, got ngf={ngf}, n_blocks={n_blocks}, n_down={n_down}."
            )
        self.in_channels, self.n_down = in_channels, n_down
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=False),
            nn.InstanceNorm2d(ngf, affine=True),
            nn.ReLU(inplace=True),
        ]
        ch = ngf
        for _ in range(n_down):  # encoder: halve H and W, double the channels
            layers += [
                nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1, bias=False),
                nn.InstanceNorm2d(ch * 2, affine=True),
                nn.ReLU(inplace=True),
            ]
            ch *= 2
        layers += [ResnetBlock(ch) for _ in range(n_blocks)]  # transformer: the translation happens here
        for _ in range(n_down):  # decoder: double H and W, halve the channels
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1, bias=False),
                nn.InstanceNorm2d(ch // 2, affine=True),
                nn.ReLU(inplace=True),
            ]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_batch(x, self.in_channels, "ResnetGenerator", multiple=2**self.n_down)
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator: 4x4 convolutions, LeakyReLU(0.2), instance norm; one score per patch.

    ``n_layers`` stride-2 convolutions (the first without normalisation), then a stride-1
    convolution and a stride-1 convolution to one channel. Each output score sees a square
    input patch of :func:`patch_size` pixels (70 for the paper's ``n_layers=3``).

    Input ``(B, in_channels, H, W)``; output ``(B, 1, H', W')`` raw scores
    (real ~ 1, fake ~ 0 under the least-squares loss).
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        if n_layers < 1 or ndf < 1:
            raise ValueError(f"n_layers and ndf must be >= 1, got n_layers={n_layers}, ndf={ndf}.")
        self.in_channels, self.n_layers = in_channels, n_layers
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        ch = ndf
        for i in range(1, n_layers + 1):
            out = ndf * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [
                nn.Conv2d(ch, out, 4, stride=stride, padding=1, bias=False),
                nn.InstanceNorm2d(out, affine=True),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            ch = out
        layers.append(nn.Conv2d(ch, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_batch(x, self.in_channels, "PatchDiscriminator")
        return self.net(x)


def patch_size(n_layers: int) -> int:
    """Receptive field (pixels) of one :class:`PatchDiscriminator` score: 70 for ``n_layers=3``, 16 for 1.

    ``r = r + (k - 1) * jump`` over the layers (kernel 4; strides 2 x n_layers, then 1, 1).
    """
    strides = [2] * n_layers + [1, 1]
    r, jump = 1, 1
    for s in strides:
        r += 3 * jump
        jump *= s
    return r
