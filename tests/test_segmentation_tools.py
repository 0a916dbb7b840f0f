"""cvlib.segmentation's training, inference, panoptic and drawing helpers (lesson 08), and the dataset
and model hooks they use: SegScenesDataset / PetSegmentation ``tensors()`` and ``panoptic()``,
TorchvisionSegmenter ``encoder``."""

import copy

import fullfixtures
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from PIL import Image
from torch import nn

from cvlib.data.pets import PetSegmentation
from cvlib.data.segscenes import IGNORE, STUFF_CLASSES, THING_CLASSES, SegScenesDataset, panoptic_target
from cvlib.detection.drawing import class_color
from cvlib.models.segmenters import torchvision_segmenter
from cvlib.segmentation import (
    IGNORE_INDEX,
    class_colors,
    colorize,
    colorize_panoptic,
    concat_panoptic,
    connected_instances,
    merge_panoptic,
    panoptic_quality,
    segment,
    show_segmentation,
    train_segmenter,
)

# ----------------------------------------------------------------------------- helpers


def toy_task(n=16, height=16, width=16, seed=0):
    """Random images whose mask is a threshold of the red channel: a 1x1 convolution can learn it."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, height, width, generator=g)
    return images, (images[:, 0] > 0.5).long()


def conv(seed=0, classes=2):
    torch.manual_seed(seed)
    return nn.Conv2d(3, classes, 1)


class EncoderHead(nn.Module):
    """A two-layer per-pixel net with an ``encoder`` submodule, as the lesson-08 networks have."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Conv2d(3, 4, 1)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.head(torch.relu(self.encoder(x)))


