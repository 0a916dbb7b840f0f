"""CenterNet, "objects as points" (Zhou et al., 2019), CPU-sized on the offline ImageNet EfficientNet-Lite0 (lesson 09).

- :class:`CenterNet`: EfficientNet-Lite0's stride-4/8/16 stages
  (:class:`cvlib.models.maskrcnn.EfficientNetLite0Features`), a small U-Net decoder back up to
  stride 4 (:class:`cvlib.models.unet.Up`), and three heads on that stride-4 map: a per-class
  centre **heatmap**, the box **size** and the sub-cell **offset** of the centre.
- :func:`centernet_efficientnet_lite0`: the builder, with the ImageNet weights
  (``pretrained=True``, :func:`cvlib.models.pretrained.load_pretrained`) or randomly initialised.

Every object is one point: the cell of its box centre on the stride-4 map. The heatmap says
"a centre of class c is here", the other two heads, read at that cell, give the box. Decoding
(peaks by 3x3 max pooling instead of NMS), the targets and the losses live in
:mod:`cvlib.keypoints.centernet`; this module holds the network and its builder only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from cvlib.models.efficientnet_lite import EfficientNetLite0
from cvlib.models.maskrcnn import EfficientNetLite0Features
from cvlib.models.pretrained import Normalize, load_pretrained
from cvlib.models.unet import Up
from cvlib.validate import check_images

STRIDE = 4  # output stride of every head
HEAT_PRIOR = 0.1  # the heatmap's initial probability: bias log(0.1 / 0.9) = -2.19, as in the paper


def _head(cin: int, hidden: int, cout: int) -> nn.Sequential:
    """3x3 convolution + ReLU + 1x1 convolution, as the paper's heads (64 hidden channels there)."""
    return nn.Sequential(nn.Conv2d(cin, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, cout, 1))


class CenterNet(nn.Module):
    """CenterNet on EfficientNet-Lite0: ``(B, 3, H, W)`` in [0, 1] -> three stride-4 maps.

    ``forward(x)`` takes float images in [0, 1] (the ImageNet normalisation is inside), H and W
    divisible by 16, and returns a dict of ``(B, ., H/4, W/4)`` float maps:

    - ``"heatmap"`` ``(B, num_classes, H/4, W/4)``: centre **logits** (sigmoid -> probability that a
      box centre of that class lies in the cell); channel ``c`` is dataset label ``c + 1``
      (label 0 is the background, :mod:`cvlib.data.coco`). The last layer's bias starts at
      ``log(0.1 / 0.9) = -2.19`` so every cell starts at probability 0.1, as in the paper
      (a bias of 0 would start at 0.5 everywhere and the focal loss would explode on the
      background).
    - ``"size"`` ``(B, 2, H/4, W/4)``: box ``(width, height)`` in **output cells** (input pixels / 4),
      as in the paper (its size loss weight 0.1 assumes these units); meaningful at centre cells.
    - ``"offset"`` ``(B, 2, H/4, W/4)``: ``(dx, dy)`` in output cells, the centre's position inside its
      cell (about [0, 1)); the stride-4 map alone would round every centre to a multiple of 4 pixels.

    Args:
        net: an ``EfficientNetLite0`` (its weights are shared, not copied).
        num_classes: object classes C >= 1 (no background channel).
        decoder: channels after the stride-8 and the stride-4 upsampling steps.
        head_channels: hidden channels of each head.
        trainable_from: encoder blocks below this index (and the stem) are frozen.
    """

    def __init__(
        self,
        net: nn.Module,
        num_classes: int,
        decoder: Sequence[int] = (64, 48),
        head_channels: int = 32,
        trainable_from: int = 0,
    ) -> None:
        super().__init__()
        if num_classes < 1 or len(decoder) != 2 or min(decoder) < 1 or head_channels < 1:
            raise ValueError(
                f"need num_classes >= 1, 2 positive decoder widths and head_channels >= 1, got {num_classes}, "
                f"{tuple(decoder)} and {head_channels}."
            )
        self.num_classes = num_classes
        self.stride = STRIDE
        self.normalize = Normalize((0.498, 0.498, 0.498), (0.502, 0.502, 0.502))  # as the pretrained weights expect
        self.encoder = EfficientNetLite0Features(net, return_blocks=(2, 4, 10), trainable_from=trainable_from)
        c4, c8, c16 = self.encoder.channels
        self.up8 = Up(c16, c8, decoder[0])
        self.up4 = Up(decoder[0], c4, decoder[1])
        self.heatmap = _head(decoder[1], head_channels, num_classes)
        self.size = _head(decoder[1], head_channels, 2)
        self.offset = _head(decoder[1], head_channels, 2)
        last = self.heatmap[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.constant_(last.bias, math.log(HEAT_PRIOR / (1 - HEAT_PRIOR)))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        # shape and dtype only: no pass over the values in a training step's forward
        check_images(x, channels=3, finite=False, what="the images given to CenterNet")
        if x.shape[-2] % 16 or x.shape[-1] % 16:
            raise ValueError(
                f"CenterNet needs H and W divisible by 16, got {tuple(x.shape[-2:])}: pad or resize the images."
            )
        f4, f8, f16 = self.encoder(self.normalize(x)).values()
        y = self.up4(self.up8(f16, f8), f4)
        return {"heatmap": self.heatmap(y), "size": self.size(y), "offset": self.offset(y)}


def centernet_efficientnet_lite0(
    num_classes: int,
    pretrained: bool = True,
    decoder: Sequence[int] = (64, 48),
    head_channels: int = 32,
    trainable_from: int = 0,
) -> CenterNet:
    """:class:`CenterNet` with the offline ImageNet EfficientNet-Lite0 weights, or (``pretrained=False``)
    the same architecture randomly initialised.

    ``num_classes`` counts the object classes only (3 for the shapes scenes: circle, square,
    triangle); the heatmap has one channel per class. ``trainable_from``: encoder blocks below it
    (and the stem) are frozen (0 = train all blocks; the stem is frozen with the pretrained weights
    and trained from scratch otherwise).

    Raises:
        ValueError: ``num_classes < 1`` or bad decoder / head widths.
        cvlib.models.pretrained.PretrainedUnavailableError: the offline weights are not installed.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes={num_classes}: give the number of object classes (no background), >= 1.")
    net = load_pretrained("efficientnet_lite0").model.net if pretrained else EfficientNetLite0()
    model = CenterNet(net, num_classes, decoder=decoder, head_channels=head_channels, trainable_from=trainable_from)
    if not pretrained:
        for p in model.encoder.stem.parameters():
            p.requires_grad_(True)
    return model
