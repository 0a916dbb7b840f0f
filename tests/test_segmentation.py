"""cvlib.segmentation: confusion-matrix metrics against torchmetrics, and Panoptic Quality on hand-made cases."""

import math

import pytest
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from cvlib.segmentation import (
    IGNORE_INDEX,
    confusion_matrix,
    dice_loss,
    iou_per_class,
    mean_iou,
    merge_panoptic,
    panoptic_quality,
    pixel_accuracy,
    segmentation_confusion,
)


def test_confusion_matrix_counts_known_pixels_and_skips_ignored_ones():
    target = torch.tensor([[0, 0, 1], [1, 2, IGNORE_INDEX]])
    pred = torch.tensor([[0, 1, 1], [1, 0, 2]])
    cm = confusion_matrix(pred, target, 3)
    assert cm.dtype == torch.int64
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert pixel_accuracy(cm) == pytest.approx(3 / 5)
    iou = iou_per_class(cm)
    assert iou.tolist() == pytest.approx([1 / 3, 2 / 3, 0.0])
    assert mean_iou(cm) == pytest.approx(1 / 3)


def test_class_absent_from_truth_and_prediction_is_not_averaged():
    cm = confusion_matrix(torch.tensor([0, 0, 1]), torch.tensor([0, 0, 1]), 4)
    assert math.isnan(float(iou_per_class(cm)[2])) and math.isnan(float(iou_per_class(cm)[3]))
    assert mean_iou(cm) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_miou_and_per_class_iou_agree_with_torchmetrics(seed):
    g = torch.Generator().manual_seed(seed)
    num_classes = 6
    target = torch.randint(0, num_classes, (4, 32, 32), generator=g)
    target[:, :3] = IGNORE_INDEX
    noise = torch.randint(0, num_classes, target.shape, generator=g)
    pred = torch.where(torch.rand(target.shape, generator=g) < 0.6, target.clamp(max=num_classes - 1), noise)
    cm = confusion_matrix(pred, target, num_classes)
    ref_per_class = MulticlassJaccardIndex(num_classes, average="none", ignore_index=IGNORE_INDEX)(pred, target)
    ref_mean = MulticlassJaccardIndex(num_classes, average="macro", ignore_index=IGNORE_INDEX)(pred, target)
    ref_acc = MulticlassAccuracy(num_classes, average="micro", ignore_index=IGNORE_INDEX)(pred, target)
    assert torch.allclose(iou_per_class(cm), ref_per_class.double(), atol=1e-6)
    assert mean_iou(cm) == pytest.approx(float(ref_mean), abs=1e-6)
    assert pixel_accuracy(cm) == pytest.approx(float(ref_acc), abs=1e-6)


def test_pixel_accuracy_hides_a_missed_small_class_that_miou_shows():
    target = torch.zeros(100, dtype=torch.long)
    target[:5] = 1  # a small class: 5 % of the pixels
    pred = torch.zeros(100, dtype=torch.long)  # never predicts it
    cm = confusion_matrix(pred, target, 2)
    assert pixel_accuracy(cm) == pytest.approx(0.95)
    assert mean_iou(cm) == pytest.approx((0.95 + 0.0) / 2)


@pytest.mark.parametrize(
    ("pred", "target", "num_classes", "message"),
    [
        (torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long), 2, "differ in shape"),
        (torch.zeros(2, 2), torch.zeros(2, 2, dtype=torch.long), 2, "integer labels"),
        (torch.full((2, 2), 3), torch.zeros(2, 2, dtype=torch.long), 3, "prediction labels must be in 0..2"),
        (torch.zeros(2, 2, dtype=torch.long), torch.full((2, 2), 7), 3, "target labels must be in 0..2"),
        (torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long), 0, "num_classes"),
    ],
)
def test_confusion_matrix_rejects_bad_input_with_one_clear_line(pred, target, num_classes, message):
    with pytest.raises(ValueError, match=message):
        confusion_matrix(pred, target, num_classes)


def test_empty_confusion_matrix_is_an_error():
    cm = confusion_matrix(torch.tensor([0]), torch.tensor([IGNORE_INDEX]), 2)
    with pytest.raises(ValueError, match="empty"):
        mean_iou(cm)
    with pytest.raises(ValueError, match="empty"):
        pixel_accuracy(cm)