class Recorder(nn.Module):
    """A 1x1 convolution that keeps a copy of every batch it sees."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.conv(x)


def train(model, images, masks, **kwargs):
    kwargs = {"loss_fn": F.cross_entropy, "steps": 20, "batch_size": 8, "lr": 0.05, "progress": False, **kwargs}
    return train_segmenter(model, images, masks, **kwargs)


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def unchanged(before, module, atol=1e-9):
    return all(torch.allclose(a, b, rtol=0, atol=atol) for a, b in zip(before, module.parameters()))


# ----------------------------------------------------------------------------- train_segmenter


def test_training_lowers_the_loss_returns_one_loss_per_step_and_leaves_eval_mode():
    images, masks = toy_task(32)
    model = conv()
    losses = train(model, images, masks, steps=60, lr=0.3)
    assert len(losses) == 60 and all(isinstance(v, float) for v in losses)
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:5])
    assert not model.training
    labels, _ = segment(model, images)
    assert (labels == masks).float().mean() > 0.9  # it learnt the threshold, not just a lower loss


def test_one_step_and_batches_larger_than_the_set_work():
    images, masks = toy_task(3)
    assert len(train(conv(), images, masks, steps=1, batch_size=8)) == 1


def test_same_seed_and_init_give_identical_runs_another_seed_differs():
    images, masks = toy_task()
    a, b, c = conv(), conv(), conv()
    runs = [train(m, images, masks, seed=s) for m, s in ((a, 3), (b, 3), (c, 4))]
    assert runs[0] == runs[1]
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert runs[0] != runs[2]


def test_uint8_images_train_exactly_as_float_images_divided_by_255():
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (8, 3, 8, 8), dtype=torch.uint8, generator=g)
    masks = (images[:, 0] > 127).long()
    a, b = conv(), conv()
    assert train(a, images, masks) == train(b, images.float() / 255, masks)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_crops_and_flips_keep_image_and_mask_aligned():
    # channel 0: random (the mask is its threshold); channels 1 and 2: each pixel's own row and column / 15
    n, side, crop = 4, 16, 8
    images, _ = toy_task(n, side, side)
    coords = torch.arange(side, dtype=torch.float32) / (side - 1)
    images[:, 1] = coords[:, None]
    images[:, 2] = coords[None, :]
    masks = (images[:, 0] > 0.5).long()
    targets = []

    def loss_fn(logits, y):
        targets.append(y.clone())
        return F.cross_entropy(logits, y)

    model = Recorder()
    train(model, images, masks, loss_fn=loss_fn, steps=12, batch_size=6, crop=crop)
    assert len(model.seen) == len(targets) == 12
    windows, flips = set(), set()
    for x, y in zip(model.seen, targets):
        assert x.shape == (6, 3, crop, crop) and y.shape == (6, crop, crop)
        assert torch.equal(y, (x[:, 0] > 0.5).long())  # the mask moved with the image
        rows = (x[:, 1] * (side - 1)).round().long()
        cols = (x[:, 2] * (side - 1)).round().long()
        i0 = rows[:, 0, 0]
        assert torch.equal(rows, i0[:, None, None] + torch.arange(crop)[None, :, None].expand(6, crop, crop))
        step = cols[:, 0, 1] - cols[:, 0, 0]  # +1 as stored, -1 when flipped
        assert set(step.tolist()) <= {-1, 1}
        assert torch.equal(cols, cols[:, :, :1] + step[:, None, None] * torch.arange(crop))
        # one window for the whole batch, in the (possibly flipped) image's own coordinates
        j0 = torch.where(step > 0, cols[:, 0, 0], side - 1 - cols[:, 0, 0])
        assert len(set(i0.tolist())) == 1 and len(set(j0.tolist())) == 1
        windows.add((int(i0[0]), int(j0[0])))
        flips |= set(step.tolist())
    assert flips == {-1, 1} and len(windows) > 3


def test_encoder_parameters_get_their_own_learning_rate():
    images, masks = toy_task()
    torch.manual_seed(0)
    init = EncoderHead()
    slow, default = copy.deepcopy(init), copy.deepcopy(init)
    train(slow, images, masks, encoder_lr=1e-12)
    train(default, images, masks)
    assert unchanged(params(init.encoder), slow.encoder)
    assert not unchanged(params(init.head), slow.head, atol=1e-4)
    assert not unchanged(params(init.encoder), default.encoder, atol=1e-4)


def test_optimizer_gets_one_group_per_learning_rate(monkeypatch):
    made = []

    class Recording(torch.optim.AdamW):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(torch.optim, "AdamW", Recording)
    images, masks = toy_task(4)
    model = EncoderHead()
    train(model, images, masks, steps=2, lr=0.02, encoder_lr=0.001)
    groups = made[-1].param_groups
    assert [g["max_lr"] for g in groups] == [0.001, 0.02]
    assert [id(p) for p in groups[0]["params"]] == [id(p) for p in model.encoder.parameters()]
    assert [id(p) for p in groups[1]["params"]] == [id(p) for p in model.head.parameters()]
    train(conv(), images, masks, steps=2, encoder_lr=0.001)  # no encoder: encoder_lr has nothing to act on
    assert [g["max_lr"] for g in made[-1].param_groups] == [0.05]


def test_zero_encoder_learning_rate_freezes_the_encoder():
    images, masks = toy_task()
    torch.manual_seed(0)
    model = EncoderHead()
    before = params(model.encoder)
    train(model, images, masks, encoder_lr=0.0)
    assert unchanged(before, model.encoder, atol=0)


def test_frozen_parameters_stay_frozen_and_a_fully_frozen_model_is_refused():
    images, masks = toy_task(4)
    torch.manual_seed(0)
    model = EncoderHead()
    model.encoder.requires_grad_(False)
    before = params(model.encoder)
    train(model, images, masks, steps=3)
    assert unchanged(before, model.encoder, atol=0)
    with pytest.raises(ValueError, match="no trainable parameter"):
        train(conv().requires_grad_(False), images, masks)


@pytest.mark.parametrize(
    ("images", "masks", "kwargs", "match"),
    [
        ((4, 3, 16, 16), (4, 16, 15), {}, r"expects images \(N, 3, H, W\) and masks \(N, H, W\)"),
        ((4, 3, 16, 16), (3, 16, 16), {}, r"got \(4, 3, 16, 16\) and \(3, 16, 16\)"),
        ((4, 1, 16, 16), (4, 16, 16), {}, "expects images"),
        ((4, 3, 16, 16), (4, 16, 16), {"crop": 17}, r"crop must be in 1\.\.16 .*got 17"),
        ((4, 3, 16, 12), (4, 16, 12), {"crop": 13}, r"crop must be in 1\.\.12 .*got 13"),
        ((4, 3, 16, 16), (4, 16, 16), {"crop": 0}, "crop must be in"),
        ((0, 3, 16, 16), (0, 16, 16), {}, "need at least one image, step and batch element, got 0"),
        ((4, 3, 16, 16), (4, 16, 16), {"steps": 0}, "need at least one image"),
        ((4, 3, 16, 16), (4, 16, 16), {"batch_size": 0}, "need at least one image"),
    ],
)
def test_bad_training_inputs_are_one_clear_error(images, masks, kwargs, match):
    model = conv()
    before = params(model)
    with pytest.raises(ValueError, match=match) as err:
        train(model, torch.rand(images), torch.zeros(masks, dtype=torch.long), **kwargs)
    assert "\n" not in str(err.value)
    assert unchanged(before, model, atol=0)


def test_a_nan_loss_stops_training_with_a_hint():
    images, masks = toy_task(4)
    with pytest.raises(FloatingPointError, match="at step 0: lower the learning rate"):
        train(conv(), images, masks, loss_fn=lambda logits, y: logits.sum() * float("nan"))


def test_torchvision_segmenter_encoder_is_its_backbone_and_gets_encoder_lr():
    torch.manual_seed(0)
    model = torchvision_segmenter(2, pretrained=False)
    assert model.encoder is model.net.backbone
    encoder_ids = {id(p) for p in model.encoder.parameters()}
    all_ids = {id(p) for p in model.parameters()}
    assert encoder_ids and encoder_ids < all_ids  # the head is not part of it
    assert all(id(p) not in encoder_ids for p in model.net.classifier.parameters())
    before_encoder, before_head = params(model.encoder), params(model.net.classifier)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=g)
    masks = torch.randint(0, 2, (2, 32, 32), generator=g)
    losses = train(model, images, masks, steps=2, batch_size=2, lr=0.01, encoder_lr=1e-12)
    assert len(losses) == 2 and not model.training
    assert unchanged(before_encoder, model.encoder, atol=1e-8)
    assert not unchanged(before_head, model.net.classifier, atol=1e-5)


# ----------------------------------------------------------------------------- segment


def test_segment_gives_argmax_labels_and_their_softmax_probability():
    torch.manual_seed(0)
    model = nn.Conv2d(3, 4, 1)
    images = torch.rand(5, 3, 6, 7)
    labels, confidence = segment(model, images, batch_size=2)  # 2 does not divide 5
    with torch.no_grad():
        logits = model(images)
    assert labels.shape == confidence.shape == (5, 6, 7)
    assert labels.dtype == torch.int64 and confidence.dtype == torch.float32
    assert torch.equal(labels, logits.argmax(1))
    assert torch.allclose(confidence, logits.softmax(1).amax(1))
    assert float(confidence.min()) >= 0.25 and float(confidence.max()) <= 1.0  # at least 1 / C
    one_batch = segment(model, images, batch_size=50)
    assert torch.equal(one_batch[0], labels) and torch.allclose(one_batch[1], confidence)


def test_segment_runs_in_eval_mode_and_restores_the_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Dropout(0.9))
    images = torch.rand(3, 3, 8, 8)
    model.eval()
    with torch.no_grad():
        expected = model(images).argmax(1)
    model.train()
    labels, _ = segment(model, images)
    assert torch.equal(labels, expected)  # no dropout inside
    assert model.training and model[1].training
    model.eval()
    segment(model, images)
    assert not model.training


def test_segment_takes_uint8_as_float_divided_by_255():
    torch.manual_seed(0)
    model = nn.Conv2d(3, 3, 1)
    images = torch.randint(0, 256, (4, 3, 5, 5), dtype=torch.uint8)
    a, b = segment(model, images), segment(model, images.float() / 255)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((3, 8, 8), r"segment expects images \(N, 3, H, W\), got \(3, 8, 8\)"),
        ((2, 1, 8, 8), "segment expects"),
        ((0, 3, 8, 8), "segment got no image"),
    ],
)
def test_segment_refuses_bad_images(shape, match):
    with pytest.raises(ValueError, match=match):
        segment(nn.Conv2d(3, 2, 1), torch.rand(shape))


# ----------------------------------------------------------------------------- connected_instances


def hand_map():
    """8x8 class map: stuff 0, two 2x2 squares of class 4 (A top-left, B lower right), one pixel of
    class 4 touching B only diagonally, and a 3x3 square of class 5 (C top-right)."""
    sem = torch.zeros(8, 8, dtype=torch.long)
    sem[0:2, 0:2] = 4  # A
    sem[5:7, 5:7] = 4  # B
    sem[4, 4] = 4  # speck, diagonal to B's (5, 5)
    sem[0:3, 5:8] = 5  # C
    return sem


def region(*slices):
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[slices] = True
    return mask


A, B, C = region(slice(0, 2), slice(0, 2)), region(slice(5, 7), slice(5, 7)), region(slice(0, 3), slice(5, 8))
SPECK = region(4, 4)


def test_each_connected_region_of_a_thing_class_is_one_instance():
    masks, labels, scores = connected_instances(hand_map(), (4, 5, 6))
    assert masks.dtype == torch.bool and labels.dtype == torch.int64 and scores.dtype == torch.float32
    assert masks.shape == (4, 8, 8)
    assert labels.tolist() == [4, 4, 4, 5]
    assert [m.tolist() for m in masks] == [m.tolist() for m in (A, SPECK, B, C)]
    assert scores.tolist() == pytest.approx([4 / 64, 1 / 64, 4 / 64, 9 / 64])  # default: area share


def test_connectivity_two_joins_diagonal_neighbours_and_min_area_drops_specks():
    masks, labels, _ = connected_instances(hand_map(), (4,), connectivity=2)
    assert labels.tolist() == [4, 4]
    assert [m.tolist() for m in masks] == [A.tolist(), (B | SPECK).tolist()]
    masks, labels, _ = connected_instances(hand_map(), (4, 5), min_area=2)
    assert labels.tolist() == [4, 4, 5]
    assert [m.tolist() for m in masks] == [m.tolist() for m in (A, B, C)]
    assert len(connected_instances(hand_map(), (4, 5), min_area=5)[1]) == 1  # only C has 9 >= 5 pixels


def test_scores_are_the_mean_confidence_of_each_instance():
    confidence = torch.full((8, 8), 0.5)
    confidence[A], confidence[B], confidence[C], confidence[SPECK] = 0.9, 0.6, 0.8, 0.3
    confidence[0, 0] = 0.5  # A: (3 * 0.9 + 0.5) / 4
    _, labels, scores = connected_instances(hand_map(), (4, 5), confidence=confidence, connectivity=2)
    assert labels.tolist() == [4, 4, 5]
    assert scores.tolist() == pytest.approx([0.8, (4 * 0.6 + 0.3) / 5, 0.8])


def test_no_thing_pixel_gives_empty_results_of_the_right_shapes():
    masks, labels, scores = connected_instances(hand_map(), (6,))
    assert masks.shape == (0, 8, 8) and masks.dtype == torch.bool
    assert labels.shape == (0,) and labels.dtype == torch.int64
    assert scores.shape == (0,) and scores.dtype == torch.float32
    ids, categories = merge_panoptic(hand_map(), masks, labels, scores, stuff_classes=(0,))
    assert categories == {1: 0} and torch.equal(ids, (hand_map() == 0).long())


def test_connected_instances_and_merge_panoptic_rebuild_separate_instances_exactly():
    sem = hand_map()
    instances = torch.zeros_like(sem)
    for k, m in enumerate((A, B, C, SPECK), start=1):
        instances[m] = k
    truth = panoptic_target(sem, instances)
    masks, labels, scores = connected_instances(sem, THING_CLASSES)
    pred = merge_panoptic(sem, masks, labels, scores, stuff_classes=STUFF_CLASSES)
    result = panoptic_quality(*pred, *truth)
    assert result.pq == result.sq == result.rq == 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"semantic": torch.zeros(8, 8)}, r"semantic must be an \(H, W\) integer map, got \(8, 8\) torch.float32"),
        ({"semantic": torch.zeros(1, 8, 8, dtype=torch.long)}, r"integer map, got \(1, 8, 8\)"),
        ({"confidence": torch.ones(8, 7)}, r"confidence \(8, 7\) must have the semantic map's shape"),
        ({"connectivity": 3}, "connectivity must be 1 .* or 2 .*, got 3"),
    ],
)
def test_connected_instances_refuses_bad_inputs(kwargs, match):
    kwargs = {"semantic": hand_map(), "thing_classes": (4,), **kwargs}
    with pytest.raises(ValueError, match=match):
        connected_instances(**kwargs)


# ----------------------------------------------------------------------------- concat_panoptic


def test_concat_shifts_ids_so_images_do_not_share_one_and_keeps_void():
    first = (torch.tensor([[1, 1], [2, 0]]), {1: 4, 2: 0})
    second = (torch.tensor([[1, 2], [0, 2]]), {1: 5, 2: 1})
    ids, categories = concat_panoptic([first, second])
    assert ids.shape == (2, 2, 2) and ids.dtype == torch.int64
    assert ids.tolist() == [[[1, 1], [2, 0]], [[3, 4], [0, 4]]]
    assert categories == {1: 4, 2: 0, 3: 5, 4: 1}
    # a category entry above the largest id present still gets no partner
    ids, categories = concat_panoptic([(torch.tensor([[1, 0]]), {1: 4, 7: 2}), (torch.tensor([[1, 1]]), {1: 3})])
    assert ids.tolist() == [[[1, 0]], [[8, 8]]] and categories == {1: 4, 7: 2, 8: 3}
    assert concat_panoptic([first])[0].tolist() == [first[0].tolist()]
    with pytest.raises(ValueError, match="at least one"):
        concat_panoptic([])


def test_panoptic_quality_of_a_concatenated_set_equals_the_hand_computed_value():
    # image 1 predicted perfectly (with other ids); image 2: the second of two circles is missed (painted stuff)
    true1 = torch.zeros(4, 4, dtype=torch.long) + 2
    true1[:2, :2] = 1
    pred1 = torch.where(true1 == 1, 2, 1)
    true2 = torch.full((4, 4), 3)
    true2[:2, :2], true2[2:, 2:] = 1, 2
    pred2 = torch.where(true2 == 1, 1, 2)
    truth = concat_panoptic([(true1, {1: 4, 2: 0}), (true2, {1: 4, 2: 4, 3: 0})])
    pred = concat_panoptic([(pred1, {1: 0, 2: 4}), (pred2, {1: 4, 2: 0})])
    result = panoptic_quality(*pred, *truth)
    # circles: 2 matches of IoU 1, 1 missed -> PQ = 2 / (2 + 1/2); stuff: IoUs 1 and 8/12, no miss
    assert result.per_category[4] == pytest.approx((0.8, 1.0, 0.8, 2, 0, 1))
    assert result.per_category[0] == pytest.approx((5 / 6, 5 / 6, 1.0, 2, 0, 0))
    assert result.pq == pytest.approx((0.8 + 5 / 6) / 2)
    assert result.sq == pytest.approx((1 + 5 / 6) / 2) and result.rq == pytest.approx(0.9)


# ----------------------------------------------------------------------------- drawing


def test_class_colors_are_lesson_03_colours_shifted_by_one():
    colours = class_colors(7)
    assert colours.shape == (7, 3) and colours.dtype == np.float64
    for c in range(7):
        assert tuple(colours[c]) == to_rgb(class_color(c + 1))
    assert len({tuple(row) for row in colours}) == 7


def test_colorize_paints_each_class_in_its_colour_and_ignored_pixels_white():
    labels = torch.tensor([[0, 1, 2], [2, IGNORE_INDEX, 0]])
    rgb = colorize(labels, 3)
    colours = class_colors(3)
    assert rgb.shape == (2, 3, 3) and rgb.dtype == np.float64
    for (i, j), c in np.ndenumerate(labels.numpy()):
        expected = np.ones(3) if c == IGNORE_INDEX else colours[c]
        assert np.array_equal(rgb[i, j], expected)
    custom = colorize(torch.tensor([[7, 1]]), 2, ignore_index=7)
    assert np.array_equal(custom[0, 0], np.ones(3)) and np.array_equal(custom[0, 1], class_colors(2)[1])


@pytest.mark.parametrize(
    ("labels", "kwargs", "match"),
    [
        (torch.tensor([[0, 3]]), {}, r"class labels must be in 0\.\.2 \(or 255\)"),
        (torch.tensor([[-1, 0]]), {}, r"class labels must be in 0\.\.2"),
        (torch.tensor([[0, 255]]), {"ignore_index": 7}, r"0\.\.2 \(or 7\)"),
        (torch.zeros(2, 2, 2, dtype=torch.long), {}, r"one \(H, W\) class map, got shape \(2, 2, 2\)"),
    ],
)
def test_colorize_refuses_bad_labels(labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        colorize(labels, 3, **kwargs)


def panoptic_map():
    """8x8: segment 1 (stuff class 0) on the left half, things 2 and 3 (class 4) above each other on the
    right, void (0) in the lower-left corner."""
    ids = torch.ones(8, 8, dtype=torch.long)
    ids[:4, 4:], ids[4:, 4:], ids[6:, :2] = 2, 3, 0
    return ids, {1: 0, 2: 4, 3: 4}


def test_colorize_panoptic_shades_segments_draws_black_borders_and_white_void():
    ids, categories = panoptic_map()
    rgb = colorize_panoptic(ids, categories, 7)
    assert rgb.shape == (8, 8, 3)
    assert (rgb[6:, :2] == 1.0).all()  # void
    assert (rgb[:, 3] == 0).all() and (rgb[:, 4] == 0).all()  # between 1 and 2 / 3
    assert (rgb[3, 4:] == 0).all() and (rgb[4, 4:] == 0).all()  # between 2 and 3
    colours = class_colors(7)
    shades = {}
    for seg, (rows, cols) in {1: (slice(0, 4), slice(0, 2)), 2: (slice(0, 3), slice(5, 8))}.items():
        ratio = rgb[rows, cols] / colours[categories[seg]]
        shades[seg] = ratio[0, 0, 0]
        assert np.allclose(ratio, shades[seg]) and 0.45 <= shades[seg] <= 1.0  # one shade per segment
    ratio3 = rgb[5:, 5:] / colours[4]
    assert np.allclose(ratio3, ratio3[0, 0, 0]) and not np.isclose(ratio3[0, 0, 0], shades[2])  # two circles differ
    assert np.array_equal(colorize_panoptic(ids, categories, 7), rgb)
    assert not np.array_equal(colorize_panoptic(ids, categories, 7, seed=1), rgb)


def segmentation_case():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2, 3, 6, 6), dtype=torch.uint8, generator=g)
    truth = torch.randint(0, 3, (2, 6, 6), generator=g)
    truth[0, 0] = IGNORE_INDEX  # 6 ignored pixels
    pred = truth.clone()
    pred[0, 0] = 1
    pred[0, 1, :3] = (truth[0, 1, :3] + 1) % 3  # 3 errors out of 30 counted pixels
    return images, truth, pred


def test_show_segmentation_draws_image_truth_prediction_and_errors_per_row():
    images, truth, pred = segmentation_case()
    names = ["sky", "water", "circle"]
    fig = show_segmentation(images, truth, pred, names)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 8
    for k, ax in enumerate(fig.axes):
        assert ax.get_subplotspec().get_geometry()[:2] == (2, 4) and len(ax.images) == 1
        assert divmod(k, 4) == (ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["image", "truth", "prediction", "errors (10%)", "image", "truth", "prediction", "errors (0%)"]
    panels = [np.asarray(ax.images[0].get_array()) for ax in fig.axes[:4]]
    assert np.allclose(panels[0], images[0].permute(1, 2, 0).numpy() / 255)
    assert np.array_equal(panels[1], colorize(truth[0], 3)) and np.array_equal(panels[2], colorize(pred[0], 3))
    errors = panels[3]
    assert np.allclose(errors[0], 0.7)  # ignored: grey
    assert np.allclose(errors[1, :3], (0.85, 0.1, 0.1)) and (errors[1:][(pred[0] == truth[0])[1:].numpy()] == 1).all()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == names
    assert [t.get_text() for t in fig.texts] == ["Held-out images: truth, prediction and errors"]
    plt.close(fig)
    fig = show_segmentation(images[:1].float() / 255, truth[:1], pred[:1], names, title="one")
    assert len(fig.axes) == 4 and [t.get_text() for t in fig.texts] == ["one"]
    plt.close(fig)


@pytest.mark.parametrize("which", ["truth", "pred", "images"])
def test_show_segmentation_refuses_mismatched_shapes(which):
    case = dict(zip(("images", "truth", "pred"), segmentation_case()))
    case[which] = case[which][:, :5] if which != "images" else case[which][0]
    with pytest.raises(ValueError, match=r"expected images \(N, 3, H, W\) with truth and pred \(N, H, W\)"):
        show_segmentation(case["images"], case["truth"], case["pred"], ["a", "b", "c"])


# ----------------------------------------------------------------------------- datasets


@pytest.fixture(scope="module")
def scenes():
    return SegScenesDataset(4, size=64, seed=0)


def test_segscenes_dataset_accepts_its_documented_smallest_sizes():
    for size in (32, 48):  # documented: size 32..1024; the default thing sizes are capped at size / 2
        assert SegScenesDataset(1, size=size).images.shape == (1, 3, size, size)
    with pytest.raises(ValueError, match="size"):
        SegScenesDataset(1, size=16)


def test_segscenes_dataset_default_scenes_unchanged_at_96_px():
    from cvlib.data.segscenes import make_segscenes

    direct = make_segscenes(2, seed=3, size=96)
    assert torch.equal(
        SegScenesDataset(2, size=96, seed=3).semantic, torch.from_numpy(np.stack([s.semantic for s in direct]))
    )


def test_segscenes_class_roles(scenes):
    assert scenes.stuff_classes == STUFF_CLASSES == (0, 1, 2, 3)
    assert scenes.thing_classes == THING_CLASSES == (4, 5, 6)
    assert scenes.ignore_index == IGNORE == IGNORE_INDEX
    assert sorted(scenes.stuff_classes + scenes.thing_classes) == list(range(len(scenes.classes)))


def test_segscenes_tensors_are_the_stored_tensors(scenes):
    images, semantic = scenes.tensors()
    assert images is scenes.images and semantic is scenes.semantic
    assert images.shape == (4, 3, 64, 64) and images.dtype == torch.uint8
    assert semantic.shape == (4, 64, 64) and semantic.dtype == torch.int64
    for i in range(4):
        image, sem = scenes[i]
        assert torch.equal(images[i].float() / 255, image) and torch.equal(semantic[i], sem)


def test_segscenes_panoptic_is_the_exact_truth(scenes):
    for i in range(4):
        ids, categories = scenes.panoptic(i)
        expected_ids, expected_categories = panoptic_target(scenes.semantic[i], scenes.instances[i])
        assert torch.equal(ids, expected_ids) and categories == expected_categories
        assert ids.shape == (64, 64) and (ids > 0).all()
        for k in torch.unique(scenes.instances[i][scenes.instances[i] > 0]).tolist():
            assert categories[k] in THING_CLASSES and torch.equal(ids == k, scenes.instances[i] == k)
        assert panoptic_quality(ids, categories, ids, categories).pq == 1.0


def test_oracle_semantic_map_through_the_panoptic_pipeline_gets_stuff_exactly_right(scenes):
    preds, truths = [], []
    for i in range(len(scenes)):
        sem = scenes.semantic[i]
        masks, labels, scores = connected_instances(sem, scenes.thing_classes)
        preds.append(merge_panoptic(sem, masks, labels, scores, stuff_classes=scenes.stuff_classes))
        truths.append(scenes.panoptic(i))
    pred, truth = concat_panoptic(preds), concat_panoptic(truths)
    assert (pred[0] > 0).all()
    result = panoptic_quality(*pred, *truth)
    present_stuff = set(torch.unique(scenes.semantic).tolist()) & set(STUFF_CLASSES)
    assert present_stuff and all(result.per_category[c][0] == 1.0 for c in present_stuff)
    assert 0.0 < result.pq <= 1.0


@pytest.fixture
def pet_root(tmp_path):
    fullfixtures.pets_folder(tmp_path)  # 12 trainval + 8 test images, 40x32
    return tmp_path


def test_pet_tensors_are_the_items_decoded_once(pet_root):
    ds = PetSegmentation(root=pet_root, size=24, download=False, limit=5)
    images, masks = ds.tensors(progress=False)
    assert images.shape == (5, 3, 24, 24) and images.dtype == torch.uint8
    assert masks.shape == (5, 24, 24) and masks.dtype == torch.int64
    for i in range(5):
        image, mask = ds[i]
        assert torch.equal(images[i], (image * 255).round().to(torch.uint8))
        assert torch.equal(masks[i], mask)
    assert torch.allclose(images.float() / 255, torch.stack([ds[i][0] for i in range(5)]), atol=0.5 / 255 + 1e-6)
    assert set(masks.unique().tolist()) == {0, 1, 255}


def test_pet_panoptic_is_pet_thing_background_stuff_and_void_border(pet_root):
    ds = PetSegmentation(root=pet_root, size=24, download=False)
    for i in (0, 7):
        ids, categories = ds.panoptic(i)
        mask = ds[i][1]
        assert ids.shape == (24, 24) and ids.dtype == torch.int64
        assert (
            torch.equal(ids == 1, mask == 1) and torch.equal(ids == 2, mask == 0) and torch.equal(ids == 0, mask == 255)
        )
        assert categories == {1: 1, 2: 0}
        assert categories[1] in ds.thing_classes and categories[2] in ds.stuff_classes
    # a photo with no pet pixel: only the background segment is listed
    Image.fromarray(np.full((32, 40), 2, dtype=np.uint8)).save(
        ds.folder / "annotations" / "trimaps" / f"{ds.ids[0]}.png"
    )
    ids, categories = ds.panoptic(0)
    assert categories == {2: 0} and (ids == 2).all()
