"""CenterNet (lesson 09): Gaussian radius, targets, focal loss, decoding, model shapes, training, errors."""

import math

import pytest
import torch

from cvlib.data.shapes import CLASSES, ShapesDataset
from cvlib.detection.evaluation import coco_evaluate, coco_from_dataset, to_coco_results
from cvlib.keypoints.centernet import (
    _flip_crop,
    centernet_detect,
    centernet_loss,
    centernet_targets,
    decode,
    evaluate_centernet,
    focal_loss,
    gaussian_radius,
    peaks,
    train_centernet,
)
from cvlib.models.centernet import CenterNet, centernet_efficientnet_lite0
from cvlib.models.efficientnet_lite import EfficientNetLite0
from cvlib.models.pretrained import load_pretrained

# ----------------------------------------------------------------------------- gaussian_radius


def _ious(h, w, r):
    """IoU with the true h x w box of CornerNet's three corner moves by r (shifted, shrunk, grown)."""
    shifted = (h - r) * (w - r) / (2 * h * w - (h - r) * (w - r))
    return shifted, (h - 2 * r) * (w - 2 * r) / (h * w), h * w / ((h + 2 * r) * (w + 2 * r))


def test_gaussian_radius_known_values():
    # 10 x 10 at 0.7 -- case 1: r^2 - 20 r + 100 * 0.3 / 1.7 = 0 -> (20 - sqrt(400 - 1200 / 17)) / 2 = 0.925;
    # case 2: 4 r^2 - 40 r + 30 = 0 -> (40 - sqrt(1120)) / 8 = 0.8167; case 3: 2.8 r^2 + 14 r - 30 = 0 -> 1.619
    assert gaussian_radius(10, 10) == pytest.approx((40 - math.sqrt(1120)) / 8)
    assert gaussian_radius(10, 10) == pytest.approx(0.81670, abs=1e-5)
    # 20 x 10: case 2, 4 r^2 - 60 r + 60 = 0 -> (60 - sqrt(3600 - 960)) / 8 = 1.0774
    assert gaussian_radius(20, 10) == pytest.approx((60 - math.sqrt(2640)) / 8)
    assert gaussian_radius(10, 20) == gaussian_radius(20, 10)
    # the radius scales with the box
    assert gaussian_radius(40, 40) == pytest.approx(4 * gaussian_radius(10, 10))


@pytest.mark.parametrize("h, w, o", [(10, 10, 0.7), (3, 50, 0.7), (7, 5, 0.3), (100, 80, 0.9)])
def test_gaussian_radius_keeps_every_move_at_min_overlap(h, w, o):
    r = gaussian_radius(h, w, o)
    ious = _ious(h, w, r)
    assert min(ious) == pytest.approx(o, abs=1e-9)  # the binding case sits exactly at min_overlap
    assert all(iou >= o - 1e-9 for iou in ious)


@pytest.mark.parametrize("args", [(0, 10), (10, -1), (10, 10, 0.0), (10, 10, 1.0)])
def test_gaussian_radius_errors(args):
    with pytest.raises(ValueError, match="gaussian_radius|min_overlap"):
        gaussian_radius(*args)


# ----------------------------------------------------------------------------- targets


def test_targets_known_values():
    # centre (20, 26.5) px -> (5, 6.625) cells: cell (x=5, y=6), offset (0, 0.625); size (22, 17) / 4
    boxes = torch.tensor([[9.0, 18.0, 31.0, 35.0]])
    t = centernet_targets([boxes], [torch.tensor([2])], output_size=(16, 16), stride=4, num_classes=3)
    assert t["heatmap"].shape == (1, 3, 16, 16) and t["mask"].shape == (1, 16, 16)
    assert t["heatmap"][0, 1, 6, 5] == 1.0 and t["heatmap"].max() == 1.0
    assert t["heatmap"][0, [0, 2]].abs().sum() == 0  # other classes empty
    assert t["mask"].sum() == 1 and t["mask"][0, 6, 5]
    assert t["size"][0, :, 6, 5].tolist() == [5.5, 4.25]
    assert t["offset"][0, :, 6, 5].tolist() == pytest.approx([0.0, 0.625])
    assert t["size"].abs().sum() == 5.5 + 4.25 and t["offset"].abs().sum() == 0.625  # zero elsewhere
    # 4.25 x 5.5 cells: radius int(0.39) = 0, the Gaussian is the centre cell alone
    assert (t["heatmap"] > 0).sum() == 1


