"""Mask R-CNN builders (lesson 03): a CPU-sized one on the offline ImageNet backbone, and torchvision's COCO model.

- :func:`maskrcnn_efficientnet_lite0` (``quick``): torchvision's ``MaskRCNN`` on top of
  the offline ImageNet-pretrained EfficientNet-Lite0 (:mod:`cvlib.models.pretrained`),
  cut after its stride-16 stage, with a small 3-level feature pyramid, anchors sized
  for small objects and slim RoI heads, so it fine-tunes in minutes on 2 CPU cores.
- :func:`maskrcnn_resnet50_coco` (``full``): torchvision's ``maskrcnn_resnet50_fpn``
  with COCO weights, as in the TorchVision tutorial; offline it fails with a message
  that says what to do.
- :func:`replace_predictors`: the tutorial's two-line surgery -- new box and mask
  predictors for ``num_classes`` (background included, label 0).
- :func:`build_maskrcnn`: one entry point for both.

All models take a list of ``(3, H, W)`` float images in [0, 1]; the normalisation and
resizing happen inside (``model.transform``, a ``GeneralizedRCNNTransform``).

Modules and builders only (training and evaluation: :mod:`cvlib.detection`; parameter counts:
:func:`cvlib.models.utils.count_parameters`). :class:`EfficientNetLiteFPN` is named for what it
is, not ``BackboneWithFPN`` (torchvision has a different class of that name).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign

from cvlib.models.pretrained import load_pretrained, with_torchvision_weights
from cvlib.models.utils import freeze_batchnorm

# EfficientNet-Lite0 blocks after which the feature map has stride 4, 8, 16, 32 (and their channels).
EFFNET_STAGE_ENDS: dict[int, tuple[int, int]] = {2: (4, 24), 4: (8, 40), 10: (16, 112), 15: (32, 320)}


class EfficientNetLite0Features(nn.Module):
    """EfficientNet-Lite0 as a multi-scale feature extractor.

    Input ``(B, 3, H, W)`` **normalised** images (``GeneralizedRCNNTransform`` does it);
    output an ``OrderedDict`` ``{"0": stride-4 map, "1": stride-8 map, ...}``, one entry per
    ``return_blocks`` (block indices from :data:`EFFNET_STAGE_ENDS`). Blocks after the last
    returned one are dropped (less compute).

    Args:
        net: an ``EfficientNetLite0`` (its weights are shared, not copied).
        return_blocks: which stage ends to return, e.g. ``(2, 4, 10)`` for strides 4, 8, 16.
        trainable_from: blocks with an index below it (and the stem) are frozen.
    """

    def __init__(self, net: Any, return_blocks: Sequence[int] = (2, 4, 10), trainable_from: int = 3) -> None:
        super().__init__()
        bad = [b for b in return_blocks if b not in EFFNET_STAGE_ENDS]
        if bad or list(return_blocks) != sorted(return_blocks) or not return_blocks:
            raise ValueError(
                f"return_blocks={tuple(return_blocks)} must be increasing stage ends from {sorted(EFFNET_STAGE_ENDS)}."
            )
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = nn.Sequential(*list(net._blocks)[: max(return_blocks) + 1])
        self.return_blocks = tuple(return_blocks)
        self.channels = [EFFNET_STAGE_ENDS[b][1] for b in return_blocks]
        self.strides = [EFFNET_STAGE_ENDS[b][0] for b in return_blocks]
        for p in self.stem.parameters():
            p.requires_grad_(False)
        for i, block in enumerate(self.blocks):
            for p in block.parameters():
                p.requires_grad_(i >= trainable_from)

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        x = self.stem(x)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.return_blocks:
                out[str(len(out))] = x
        return out


class EfficientNetLiteFPN(nn.Module):
    """An :class:`EfficientNetLite0Features` extractor followed by a ``torchvision.ops.FeaturePyramidNetwork``.

    Output: ``OrderedDict`` of ``len(body.channels)`` maps, each ``(B, out_channels, H/s, W/s)``.
    ``self.out_channels`` is what ``MaskRCNN`` reads.
    """

    def __init__(self, body: EfficientNetLite0Features, out_channels: int = 64, group_norm: bool = True) -> None:
        super().__init__()
        self.body = body
        # GroupNorm keeps the pyramid's outputs near unit scale (the EfficientNet maps are not:
        # their std is ~5), so the freshly initialised heads start with sensible logits.
        norm = partial(nn.GroupNorm, 8) if group_norm else None
        self.fpn = FeaturePyramidNetwork(in_channels_list=body.channels, out_channels=out_channels, norm_layer=norm)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return self.fpn(self.body(x))


def efficientnet_lite0_fpn(
    return_blocks: Sequence[int] = (2, 4, 10), out_channels: int = 64, trainable_from: int = 3, group_norm: bool = True
) -> EfficientNetLiteFPN:
    """The offline ImageNet EfficientNet-Lite0 (frozen batch norm) + a small FPN; see :class:`EfficientNetLite0Features`."""
    net = load_pretrained("efficientnet_lite0").model.net
    freeze_batchnorm(net)  # detection batches (2-4 images) are too small for batch statistics
    body = EfficientNetLite0Features(net, return_blocks, trainable_from)
    return EfficientNetLiteFPN(body, out_channels, group_norm)


def maskrcnn_efficientnet_lite0(
    num_classes: int,
    image_size: int = 128,
    anchor_sizes: Sequence[int] = (16, 32, 64),
    out_channels: int = 64,
    trainable_from: int = 3,
    representation_size: int = 256,
    mask_layers: Sequence[int] = (64, 64, 64),
    group_norm: bool = True,
    **kwargs,
) -> MaskRCNN:
    """A CPU-sized Mask R-CNN on the offline ImageNet EfficientNet-Lite0 (``quick`` profile).

    Args:
        num_classes: classes **including** the background (label 0).
        image_size: images are resized so that both sides are ``image_size`` at most
            (``min_size = max_size = image_size``; square images come out ``image_size`` square).
        anchor_sizes: one anchor size (pixels) per pyramid level (strides 4, 8, 16),
            each with aspect ratios 0.5, 1, 2.
        out_channels: FPN channels (torchvision's ResNet-50 FPN uses 256).
        trainable_from: EfficientNet blocks below this index (and the stem) stay frozen.
        representation_size: width of the box head's two fully connected layers (1024 in torchvision).
        mask_layers: channels of the mask head's 3x3 convolutions (four of 256 in torchvision).
        group_norm: GroupNorm in the FPN (see :class:`EfficientNetLiteFPN`).
        **kwargs: passed to ``torchvision.models.detection.MaskRCNN`` (override any default below).

    Returns:
        a ``MaskRCNN``; in eval mode ``model(images)`` gives one dict per image with
        ``boxes (N, 4)``, ``labels (N,)``, ``scores (N,)``, ``masks (N, 1, H, W)`` in [0, 1].
    """
    if num_classes < 2:
        raise ValueError(
            f"num_classes={num_classes} must count the background too: use (number of object classes) + 1."
        )
    backbone = efficientnet_lite0_fpn((2, 4, 10), out_channels, trainable_from, group_norm)
    levels = len(backbone.body.channels)
    if len(anchor_sizes) != levels:
        raise ValueError(f"anchor_sizes needs one size per pyramid level ({levels}), got {tuple(anchor_sizes)}.")
    anchors = AnchorGenerator(sizes=tuple((s,) for s in anchor_sizes), aspect_ratios=((0.5, 1.0, 2.0),) * levels)
    names = [str(i) for i in range(levels)]
    # canonical_scale 56 / level 4: a 56-px box is pooled from the stride-16 map, a 28-px box from stride 8, ...
    box_pool = MultiScaleRoIAlign(names, output_size=7, sampling_ratio=2, canonical_scale=56)
    mask_pool = MultiScaleRoIAlign(names, output_size=14, sampling_ratio=2, canonical_scale=56)
    settings = {
        "min_size": image_size,
        "max_size": image_size,
        "image_mean": [0.498, 0.498, 0.498],  # EfficientNet-Lite0 was trained on (pixel - 127) / 128
        "image_std": [0.502, 0.502, 0.502],
        "rpn_anchor_generator": anchors,
        "rpn_pre_nms_top_n_train": 300,
        "rpn_post_nms_top_n_train": 150,
        "rpn_pre_nms_top_n_test": 200,
        "rpn_post_nms_top_n_test": 100,
        "rpn_batch_size_per_image": 64,
        "box_roi_pool": box_pool,
        "box_head": TwoMLPHead(out_channels * 7 * 7, representation_size),
        "box_predictor": FastRCNNPredictor(representation_size, num_classes),
        "box_batch_size_per_image": 64,
        "box_detections_per_img": 30,
        "mask_roi_pool": mask_pool,
        "mask_head": MaskRCNNHeads(out_channels, list(mask_layers), 1),
        "mask_predictor": MaskRCNNPredictor(mask_layers[-1], mask_layers[-1], num_classes),
    }
    settings.update(kwargs)
    return MaskRCNN(backbone, num_classes=None, **settings)


def replace_predictors(model: MaskRCNN, num_classes: int, mask_hidden: int = 256) -> MaskRCNN:
    """Give a Mask R-CNN new box and mask predictors for ``num_classes`` (background included).

    Everything else (backbone, RPN, RoI heads) keeps its weights: this is the fine-tuning
    recipe of the TorchVision tutorial. Returns ``model`` (changed in place).
    """
    if num_classes < 2:
        raise ValueError(
            f"num_classes={num_classes} must count the background too: use (number of object classes) + 1."
        )
    box_in = model.roi_heads.box_predictor.cls_score.in_features
    model.roi_heads.box_predictor = FastRCNNPredictor(box_in, num_classes)
    if model.roi_heads.mask_predictor is not None:
        mask_in = model.roi_heads.mask_predictor.conv5_mask.in_channels
        model.roi_heads.mask_predictor = MaskRCNNPredictor(mask_in, mask_hidden, num_classes)
    return model


def maskrcnn_resnet50_coco(num_classes: int, **kwargs) -> MaskRCNN:
    """torchvision's COCO-pretrained ``maskrcnn_resnet50_fpn`` with new predictors (``full`` profile).

    Args:
        num_classes: classes including the background (2 for Penn-Fudan: background, person).
        **kwargs: passed to ``maskrcnn_resnet50_fpn`` (e.g. ``min_size``).

    Raises:
        PretrainedUnavailableError: the COCO weights are neither cached nor downloadable.
    """
    from torchvision.models.detection import (
        MaskRCNN_ResNet50_FPN_Weights,
        maskrcnn_resnet50_fpn,
    )

    model = with_torchvision_weights(
        maskrcnn_resnet50_fpn,
        MaskRCNN_ResNet50_FPN_Weights.COCO_V1,
        "torchvision's COCO Mask R-CNN",
        "use the offline profile: CVLIB_PROFILE=quick",
        **kwargs,
    )
    return replace_predictors(model, num_classes)


def build_maskrcnn(name: str, num_classes: int, **kwargs) -> MaskRCNN:
    """One entry point: ``"efficientnet_lite0_fpn"`` (quick, offline) or ``"resnet50_fpn_coco"`` (full)."""
    builders = {"efficientnet_lite0_fpn": maskrcnn_efficientnet_lite0, "resnet50_fpn_coco": maskrcnn_resnet50_coco}
    if name not in builders:
        raise ValueError(f"unknown detector {name!r}: choose one of {', '.join(builders)}.")
    return builders[name](num_classes, **kwargs)