# Panoptic Quality: hand-made 1-D "images" (the metric does not care about the layout).


def test_perfect_panoptic_prediction_scores_one():
    ids = torch.tensor([1, 1, 2, 2, 3, 3, 3])
    cats = {1: 0, 2: 5, 3: 5}  # one stuff segment (category 0), two instances of category 5
    result = panoptic_quality(ids, cats, ids.clone(), cats)
    assert (result.pq, result.sq, result.rq) == (1.0, 1.0, 1.0)
    assert result.per_category[5] == (1.0, 1.0, 1.0, 2, 0, 0)


def test_pq_with_a_partial_match_an_unmatched_prediction_and_a_missed_segment():
    # truth: A (category 1) covers 4 pixels, B (category 1) 2 pixels, C (category 2) 4 pixels
    true_ids = torch.tensor([1, 1, 1, 1, 2, 2, 3, 3, 3, 3])
    true_cats = {1: 1, 2: 1, 3: 2}
    # prediction: a segment on 3 of A's pixels + 1 of B's (IoU with A = 3/5 > 0.5: matched);
    # a category-2 segment on the last pixel of B (unmatched: a false positive); C missed (a false negative)
    pred_ids = torch.tensor([0, 1, 1, 1, 1, 4, 0, 0, 0, 0])
    pred_cats = {1: 1, 4: 2}
    result = panoptic_quality(pred_ids, pred_cats, true_ids, true_cats)
    # category 1: TP = 1 (IoU 0.6), FP = 0, FN = 1 (B) -> SQ 0.6, RQ 1 / 1.5, PQ 0.6 / 1.5
    assert result.per_category[1] == pytest.approx((0.4, 0.6, 2 / 3, 1, 0, 1))
    # category 2: TP = 0, FP = 1, FN = 1 -> PQ = SQ = RQ = 0
    assert result.per_category[2] == pytest.approx((0.0, 0.0, 0.0, 0, 1, 1))
    assert result.pq == pytest.approx(0.2)
    assert result.sq == pytest.approx(0.3)
    assert result.rq == pytest.approx(1 / 3)


def test_iou_of_exactly_one_half_is_not_a_match():
    true_ids = torch.tensor([1, 1, 2, 2])
    pred_ids = torch.tensor([1, 1, 1, 1])  # IoU with segment 1 = 2 / 4 = 0.5 exactly
    result = panoptic_quality(pred_ids, {1: 3}, true_ids, {1: 3, 2: 4})
    assert result.per_category[3] == (0.0, 0.0, 0.0, 0, 1, 1)
    # one more pixel of overlap (IoU 3/4) matches
    result = panoptic_quality(torch.tensor([1, 1, 1, 1]), {1: 3}, torch.tensor([1, 1, 1, 2]), {1: 3, 2: 4})
    assert result.per_category[3] == pytest.approx((0.75, 0.75, 1.0, 1, 0, 0))


def test_void_pixels_are_left_out_of_iou_and_a_prediction_mostly_in_void_is_no_false_positive():
    true_ids = torch.tensor([1, 1, 1, 0, 0, 0, 0, 0])  # 0 = void
    true_cats = {1: 7}
    pred_ids = torch.tensor([1, 1, 1, 1, 2, 2, 2, 0])  # segment 1 spills one pixel into void; 2 lies in void
    result = panoptic_quality(pred_ids, {1: 7, 2: 7}, true_ids, true_cats)
    # IoU of segment 1 = 3 / (4 + 3 - 3 - 1 void pixel) = 1; segment 2 is not a false positive
    assert result.per_category[7] == pytest.approx((1.0, 1.0, 1.0, 1, 0, 0))


def test_panoptic_quality_rejects_ids_without_a_category_and_empty_inputs():
    with pytest.raises(ValueError, match="no category"):
        panoptic_quality(torch.tensor([1, 2]), {1: 0}, torch.tensor([1, 1]), {1: 0})
    with pytest.raises(ValueError, match="undefined"):
        panoptic_quality(torch.zeros(3, dtype=torch.long), {}, torch.zeros(3, dtype=torch.long), {})
    with pytest.raises(ValueError, match="differ in shape"):
        panoptic_quality(torch.zeros(3, dtype=torch.long), {}, torch.zeros(4, dtype=torch.long), {})


