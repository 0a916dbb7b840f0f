"""U-Net segmentation networks (lesson 08): from scratch, or on the offline ImageNet EfficientNet-Lite0.

- :class:`UNet`: the classic encoder-decoder with skip connections (Ronneberger et al., 2015),
  CPU-sized: two 3x3 conv + BN + ReLU per level, max pooling down, bilinear or transposed-conv
  upsampling, optionally an :class:`ASPP` block (DeepLab's atrous spatial pyramid pooling) at
  the bottleneck.
- :class:`EfficientNetUNet`: the same decoder on EfficientNet-Lite0's stride-4/8/16 stages
  (:class:`cvlib.models.maskrcnn.EfficientNetLite0Features`); built by
  :func:`unet_efficientnet_lite0` with the ImageNet weights (``pretrained=True``) or the same
  architecture randomly initialised (``pretrained=False``), for the pretrained-vs-scratch comparison.

All networks take ``(B, 3, H, W)`` float images in [0, 1] (any normalisation is inside) and
return per-pixel class logits ``(B, num_classes, H, W)``. Modules and builders only; losses and
metrics live in :mod:`cvlib.segmentation`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cvlib.models.efficientnet_lite import EfficientNetLite0
from cvlib.models.maskrcnn import EfficientNetLite0Features
from cvlib.models.pretrained import Normalize, load_pretrained
from cvlib.validate import check_images

UPSAMPLE_MODES = ("bilinear", "transposed")


def _conv_bn_relu(cin: int, cout: int, dilation: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions (same padding) with batch norm and ReLU: ``(B, cin, H, W) -> (B, cout, H, W)``."""

    def __init__(self, cin: int, cout: int, dilation: int = 1) -> None:
        super().__init__(*_conv_bn_relu(cin, cout, dilation), *_conv_bn_relu(cout, cout, dilation))


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (Chen et al., DeepLab v3): parallel 3x3 convolutions with
    dilation ``rates``, a 1x1 convolution and image-level pooling, concatenated and projected.

    ``(B, cin, H, W) -> (B, cout, H, W)``. A 3x3 convolution with dilation r covers
    ``2r + 1`` pixels with 9 weights: the receptive field grows without pooling.
    """

    def __init__(self, cin: int, cout: int, rates: Sequence[int] = (1, 2, 3)) -> None:
        super().__init__()
        if not rates or any(r < 1 for r in rates):
            raise ValueError(f"ASPP rates must be positive integers, got {tuple(rates)}.")
        self.branches = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())]
            + [nn.Sequential(*_conv_bn_relu(cin, cout, r)) for r in rates]
        )
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1), nn.ReLU())
        self.project = nn.Sequential(
            nn.Conv2d(cout * (len(rates) + 2), cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(x).expand(-1, -1, *x.shape[-2:])
        return self.project(torch.cat([b(x) for b in self.branches] + [pooled], dim=1))


class Up(nn.Module):
    """Upsample ``x`` to the size of ``skip``, concatenate, then :class:`DoubleConv`.

    ``mode="bilinear"``: bilinear interpolation (no weights); ``"transposed"``: a learned 2x2
    transposed convolution with stride 2 (the layer that can draw checkerboard artefacts when
    its kernel size is not a multiple of its stride; 2x2 / stride 2 is, 3x3 / stride 2 is not).
    """

    def __init__(self, cin: int, cskip: int, cout: int, mode: str = "bilinear") -> None:
        super().__init__()
        if mode not in UPSAMPLE_MODES:
            raise ValueError(f"upsample mode must be one of {UPSAMPLE_MODES}, got {mode!r}.")
        self.mode = mode
        self.up = nn.ConvTranspose2d(cin, cin, 2, stride=2) if mode == "transposed" else None
        self.conv = DoubleConv(cin + cskip, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        if self.up is not None:
            x = self.up(x)
        if x.shape[-2:] != skip.shape[-2:]:
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


def _check_input(x: torch.Tensor, multiple: int, what: str) -> None:
    # shape and dtype only: no pass over the values in a training step's forward
    check_images(x, channels=3, finite=False, what=f"the images given to {what}")
    if x.shape[-2] % multiple or x.shape[-1] % multiple:
        raise ValueError(f"{what} needs H and W divisible by {multiple}, got {tuple(x.shape[-2:])}: pad or resize.")


class UNet(nn.Module):
    """A from-scratch U-Net: ``(B, 3, H, W)`` in [0, 1] -> logits ``(B, num_classes, H, W)``.

    Args:
        num_classes: output classes C >= 1.
        widths: channels per level; ``len(widths) - 1`` poolings, so H and W must be divisible
            by ``2 ** (len(widths) - 1)``.
        upsample: ``"bilinear"`` or ``"transposed"`` (see :class:`Up`).
        aspp_rates: if given, an :class:`ASPP` with these dilation rates follows the bottleneck.
    """

    def __init__(
        self,
        num_classes: int,
        widths: Sequence[int] = (16, 32, 64, 128),
        upsample: str = "bilinear",
        aspp_rates: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if num_classes < 1 or len(widths) < 2:
            raise ValueError(f"need num_classes >= 1 and at least 2 widths, got {num_classes} and {tuple(widths)}.")
        self.multiple = 2 ** (len(widths) - 1)
        self.down = nn.ModuleList([DoubleConv(3 if i == 0 else widths[i - 1], w) for i, w in enumerate(widths)])
        self.aspp = ASPP(widths[-1], widths[-1], aspp_rates) if aspp_rates else None
        self.up = nn.ModuleList(
            [Up(widths[i + 1], widths[i], widths[i], upsample) for i in reversed(range(len(widths) - 1))]
        )
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.multiple, "UNet")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        if self.aspp is not None:
            x = self.aspp(x)
        for up, skip in zip(self.up, reversed(skips[:-1])):
            x = up(x, skip)
        return self.classifier(x)


class EfficientNetUNet(nn.Module):
    """A U-Net decoder on EfficientNet-Lite0's stride-4, 8 and 16 stages.

    ``(B, 3, H, W)`` in [0, 1] (H, W divisible by 16) -> logits ``(B, num_classes, H, W)``.
    The decoder climbs 16 -> 8 -> 4 with :class:`Up`, then to full resolution, where a
    skip from a small convolution on the image itself restores sharp boundaries.
    """

    def __init__(
        self,
        net: nn.Module,
        num_classes: int,
        decoder: Sequence[int] = (64, 32, 16),
        upsample: str = "bilinear",
        trainable_from: int = 0,
    ) -> None:
        super().__init__()
        if num_classes < 1 or len(decoder) != 3:
            raise ValueError(f"need num_classes >= 1 and 3 decoder widths, got {num_classes} and {tuple(decoder)}.")
        self.normalize = Normalize((0.498, 0.498, 0.498), (0.502, 0.502, 0.502))  # as the pretrained weights expect
        self.encoder = EfficientNetLite0Features(net, return_blocks=(2, 4, 10), trainable_from=trainable_from)
        c4, c8, c16 = self.encoder.channels
        self.up8 = Up(c16, c8, decoder[0], upsample)
        self.up4 = Up(decoder[0], c4, decoder[1], upsample)
        self.image_skip = DoubleConv(3, decoder[2])
        self.up1 = Up(decoder[1], decoder[2], decoder[2], "bilinear")  # x4 at once: interpolation
        self.classifier = nn.Conv2d(decoder[2], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, 16, "EfficientNetUNet")
        z = self.normalize(x)
        f4, f8, f16 = self.encoder(z).values()
        y = self.up4(self.up8(f16, f8), f4)
        return self.classifier(self.up1(y, self.image_skip(z)))


def unet_efficientnet_lite0(
    num_classes: int, pretrained: bool = True, upsample: str = "bilinear", trainable_from: int = 0
) -> EfficientNetUNet:
    """:class:`EfficientNetUNet` with the offline ImageNet weights, or (``pretrained=False``) the
    same architecture randomly initialised (the from-scratch baseline of lesson 08).

    ``trainable_from``: encoder blocks below this index (and the stem) are frozen (0 = train all
    blocks; the stem is always frozen with the pretrained weights, and trained from scratch otherwise).
    """
    if pretrained:
        net = load_pretrained("efficientnet_lite0").model.net
    else:
        net = EfficientNetLite0()  # PyTorch's default initialisation
    model = EfficientNetUNet(net, num_classes, upsample=upsample, trainable_from=trainable_from)
    if not pretrained:
        for p in model.encoder.stem.parameters():
            p.requires_grad_(True)
    return model