def test_targets_gaussian_values_and_maximum_where_they_overlap():
    # a 64 x 64 px box = 16 x 16 cells: radius int(gaussian_radius(16, 16)) = int(1.31) = 1, sigma = 3 / 6
    assert int(gaussian_radius(16, 16)) == 1
    box = torch.tensor([[0.0, 0.0, 64.0, 64.0]])
    heat = centernet_targets([box], [torch.tensor([1])], output_size=(20, 20), stride=4, num_classes=1)["heatmap"]
    g = heat[0, 0]
    assert g[8, 8] == 1.0
    assert g[8, 9].item() == pytest.approx(math.exp(-2))  # exp(-1 / (2 * 0.5^2))
    assert g[9, 9].item() == pytest.approx(math.exp(-4))
    assert g[8, 10] == 0 and (g > 0).sum() == 9  # cut to the 3 x 3 window
    # a second box whose centre is two cells to the right: the overlap column keeps the maximum, not the sum
    two = torch.tensor([[0.0, 0.0, 64.0, 64.0], [8.0, 0.0, 72.0, 64.0]])
    both = centernet_targets([two], [torch.tensor([1, 1])], output_size=(20, 20), stride=4, num_classes=1)
    h2 = both["heatmap"][0, 0]
    assert h2[8, 9].item() == pytest.approx(math.exp(-2))
    assert h2[8, 10] == 1.0 and h2.max() == 1.0 and both["mask"].sum() == 2


def test_targets_batch_and_empty_images():
    t = centernet_targets(
        [torch.zeros(0, 4), torch.tensor([[0.0, 0.0, 8.0, 8.0]])],
        [torch.zeros(0, dtype=torch.long), torch.tensor([3])],
        output_size=(4, 4),
        stride=4,
        num_classes=3,
    )
    assert t["heatmap"][0].sum() == 0 and t["mask"][0].sum() == 0
    assert t["heatmap"][1, 2, 1, 1] == 1.0 and t["offset"][1, :, 1, 1].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "boxes, labels, match",
    [
        ([[0.0, 0.0, 8.0, 8.0]], [0], "labels must be in 1..3"),
        ([[0.0, 0.0, 8.0, 8.0]], [4], "labels must be in 1..3"),
        ([[4.0, 4.0, 4.0, 8.0]], [1], "no area"),
        ([[60.0, 0.0, 80.0, 8.0]], [1], "centre outside"),
        ([[0.0, 0.0, 8.0, 8.0]], [1, 2], "one label each"),
    ],
)
def test_targets_errors(boxes, labels, match):
    with pytest.raises(ValueError, match=match):
        centernet_targets([torch.tensor(boxes)], [torch.tensor(labels)], output_size=(16, 16), stride=4, num_classes=3)


def test_targets_want_one_tensor_per_image():
    with pytest.raises(ValueError, match="one .N, 4. box tensor per image"):
        centernet_targets(torch.zeros(2, 4), [torch.tensor([1, 1])], output_size=(4, 4), stride=4, num_classes=1)


# ----------------------------------------------------------------------------- losses


