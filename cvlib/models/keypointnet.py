"""Keypoint networks (lesson 09): direct coordinate regression vs heatmaps on one backbone, and Keypoint R-CNN.

- :class:`KeypointRegressor`: EfficientNet-Lite0's stride-16 features, pooled to a 4x4 grid (so some
  position survives), flattened, two linear layers -> ``(B, K, 2)`` coordinates (DeepPose-style
  direct regression, Toshev & Szegedy 2014).
- :func:`keypoint_heatmap_net`: the same encoder under the U-Net decoder of
  :class:`cvlib.models.unet.EfficientNetUNet` with ``K`` output channels: one full-resolution
  heatmap per keypoint (an hourglass with one stack: encoder, decoder, skips; Newell et al. 2016).
- :func:`keypointrcnn_resnet50_coco`: torchvision's COCO-pretrained Keypoint R-CNN (``full`` profile),
  with new predictors when the keypoints or classes differ from COCO's 17 person keypoints.

Both lesson-09 networks take ``(B, 3, H, W)`` float images in [0, 1] (normalisation is inside), H and W
divisible by 16, and build on the offline ImageNet weights (``pretrained=True``) or the same
architecture randomly initialised. Modules and builders only; targets, decoding and metrics live in
:mod:`cvlib.keypoints`.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.detection import KeypointRCNN

from cvlib.models.efficientnet_lite import EfficientNetLite0
from cvlib.models.maskrcnn import EfficientNetLite0Features
from cvlib.models.pretrained import Normalize, load_pretrained, with_torchvision_weights
from cvlib.models.unet import EfficientNetUNet, _check_input

__all__ = ["KeypointRegressor", "keypoint_heatmap_net", "keypoint_regressor", "keypointrcnn_resnet50_coco"]


def _lite0(pretrained: bool) -> nn.Module:
    return load_pretrained("efficientnet_lite0").model.net if pretrained else EfficientNetLite0()


class KeypointRegressor(nn.Module):
    """Direct regression: ``(B, 3, H, W)`` in [0, 1] -> ``(B, K, 2)`` keypoint ``(x, y)`` in input pixels.

    The stride-16 feature map is average-pooled to ``grid x grid`` cells, flattened and mapped by
    two linear layers to ``2K`` numbers; a sigmoid scaled by the image width / height keeps each
    coordinate inside the image. Every keypoint is predicted, visible or not.
    """

    def __init__(self, net: nn.Module, num_keypoints: int, hidden: int = 256, grid: int = 4, trainable_from: int = 0):
        super().__init__()
        if num_keypoints < 1 or hidden < 1 or grid < 1:
            raise ValueError(f"need num_keypoints, hidden and grid >= 1, got {num_keypoints}, {hidden}, {grid}.")
        self.num_keypoints = num_keypoints
        self.normalize = Normalize((0.498, 0.498, 0.498), (0.502, 0.502, 0.502))  # as the pretrained weights expect
        self.encoder = EfficientNetLite0Features(net, return_blocks=(10,), trainable_from=trainable_from)
        channels = self.encoder.channels[-1]
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(grid),
            nn.Flatten(),
            nn.Linear(channels * grid * grid, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * num_keypoints),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, 16, "KeypointRegressor")
        features = self.encoder(self.normalize(x))["0"]
        unit = self.head(features).view(-1, self.num_keypoints, 2).sigmoid()  # (B, K, 2) in (0, 1)
        scale = torch.tensor([x.shape[-1], x.shape[-2]], dtype=unit.dtype, device=unit.device)
        return unit * scale


def keypoint_regressor(num_keypoints: int, pretrained: bool = True, trainable_from: int = 0) -> KeypointRegressor:
    """:class:`KeypointRegressor` on the offline ImageNet EfficientNet-Lite0, or randomly initialised.

    ``trainable_from``: encoder blocks below this index are frozen (the stem is frozen with the
    pretrained weights and trained from scratch otherwise).
    """
    model = KeypointRegressor(_lite0(pretrained), num_keypoints, trainable_from=trainable_from)
    if not pretrained:
        for p in model.encoder.stem.parameters():
            p.requires_grad_(True)
    return model


def keypoint_heatmap_net(num_keypoints: int, pretrained: bool = True, trainable_from: int = 0) -> EfficientNetUNet:
    """One heatmap per keypoint: ``(B, 3, H, W)`` in [0, 1] -> ``(B, K, H, W)`` float scores (stride 1).

    The lesson-08 U-Net (EfficientNet-Lite0 encoder, decoder with skips at strides 8, 4 and 1) with
    ``K`` output channels, so it shares its encoder with :func:`keypoint_regressor`.
    """
    if num_keypoints < 1:
        raise ValueError(f"num_keypoints must be >= 1, got {num_keypoints}.")
    model = EfficientNetUNet(_lite0(pretrained), num_keypoints, trainable_from=trainable_from)
    if not pretrained:
        for p in model.encoder.stem.parameters():
            p.requires_grad_(True)
    return model


def keypointrcnn_resnet50_coco(num_keypoints: int = 17, num_classes: int = 2, **kwargs) -> KeypointRCNN:
    """torchvision's COCO-pretrained ``keypointrcnn_resnet50_fpn`` (``full`` profile).

    With COCO's 17 person keypoints and 2 classes (background, person) the model is returned as
    trained; otherwise its box and keypoint predictors are replaced by new ones (to fine-tune).
    ``**kwargs`` go to the torchvision builder (e.g. ``min_size``).

    Raises:
        PretrainedUnavailableError: the COCO weights are neither cached nor downloadable.
    """
    from torchvision.models.detection import KeypointRCNN_ResNet50_FPN_Weights, keypointrcnn_resnet50_fpn
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
    from torchvision.models.detection.keypoint_rcnn import KeypointRCNNPredictor

    if num_keypoints < 1 or num_classes < 2:
        raise ValueError(f"need num_keypoints >= 1 and num_classes >= 2, got {num_keypoints} and {num_classes}.")
    model = with_torchvision_weights(
        keypointrcnn_resnet50_fpn,
        KeypointRCNN_ResNet50_FPN_Weights.COCO_V1,
        "torchvision's COCO Keypoint R-CNN",
        "use the offline profile: CVLIB_PROFILE=quick",
        **kwargs,
    )
    if num_classes != 2:
        box_in = model.roi_heads.box_predictor.cls_score.in_features
        model.roi_heads.box_predictor = FastRCNNPredictor(box_in, num_classes)
    if num_keypoints != 17:
        kp_in = model.roi_heads.keypoint_predictor.kps_score_lowres.in_channels
        model.roi_heads.keypoint_predictor = KeypointRCNNPredictor(kp_in, num_keypoints)
    return model
