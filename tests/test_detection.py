import urllib.error
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision import tv_tensors

from cvlib.data.shapes import CLASSES, ShapesDataset
from cvlib.detection import (
    AspectRatioBatchSampler,
    TargetError,
    coco_evaluate,
    coco_from_dataset,
    collate_detection,
    detection_transforms,
    draw_detections,
    evaluate_coco,
    format_ap_table,
    predict,
    show_detections,
    to_coco_results,
    train_one_epoch,
    validate_target,
    warmup_cosine,
)
from cvlib.models.maskrcnn import (
    build_maskrcnn,
    maskrcnn_efficientnet_lite0,
    maskrcnn_resnet50_coco,
    replace_predictors,
)
from cvlib.models.pretrained import PretrainedUnavailableError
from cvlib.models.utils import count_parameters


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return maskrcnn_efficientnet_lite0(len(CLASSES) + 1, image_size=64)


def ground_truth_predictions(dataset):
    """Predictions equal to the ground truth, score 1."""
    preds, ids = [], []
    for i in range(len(dataset)):
        _, t = dataset[i]
        n = len(t["labels"])
        preds.append({"boxes": t["boxes"].as_subclass(torch.Tensor), "labels": t["labels"], "scores": torch.ones(n),
                      "masks": t["masks"].bool().as_subclass(torch.Tensor)})
        ids.append(t["image_id"])
    return preds, ids


def test_evaluator_gives_ap_1_for_ground_truth_and_less_for_shifted_boxes():
    ds = ShapesDataset(6, seed=5, size=64, transforms=detection_transforms(False))
    gt = coco_from_dataset(ds, CLASSES)
    preds, ids = ground_truth_predictions(ds)
    perfect = coco_evaluate(gt, to_coco_results(preds, ids))
    for iou_type in ("bbox", "segm"):
        assert perfect[iou_type]["AP"] == pytest.approx(1.0)
        assert perfect[iou_type]["AP50"] == pytest.approx(1.0) and perfect[iou_type]["AP75"] == pytest.approx(1.0)
    shifted = []
    for p in preds:
        w = p["boxes"][:, 2] - p["boxes"][:, 0]
        shift = torch.stack([0.3 * w, torch.zeros_like(w), 0.3 * w, torch.zeros_like(w)], dim=1)
        masks = torch.roll(p["masks"], shifts=4, dims=-1)
        shifted.append({**p, "boxes": p["boxes"] + shift, "masks": masks})
    worse = coco_evaluate(gt, to_coco_results(shifted, ids))
    assert worse["bbox"]["AP"] < 0.5 and worse["bbox"]["AP75"] < perfect["bbox"]["AP75"]
    assert worse["segm"]["AP"] < 0.9
    # no predictions at all: AP 0, no crash inside pycocotools
    assert coco_evaluate(gt, [])["bbox"]["AP"] == 0.0
    table = format_ap_table(perfect)
    assert "AP50" in table and "segm" in table


def test_horizontal_flip_moves_boxes_and_masks():
    ds = ShapesDataset(2, seed=1, size=64)
    image, target = ds[0]
    flip = detection_transforms(train=True, flip_p=1.0)
    fimage, ftarget = flip(image, target)
    assert fimage.dtype == torch.float32 and 0.0 <= fimage.min() and fimage.max() <= 1.0
    assert torch.allclose(fimage, image.flip(-1).float() / 255)
    b = target["boxes"]
    expected = torch.stack([64 - b[:, 2], b[:, 1], 64 - b[:, 0], b[:, 3]], dim=1)
    assert torch.equal(ftarget["boxes"], expected)
    assert torch.equal(ftarget["masks"], target["masks"].flip(-1))
    assert torch.equal(ftarget["labels"], target["labels"])
    # eval transform: float conversion only
    eimage, etarget = detection_transforms(train=False)(image, target)
    assert torch.equal(etarget["boxes"], target["boxes"]) and eimage.dtype == torch.float32


def test_bad_targets_are_caught_before_torchvision(small_model):
    image = torch.rand(3, 64, 64)
    # an image with no objects: fine, with the shapes torchvision expects
    empty = validate_target(image, {"boxes": torch.tensor([]), "labels": torch.tensor([]), "masks": torch.tensor([]), "image_id": 1})
    assert empty["boxes"].shape == (0, 4) and empty["masks"].shape == (0, 64, 64) and empty["labels"].dtype == torch.int64
    # a zero-area box is dropped with a warning naming the image
    target = {"boxes": torch.tensor([[5.0, 5, 20, 20], [8, 8, 8, 30]]), "labels": torch.tensor([1, 2]),
              "masks": torch.zeros(2, 64, 64, dtype=torch.uint8), "image_id": 7}
    with pytest.warns(UserWarning, match="image_id 7: dropped 1 degenerate"):
        clean = validate_target(image, target)
    assert clean["boxes"].shape == (1, 4) and clean["labels"].tolist() == [1] and clean["masks"].shape == (1, 64, 64)
    # a mask whose size is not the image's: a clear error
    with pytest.raises(TargetError, match="masks are \\(1, 32, 32\\) but the image is 64x64"):
        validate_target(image, {"boxes": torch.tensor([[1.0, 1, 5, 5]]), "labels": torch.tensor([1]), "masks": torch.zeros(1, 32, 32)})
    with pytest.raises(TargetError, match="label 0 is the background"):
        validate_target(image, {"boxes": torch.tensor([[1.0, 1, 5, 5]]), "labels": torch.tensor([0])})
    with pytest.raises(TargetError, match="2 boxes but 1 labels"):
        validate_target(image, {"boxes": torch.tensor([[1.0, 1, 5, 5], [2, 2, 9, 9]]), "labels": torch.tensor([1])})
    with pytest.raises(TargetError, match="\\(3, H, W\\)"):
        validate_target(torch.rand(64, 64), {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)})
    # the model trains on a batch holding an empty image and a degenerate box
    with pytest.warns(UserWarning, match="image_id 7"):
        images, targets = collate_detection([(image, {**target, "masks": tv_tensors.Mask(torch.ones(2, 64, 64, dtype=torch.uint8))}),
                                             (torch.rand(3, 64, 64), {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0), "image_id": 3})])
    assert isinstance(images, list) and len(targets) == 2
    targets[1]["masks"] = torch.zeros(0, 64, 64, dtype=torch.uint8)
    small_model.train()
    losses = small_model(images, targets)
    assert all(torch.isfinite(v) for v in losses.values())