def test_dice_loss_is_zero_for_a_confident_perfect_prediction_and_weighs_small_classes():
    target = torch.zeros(1, 10, 10, dtype=torch.long)
    target[0, :2, :2] = 1  # a small class: 4 of 100 pixels
    perfect = F.one_hot(target, 2).permute(0, 3, 1, 2).float() * 50
    assert float(dice_loss(perfect, target)) == pytest.approx(0.0, abs=1e-6)
    background_only = torch.zeros(1, 2, 10, 10)
    background_only[:, 0] = 50  # misses the small class entirely: 96 % of the pixels right
    # per class (eps = 1): background (2 * 96 + 1) / (100 + 96 + 1), small class (0 + 1) / (0 + 4 + 1)
    expected = 1 - (193 / 197 + 1 / 5) / 2
    assert float(dice_loss(background_only, target)) == pytest.approx(expected, abs=1e-5)
    assert expected > 0.4  # one of two classes lost: Dice sees it, pixel accuracy (0.96) hardly does


def test_dice_loss_leaves_ignored_pixels_out_and_checks_shapes():
    target = torch.tensor([[[0, 1], [IGNORE_INDEX, IGNORE_INDEX]]])
    logits = torch.zeros(1, 2, 2, 2)
    logits[0, 0, 0, 0] = logits[0, 1, 0, 1] = 50
    logits[0, 1, 1, :] = 50  # wrong, but ignored
    assert float(dice_loss(logits, target)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="logits"):
        dice_loss(torch.zeros(2, 2, 2), target)


def test_segmentation_confusion_sums_batches_and_restores_the_mode():
    class Echo(torch.nn.Module):  # "predicts" the class stored in the first channel
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return F.one_hot((x[:, 0] * 2).round().long(), 3).permute(0, 3, 1, 2).float()

    images = torch.zeros(4, 3, 2, 2)
    images[:, 0] = torch.tensor([[0.0, 0.5], [1.0, 1.0]])
    targets = torch.tensor([[[0, 1], [2, 1]]]).repeat(4, 1, 1)
    loader = [(images[:2], targets[:2]), (images[2:], targets[2:])]
    model = Echo().train()
    cm = segmentation_confusion(model, loader, 3)
    assert cm.tolist() == [[4, 0, 0], [0, 4, 4], [0, 0, 4]]
    assert model.training


def test_merge_panoptic_pastes_instances_by_score_then_fills_stuff():
    semantic = torch.tensor([[0, 0, 0, 0], [0, 3, 3, 1], [1, 3, 3, 1]])  # 0, 1: stuff; 3: a thing class
    masks = torch.zeros(3, 3, 4, dtype=torch.bool)
    masks[0, 1:, 1:3] = True  # the true instance (4 pixels), score 0.9
    masks[1, 1:, 2:4] = True  # overlaps it: keeps 2 of 4 pixels after the first -> dropped at 0.6
    masks[2, 0, 0] = True  # a one-pixel instance, lowest score
    ids, cats = merge_panoptic(
        semantic,
        masks,
        torch.tensor([3, 3, 3]),
        torch.tensor([0.9, 0.8, 0.1]),
        stuff_classes=(0, 1),
        overlap_threshold=0.6,
    )
    assert cats == {1: 3, 2: 3, 3: 0, 4: 1}
    assert ids.tolist() == [[2, 3, 3, 3], [3, 1, 1, 4], [4, 1, 1, 4]]
    # the result scores perfectly against itself, and feeds panoptic_quality directly
    assert panoptic_quality(ids, cats, ids, cats).pq == 1.0


def test_merge_panoptic_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="instance masks"):
        merge_panoptic(torch.zeros(3, 4, dtype=torch.long), torch.zeros(1, 4, 3, dtype=torch.bool), torch.tensor([1]))
    with pytest.raises(ValueError, match="one label"):
        merge_panoptic(torch.zeros(3, 4, dtype=torch.long), torch.zeros(2, 3, 4, dtype=torch.bool), torch.tensor([1]))
