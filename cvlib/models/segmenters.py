"""torchvision's semantic segmentation networks as pixel-space segmenters (lesson 08, ``full``).

Used by lesson 08 (full profile): fine-tune a COCO-pretrained segmenter on Oxford-IIIT Pet
(:mod:`cvlib.data.pets`) and compare it with the same architecture trained from scratch.

:func:`torchvision_segmenter` builds one of

- ``"lraspp_mobilenet_v3_large"``: Lite R-ASPP on MobileNetV3-Large (Howard et al., 2019), about
  3.2 M parameters; weights ``LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1``;
- ``"deeplabv3_mobilenet_v3_large"``: DeepLabV3 (ASPP head) on MobileNetV3-Large, about 11 M
  parameters; weights ``DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1`` (its
  auxiliary head, used only for an auxiliary training loss, is dropped);

and wraps it in a :class:`TorchvisionSegmenter`, which works like every lesson-08 network
(:mod:`cvlib.models.unet`): ``(B, 3, H, W)`` float images in [0, 1] in (the ImageNet
normalisation is inside), per-pixel class logits ``(B, num_classes, H, W)`` out, a tensor rather
than torchvision's ``{"out": ...}`` dict. The pretrained weights are downloaded once into the torch
hub cache; offline, a missing file gives :class:`~cvlib.models.pretrained.PretrainedUnavailableError`
saying what to do.

Modules and builders only; losses and metrics live in :mod:`cvlib.segmentation`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torchvision.models.segmentation import (
    DeepLabV3,
    DeepLabV3_MobileNet_V3_Large_Weights,
    LRASPP_MobileNet_V3_Large_Weights,
    deeplabv3_mobilenet_v3_large,
    lraspp_mobilenet_v3_large,
)
from torchvision.models.segmentation.deeplabv3 import DeepLabHead
from torchvision.models.segmentation.lraspp import LRASPPHead

from cvlib.models.pretrained import Normalize, with_torchvision_weights
from cvlib.validate import check_images

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # what torchvision's segmentation weights were trained with
IMAGENET_STD = (0.229, 0.224, 0.225)
# name -> (builder, pretrained weights)
SEGMENTERS: dict[str, tuple[Callable[..., nn.Module], Any]] = {
    "lraspp_mobilenet_v3_large": (lraspp_mobilenet_v3_large, LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1),
    "deeplabv3_mobilenet_v3_large": (
        deeplabv3_mobilenet_v3_large,
        DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1,
    ),
}
MIN_SIZE = 32  # output stride 16: smaller images leave the head a 1x1 map or less


class TorchvisionSegmenter(nn.Module):
    """A torchvision segmentation network in pixel space: ``(B, 3, H, W)`` in [0, 1] -> logits ``(B, C, H, W)``.

    ``forward`` normalises with the ImageNet mean and std, runs ``net`` and returns its ``"out"``
    logits (float32, the input's height and width; torchvision upsamples them bilinearly inside).

    Attributes:
        normalize: the :class:`~cvlib.models.pretrained.Normalize` layer.
        net: the torchvision ``LRASPP`` / ``DeepLabV3`` model.
        name: the architecture's name (a key of :data:`SEGMENTERS`).
        num_classes: C, the number of output channels.
        pretrained: whether the backbone and head started from the COCO weights.
    """

    def __init__(self, net: nn.Module, name: str, num_classes: int, pretrained: bool) -> None:
        super().__init__()
        self.normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)
        self.net = net
        self.name = name
        self.num_classes = num_classes
        self.pretrained = pretrained

    @property
    def encoder(self) -> nn.Module:
        """The backbone (MobileNetV3 features): what :func:`cvlib.segmentation.train_segmenter` gives its own learning rate."""
        return self.net.get_submodule("backbone")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # shape and dtype only: no pass over the values in a training step's forward (as cvlib.models.unet)
        check_images(x, channels=3, finite=False, min_size=MIN_SIZE, what=f"the images given to {self.name}")
        return self.net(self.normalize(x))["out"]


def _check_num_classes(num_classes: object) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"num_classes={num_classes!r} is not allowed: use an integer >= 1 (2 for background vs pet: "
            "the background counts as a class)."
        )
    return num_classes


def _new_classifiers(net: nn.Module, num_classes: int) -> None:
    """Replace the final 1x1 classifier convolution(s) by new ones with ``num_classes`` outputs (in place)."""
    head = net.get_submodule("classifier")
    if isinstance(head, LRASPPHead):  # two 1x1 convolutions (stride 8 and 16 features) whose outputs are summed
        head.low_classifier = nn.Conv2d(head.low_classifier.in_channels, num_classes, 1)
        head.high_classifier = nn.Conv2d(head.high_classifier.in_channels, num_classes, 1)
    elif isinstance(head, DeepLabHead) and isinstance(head[-1], nn.Conv2d):  # ASPP, conv, BN, ReLU, 1x1 classifier
        head[-1] = nn.Conv2d(head[-1].in_channels, num_classes, 1)
    else:
        raise TypeError(f"no known classifier layout in {type(head).__name__}: cannot give it {num_classes} outputs.")


def torchvision_segmenter(
    num_classes: int = 2, pretrained: bool = True, name: str = "lraspp_mobilenet_v3_large"
) -> TorchvisionSegmenter:
    """A torchvision segmenter with ``num_classes`` outputs, COCO-pretrained or from scratch.

    Args:
        num_classes: output classes C >= 1, the background included (2 for background vs pet).
        pretrained: ``True``: the COCO (VOC labels) weights of ``name``, with new, randomly
            initialised final classifier convolution(s) for ``num_classes`` (everything else keeps
            its weights: the fine-tuning recipe). ``False``: the same architecture with
            ``weights=None, weights_backbone=None``, PyTorch's default initialisation everywhere
            (the from-scratch baseline); nothing is downloaded.
        name: ``"lraspp_mobilenet_v3_large"`` (default) or ``"deeplabv3_mobilenet_v3_large"``.

    Returns:
        a :class:`TorchvisionSegmenter` in training mode, on the CPU, every parameter trainable:
        ``(B, 3, H, W)`` float in [0, 1] (H, W >= 32) -> logits ``(B, num_classes, H, W)``.

    Raises:
        ValueError: unknown ``name`` (the message lists the valid ones) or a bad ``num_classes``.
        PretrainedUnavailableError: ``pretrained=True`` and the weights file is neither in the torch
            hub cache nor downloadable, or the cached file does not load (the message says what to do).
    """
    if name not in SEGMENTERS:
        raise ValueError(f"unknown segmenter {name!r}: choose one of {', '.join(SEGMENTERS)}.")
    _check_num_classes(num_classes)
    build, weights = SEGMENTERS[name]
    if pretrained:
        net = with_torchvision_weights(
            build,
            weights,
            f"torchvision's COCO-pretrained {name}",
            "build it from scratch with pretrained=False, or use the offline profile: CVLIB_PROFILE=quick",
        )
        if isinstance(net, DeepLabV3):
            net.aux_classifier = None  # only for an auxiliary loss; forward then skips it
        _new_classifiers(net, num_classes)
    else:
        net = build(weights=None, weights_backbone=None, num_classes=num_classes)
    return TorchvisionSegmenter(net, name, num_classes, bool(pretrained))
