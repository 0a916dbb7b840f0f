"""cvlib.models.maskrcnn: the lesson 03 Mask R-CNN builders."""

import urllib.error

import pytest
import torch
from torchvision.models.detection import MaskRCNN

from cvlib.models.maskrcnn import (
    EfficientNetLiteFPN,
    build_maskrcnn,
    maskrcnn_efficientnet_lite0,
    maskrcnn_resnet50_coco,
    replace_predictors,
)
from cvlib.models.pretrained import PretrainedUnavailableError
from cvlib.models.utils import count_parameters


def test_quick_model_is_small_with_a_frozen_stem(small_model):
    trainable, total = count_parameters(small_model, trainable_only=True), count_parameters(small_model)
    assert 0 < trainable < total < 3_000_000
    assert isinstance(small_model, MaskRCNN) and isinstance(small_model.backbone, EfficientNetLiteFPN)
    assert not any(p.requires_grad for p in small_model.backbone.body.stem.parameters())


def test_quick_model_predicts_one_dict_per_image(small_model):
    small_model.eval()
    with torch.no_grad():
        out = small_model([torch.rand(3, 64, 64), torch.rand(3, 48, 64)])
    assert len(out) == 2 and out[1]["masks"].shape[1:] == (1, 48, 64)


def test_backbone_returns_a_pyramid_of_equal_width(small_model):
    maps = small_model.backbone(torch.rand(1, 3, 64, 64))
    assert list(maps) == ["0", "1", "2"] and [m.shape[1] for m in maps.values()] == [64, 64, 64]
    assert [m.shape[-1] for m in maps.values()] == [16, 8, 4]


def test_num_classes_must_count_the_background():
    with pytest.raises(ValueError, match="background"):
        maskrcnn_efficientnet_lite0(1)


def test_predictors_are_replaced_for_the_new_classes(small_model):
    assert replace_predictors(small_model, 2) is small_model
    assert small_model.roi_heads.box_predictor.cls_score.out_features == 2
    assert small_model.roi_heads.box_predictor.bbox_pred.out_features == 8
    assert small_model.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 2


def test_full_model_offline_says_what_to_do(monkeypatch):
    import torchvision.models.detection as tv_detection

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tv_detection, "maskrcnn_resnet50_fpn", no_network)
    with pytest.raises(PretrainedUnavailableError, match="COCO Mask R-CNN weights.*CVLIB_PROFILE=quick"):
        maskrcnn_resnet50_coco(2)


def test_unknown_detector_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="efficientnet_lite0_fpn"):
        build_maskrcnn("yolo", 2)