def test_model_shapes_predict_train_and_evaluate(small_model):
    trainable, total = count_parameters(small_model, trainable_only=True), count_parameters(small_model)
    assert 0 < trainable < total < 3_000_000
    ds = ShapesDataset(4, seed=2, size=64, transforms=detection_transforms(True))
    loader = DataLoader(ds, batch_size=2, collate_fn=collate_detection)
    opt = torch.optim.SGD([p for p in small_model.parameters() if p.requires_grad], lr=0.005, momentum=0.9)
    sched = warmup_cosine(opt, warmup_iters=1, total_iters=2)
    losses = train_one_epoch(small_model, opt, loader, scheduler=sched, progress=False)
    assert {"loss", "loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg"} <= set(losses)
    assert losses["loss"] == pytest.approx(sum(v for k, v in losses.items() if k != "loss"))
    preds = predict(small_model, [ds[0][0], ds[1][0]], score_threshold=0.0)
    assert len(preds) == 2 and set(preds[0]) == {"boxes", "labels", "scores", "masks", "mask_probs"}
    p = preds[0]
    assert p["masks"].dtype == torch.bool and p["masks"].shape[1:] == (64, 64) and p["boxes"].shape == (len(p["scores"]), 4)
    high = predict(small_model, ds[0][0], score_threshold=0.99)[0]
    assert (high["scores"] >= 0.99).all()
    metrics = evaluate_coco(small_model, ShapesDataset(3, seed=3, size=64, transforms=detection_transforms(False)),
                            class_names=CLASSES, progress=False)
    assert set(metrics) == {"bbox", "segm"} and all(0.0 <= m["AP50"] <= 1.0 for m in metrics.values())
    with pytest.raises(ValueError, match="background"):
        maskrcnn_efficientnet_lite0(1)


def test_predictor_replacement_and_full_model_offline(small_model, monkeypatch):
    replace_predictors(small_model, 2)
    assert small_model.roi_heads.box_predictor.cls_score.out_features == 2
    assert small_model.roi_heads.box_predictor.bbox_pred.out_features == 8
    assert small_model.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 2
    import torchvision.models.detection as tv_detection

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tv_detection, "maskrcnn_resnet50_fpn", no_network)
    with pytest.raises(PretrainedUnavailableError, match="COCO Mask R-CNN weights.*CVLIB_PROFILE=quick"):
        maskrcnn_resnet50_coco(2)
    with pytest.raises(ValueError, match="efficientnet_lite0_fpn"):
        build_maskrcnn("yolo", 2)


def test_batch_sampler_schedule_and_drawing():
    ratios = [1.5, 0.7, 1.2, 0.5, 1.0, 0.8, 2.0]
    sampler = AspectRatioBatchSampler(ratios, batch_size=2, generator=torch.Generator().manual_seed(0))
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(7)) and len(batches) == len(sampler) == 4
    for b in batches:
        assert len({ratios[i] >= 1 for i in b}) == 1
    assert len(list(AspectRatioBatchSampler(ratios, 2, drop_last=True))) == 3

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = warmup_cosine(opt, warmup_iters=10, total_iters=110, warmup_factor=0.01)
    lrs = []
    for _ in range(110):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.01) and lrs[10] == pytest.approx(1.0) and lrs[60] == pytest.approx(0.5)
    assert np.all(np.diff(lrs[:11]) > 0) and np.all(np.diff(lrs[10:]) <= 0)

    image = torch.rand(3, 32, 32)
    masks = torch.zeros(1, 32, 32, dtype=torch.bool)
    masks[0, 4:10, 4:10] = True
    pic = draw_detections(image, torch.tensor([[4.0, 4, 10, 10]]), torch.tensor([2]), masks, torch.tensor([0.9]), CLASSES, scale=2)
    assert pic.shape == (3, 64, 64) and pic.dtype == torch.uint8
    empty = draw_detections(image, torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64))
    assert empty.shape == (3, 32, 32)
    pred = {"boxes": torch.tensor([[4.0, 4, 10, 10]]), "labels": torch.tensor([2]), "scores": torch.tensor([0.9]), "masks": masks}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = show_detections([image, image], [pred, pred], CLASSES, score_threshold=0.5)
    assert fig.axes[0].get_title() == "1 found"
    assert fig.get_suptitle() == "Predictions (score >= 0.50)"
    low = dict(pred, scores=torch.tensor([0.2]))
    assert show_detections([image], [low], CLASSES, score_threshold=0.5).axes[0].get_title() == "0 found"
    truth = show_detections([image], [low], CLASSES, [pred], score_threshold=None, title="Ground truth")
    assert truth.axes[0].get_title() == "1 object / 1 true" and truth.get_suptitle() == "Ground truth"
    plain = draw_detections(image, pred["boxes"], pred["labels"], scale=2, captions=False)
    captioned = draw_detections(image, pred["boxes"], pred["labels"], scale=2, class_names=CLASSES)
    assert not torch.equal(plain, captioned)  # the caption is drawn