def test_focal_loss_known_value():
    # p = sigmoid(0) = 0.5 in both cells. Centre: -(1 - 0.5)^2 ln 0.5 = 0.25 ln 2;
    # other cell, y = 0.5: -(1 - 0.5)^4 0.5^2 ln(1 - 0.5) = 0.015625 ln 2; one object -> divide by 1
    logits = torch.zeros(1, 1, 1, 2)
    target = torch.tensor([[[[1.0, 0.5]]]])
    assert focal_loss(logits, target).item() == pytest.approx(0.265625 * math.log(2))
    # two centres: the sum is divided by 2
    assert focal_loss(logits, torch.ones(1, 1, 1, 2)).item() == pytest.approx(0.25 * math.log(2))
    # no object: the negative sum, divided by 1; a confident background costs almost nothing
    assert focal_loss(torch.full((1, 1, 2, 2), -20.0), torch.zeros(1, 1, 2, 2)).item() < 1e-15


def test_focal_loss_is_finite_for_extreme_logits_and_checks_its_input():
    logits = torch.tensor([[[[100.0, -100.0]]]], requires_grad=True)
    loss = focal_loss(logits, torch.tensor([[[[0.0, 1.0]]]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    with pytest.raises(ValueError, match="same .B, K, H, W. shape"):
        focal_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2, 2))
    with pytest.raises(ValueError, match="logits come first"):
        focal_loss(torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 3.0))


def _perfect_outputs(targets, logit=8.0):
    heat = targets["heatmap"]
    return {
        "heatmap": torch.where(heat == 1, logit, -logit),
        "size": targets["size"].clone(),
        "offset": targets["offset"].clone(),
    }


def test_centernet_loss_weights_and_perfect_regression():
    boxes = [torch.tensor([[9.0, 18.0, 31.0, 35.0], [40.0, 4.0, 60.0, 20.0]])]
    t = centernet_targets(boxes, [torch.tensor([1, 2])], output_size=(16, 16), stride=4, num_classes=2)
    out = _perfect_outputs(t)
    parts = centernet_loss(out, t)
    assert parts["size"] == 0 and parts["offset"] == 0 and parts["heatmap"] < 1e-3
    out["size"] = out["size"] + 1.0  # every centre's size off by one cell: L1 mean 1
    out["offset"] = out["offset"] - 0.5
    parts = centernet_loss(out, t)
    assert parts["size"].item() == pytest.approx(1.0) and parts["offset"].item() == pytest.approx(0.5)
    assert parts["loss"].item() == pytest.approx(parts["heatmap"].item() + 0.1 * 1.0 + 0.5)
    with pytest.raises(ValueError, match="missing 'offset'"):
        centernet_loss({"heatmap": out["heatmap"], "size": out["size"]}, t)


# ----------------------------------------------------------------------------- decoding


def _outputs(classes=2, h=8, w=8):
    return {
        "heatmap": torch.full((1, classes, h, w), -10.0),
        "size": torch.zeros(1, 2, h, w),
        "offset": torch.zeros(1, 2, h, w),
    }


def test_decode_known_values_and_peak_suppression():
    out = _outputs()
    out["heatmap"][0, 0, 2, 3] = 3.0  # a peak of class 1 at (x=3, y=2) ...
    out["heatmap"][0, 0, 2, 4] = 1.0  # ... and a lower neighbour (score 0.73): not a peak
    out["size"][0, :, 2, 3] = torch.tensor([2.0, 3.0])
    out["offset"][0, :, 2, 3] = torch.tensor([0.5, 0.25])
    out["heatmap"][0, 1, 5, 1] = 2.0  # a peak of class 2 at (x=1, y=5)
    out["size"][0, :, 5, 1] = torch.tensor([1.0, 1.0])
    (det,) = decode(out, stride=4, score_threshold=0.5)
    assert det["labels"].tolist() == [1, 2]
    assert det["scores"].tolist() == pytest.approx([torch.sigmoid(torch.tensor(3.0)).item(), 0.880797], abs=1e-6)
    # centre ((3 + 0.5) 4, (2 + 0.25) 4) = (14, 9), size (8, 12) px; centre ((1 + 0) 4, (5 + 0) 4) = (4, 20), size (4, 4)
    assert det["boxes"].tolist() == [[10.0, 3.0, 18.0, 15.0], [2.0, 18.0, 6.0, 22.0]]
    assert det["boxes"].dtype == torch.float32 and det["labels"].dtype == torch.int64
    # the same object in another class channel is a separate peak (max pooling is per class)
    out["heatmap"][0, 1, 2, 3] = 0.0
    assert len(decode(out, score_threshold=0.4)[0]["boxes"]) == 3


def test_decode_plateau_gives_one_box():
    out = _outputs(classes=1)
    out["heatmap"][0, 0, 3, 3:5] = 20.0  # two equal (saturated) neighbours: one object
    out["heatmap"][0, 0, 4, 2] = 20.0  # and one more on the row below, diagonal to the first
    out["size"][0] = 2.0
    (det,) = decode(out, score_threshold=0.5)
    assert len(det["boxes"]) == 1
    assert det["boxes"][0].tolist() == [8.0, 8.0, 16.0, 16.0]  # the first cell in row-major order, (x=3, y=3)
    keep = peaks(torch.tensor([[[[1.0, 1.0, 0.0, 1.0]]]]))
    assert keep.tolist() == [[[[True, False, False, True]]]]


def test_decode_round_trip_top_k_clipping_and_threshold():
    boxes = torch.tensor([[9.0, 18.0, 31.0, 35.0], [40.0, 4.0, 60.0, 20.0], [2.0, 44.0, 14.0, 62.0]])
    t = centernet_targets([boxes], [torch.tensor([1, 3, 1])], output_size=(16, 16), stride=4, num_classes=3)
    (det,) = decode(_perfect_outputs(t), score_threshold=0.5)
    # equal scores: compare as sets of boxes
    assert torch.allclose(det["boxes"][det["boxes"][:, 0].argsort()], boxes[boxes[:, 0].argsort()])
    assert sorted(det["labels"].tolist()) == [1, 1, 3]
    assert len(decode(_perfect_outputs(t), k=2)[0]["boxes"]) == 2
    # no threshold: every peak, and each class's flat background is one plateau, so one more peak per class
    (everything,) = decode(_perfect_outputs(t))
    assert len(everything["boxes"]) == 3 + 3
    assert everything["scores"][3:].tolist() == pytest.approx([1 / (1 + math.exp(8))] * 3)  # sigmoid(-8)
    out = _outputs(classes=1)
    out["heatmap"][0, 0, 0, 0] = 5.0
    out["size"][0, :, 0, 0] = 10.0
    assert decode(out, score_threshold=0.5)[0]["boxes"].tolist() == [[0.0, 0.0, 20.0, 20.0]]  # clipped at 0


def test_decode_errors():
    with pytest.raises(ValueError, match="'offset' is missing"):
        decode({"heatmap": torch.zeros(1, 1, 4, 4), "size": torch.zeros(1, 2, 4, 4)})
    out = _outputs()
    out["size"] = torch.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="size/offset .B, 2, H, W."):
        decode(out)
    with pytest.raises(ValueError, match="k and stride"):
        decode(_outputs(), k=0)


def test_decoded_dicts_feed_the_coco_evaluator():
    dataset = ShapesDataset(3, seed=5, size=64)
    gt = coco_from_dataset(dataset, CLASSES)
    predictions = []
    for i in range(len(dataset)):
        _, target = dataset[i]
        t = centernet_targets([target["boxes"]], [target["labels"]], output_size=(16, 16), stride=4, num_classes=3)
        predictions += decode(_perfect_outputs(t), score_threshold=0.5)
    metrics = coco_evaluate(gt, to_coco_results(predictions, [0, 1, 2]), "bbox")
    assert metrics["bbox"]["AP50"] == pytest.approx(1.0) and metrics["bbox"]["AP"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- model


def test_model_output_shapes_and_heatmap_prior():
    model = centernet_efficientnet_lite0(3, pretrained=False).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 64, 96))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "heatmap": (2, 3, 16, 24),
        "size": (2, 2, 16, 24),
        "offset": (2, 2, 16, 24),
    }
    assert model.heatmap[-1].bias.tolist() == pytest.approx([math.log(0.1 / 0.9)] * 3)
    assert model.stride == 4 and model.num_classes == 3


def test_pretrained_encoder_holds_the_imagenet_weights():
    model = centernet_efficientnet_lite0(1)
    reference = load_pretrained("efficientnet_lite0").model.net._blocks[4]._depthwise_conv.weight
    assert torch.equal(model.encoder.blocks[4]._depthwise_conv.weight, reference)
    assert not any(p.requires_grad for p in model.encoder.stem.parameters())
    assert all(p.requires_grad for p in centernet_efficientnet_lite0(1, pretrained=False).encoder.stem.parameters())


def test_model_errors():
    model = CenterNet(EfficientNetLite0(), 2)
    with pytest.raises(ValueError, match="divisible by 16"):
        model(torch.rand(1, 3, 40, 64))
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match="must be float"):
        model(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match="number of object classes"):
        centernet_efficientnet_lite0(0, pretrained=False)


# ----------------------------------------------------------------------------- training and evaluation


def test_flip_crop_moves_and_drops_boxes():
    boxes = torch.tensor([[10.0, 0.0, 20.0, 8.0], [40.0, 40.0, 60.0, 60.0]])
    flipped, keep = _flip_crop(boxes, 64, True, (0, 0, 64, 64), 0.0)
    assert flipped.tolist() == [[44.0, 0.0, 54.0, 8.0], [4.0, 40.0, 24.0, 60.0]] and keep.all()
    # window y 4..36, x 16..48: the first box keeps a 4 x 4 corner, the second only a line (dropped)
    cut, keep = _flip_crop(boxes, 64, False, (4, 16, 32, 32), 4.0)
    assert cut.tolist() == [[0.0, 0.0, 4.0, 4.0], [24.0, 32.0, 32.0, 32.0]] and keep.tolist() == [True, False]
    _, keep = _flip_crop(boxes, 64, False, (4, 16, 32, 32), 5.0)
    assert keep.tolist() == [False, False]


def test_train_and_evaluate_smoke():
    torch.manual_seed(0)
    model = centernet_efficientnet_lite0(3, pretrained=False, decoder=(16, 16), head_channels=8)
    dataset = ShapesDataset(4, seed=3, size=64)
    losses = train_centernet(model, dataset, steps=3, batch_size=2, crop=48, progress=False)
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses) and not model.training
    losses = train_centernet(model, dataset, steps=1, batch_size=2, progress=False)  # whole images, no schedule
    assert len(losses) == 1
    result = evaluate_centernet(model, dataset, CLASSES, k=10)
    assert set(result["bbox"]) >= {"AP", "AP50"} and -1 <= result["bbox"]["AP"] <= 1
    assert len(result["predictions"]) == 4 and all(len(p["boxes"]) == 10 for p in result["predictions"])
    det = centernet_detect(model, torch.rand(2, 3, 64, 64), k=5, score_threshold=0.0)
    assert [len(d["scores"]) for d in det] == [5, 5]


def test_train_and_detect_errors():
    model = centernet_efficientnet_lite0(3, pretrained=False, decoder=(16, 16), head_channels=8)
    dataset = ShapesDataset(2, seed=3, size=64)
    with pytest.raises(ValueError, match="multiple of 16"):
        train_centernet(model, dataset, steps=1, crop=40, progress=False)
    with pytest.raises(ValueError, match="steps >= 1"):
        train_centernet(model, dataset, steps=0, progress=False)
    with pytest.raises(ValueError, match="empty"):
        train_centernet(model, ShapesDataset(0), steps=1, progress=False)
    with pytest.raises(ValueError, match="divide by 255"):
        centernet_detect(model, torch.full((1, 3, 64, 64), 200.0))
