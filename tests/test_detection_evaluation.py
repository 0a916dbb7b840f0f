"""cvlib.detection.evaluation: detect, COCO ground truth and results, COCOeval metrics."""

import copy

import numpy as np
import pytest
import torch

from cvlib.data.coco import coco_instances, masks_to_boxes_exclusive
from cvlib.data.shapes import CLASSES, ShapesDataset
from cvlib.detection import (
    AP_NAMES,
    AR_NAMES,
    coco_evaluate,
    coco_from_dataset,
    detect,
    detection_transforms,
    evaluate_coco,
    format_ap_table,
    to_coco_results,
)


def shapes(n=6, seed=5):
    return ShapesDataset(n, seed=seed, size=64, transforms=detection_transforms(False))


def ground_truth_predictions(dataset):
    """Predictions equal to the ground truth, score 1."""
    preds, ids = [], []
    for i in range(len(dataset)):
        _, t = dataset[i]
        preds.append(
            {
                "boxes": t["boxes"].as_subclass(torch.Tensor),
                "labels": t["labels"],
                "scores": torch.ones(len(t["labels"])),
                "masks": t["masks"].bool().as_subclass(torch.Tensor),
            }
        )
        ids.append(t["image_id"])
    return preds, ids


def prediction(masks, labels, scores):
    masks = torch.as_tensor(masks)
    return {
        "boxes": masks_to_boxes_exclusive(masks),
        "labels": torch.tensor(labels),
        "scores": torch.tensor(scores),
        "masks": masks,
    }


def two_squares():
    """One 100x100 image with two small 10x10 squares (class 1): ground truth and its masks."""
    masks = torch.zeros(2, 100, 100, dtype=torch.bool)
    masks[0, 10:20, 10:20] = True
    masks[1, 60:70, 70:80] = True
    sample = {
        "image_id": 1,
        "height": 100,
        "width": 100,
        "boxes": masks_to_boxes_exclusive(masks),
        "labels": [1, 1],
        "masks": masks,
    }
    return coco_instances([sample], ["thing"]), masks


# ----------------------------------------------------------------------------- coco_evaluate


def test_ground_truth_as_predictions_scores_ap_1():
    ds = shapes()
    perfect = coco_evaluate(coco_from_dataset(ds, CLASSES), to_coco_results(*ground_truth_predictions(ds)))
    for iou_type in ("bbox", "segm"):
        assert perfect[iou_type]["AP"] == pytest.approx(1.0)
        assert perfect[iou_type]["AP50"] == pytest.approx(1.0) and perfect[iou_type]["AP75"] == pytest.approx(1.0)


def test_shifted_predictions_score_lower():
    ds = shapes()
    gt = coco_from_dataset(ds, CLASSES)
    preds, ids = ground_truth_predictions(ds)
    shifted = []
    for p in preds:
        w = p["boxes"][:, 2] - p["boxes"][:, 0]
        shift = torch.stack([0.3 * w, torch.zeros_like(w), 0.3 * w, torch.zeros_like(w)], dim=1)
        shifted.append({**p, "boxes": p["boxes"] + shift, "masks": torch.roll(p["masks"], shifts=4, dims=-1)})
    worse = coco_evaluate(gt, to_coco_results(shifted, ids))
    assert worse["bbox"]["AP"] < 0.5 and worse["bbox"]["AP75"] < 1.0
    assert worse["segm"]["AP"] < 0.9


def test_metrics_hold_six_ap_and_six_ar_figures():
    gt, masks = two_squares()
    metrics = coco_evaluate(gt, to_coco_results([prediction(masks, [1, 1], [0.9, 0.8])], [1]))
    assert (
        list(metrics["bbox"])
        == list(AP_NAMES + AR_NAMES)
        == [
            "AP",
            "AP50",
            "AP75",
            "AP_small",
            "AP_medium",
            "AP_large",
            "AR1",
            "AR10",
            "AR100",
            "AR_small",
            "AR_medium",
            "AR_large",
        ]
    )
    # one detection allowed per image finds one of the two objects; ten find both
    for m in metrics.values():
        assert m["AR1"] == pytest.approx(0.5) and m["AR10"] == pytest.approx(1.0) and m["AR100"] == pytest.approx(1.0)
        assert m["AR_small"] == pytest.approx(1.0) and m["AR_medium"] == -1.0 and m["AR_large"] == -1.0


def test_no_predictions_give_cocoeval_values():
    gt, _ = two_squares()
    metrics = coco_evaluate(gt, [])
    for m in metrics.values():
        assert m["AP"] == 0.0 and m["AP_small"] == 0.0 and m["AR100"] == 0.0
        assert m["AP_medium"] == -1.0 and m["AP_large"] == -1.0  # no object of that size: COCOeval's -1


def test_segm_results_are_counted_in_their_mask_size_range():
    """A thin anti-diagonal false positive: its mask is small (< 32^2 px), its box large (> 96^2 px)."""
    gt, masks = two_squares()  # two small objects
    diagonal = torch.zeros(1, 100, 100, dtype=torch.bool)
    for i in range(100):
        diagonal[0, i, max(0, 98 - i) : 101 - i] = True
    assert diagonal.sum() < 32**2 and masks_to_boxes_exclusive(diagonal)[0, 2:].prod() > 96**2
    assert not (diagonal & masks).any()
    preds = prediction(
        torch.cat([diagonal, masks[:1]]), [1, 1], [0.9, 0.5]
    )  # the false positive first, then one object
    metrics = coco_evaluate(gt, to_coco_results([preds], [1]))
    # COCO interpolates precision at 101 recall points; recall reaches 0.5 (one of two objects) at 51 of them
    # masks: the diagonal is a small false positive ranked first -> precision 1/2 among the small objects
    assert metrics["segm"]["AP_small"] == pytest.approx(51 * 0.5 / 101)
    assert metrics["segm"]["AP_small"] == pytest.approx(metrics["segm"]["AP"])
    # boxes: the diagonal's box is large, so among the small objects only the true positive counts
    assert metrics["bbox"]["AP_small"] == pytest.approx(51 / 101)
    assert metrics["segm"]["AP_large"] == metrics["bbox"]["AP_large"] == -1.0  # no large object


def test_segm_results_reach_cocoeval_without_a_box(monkeypatch):
    from pycocotools.coco import COCO

    gt, masks = two_squares()
    seen = []
    original = COCO.loadRes

    def spy(self, anns):
        seen.append([sorted(a) for a in anns])
        return original(self, anns)

    monkeypatch.setattr(COCO, "loadRes", spy)
    coco_evaluate(gt, to_coco_results([prediction(masks, [1, 1], [0.9, 0.8])], [1]))
    bbox_keys, segm_keys = seen
    assert all("bbox" in k and "segmentation" not in k for k in bbox_keys)
    assert all("segmentation" in k and "bbox" not in k for k in segm_keys)


def test_iou_types_may_be_one_string():
    gt, masks = two_squares()
    results = to_coco_results([prediction(masks, [1, 1], [0.9, 0.8])], [1])
    assert set(coco_evaluate(gt, results, "bbox")) == {"bbox"}
    assert set(coco_evaluate(gt, results, iou_types="segm")) == {"segm"}


def test_unknown_iou_type_is_refused():
    gt, _ = two_squares()
    with pytest.raises(ValueError, match="iou_types must be 'bbox', 'segm'"):
        coco_evaluate(gt, [], ("bbox", "keypoints"))


def test_result_for_an_unknown_image_id_names_it():
    gt, masks = two_squares()
    with pytest.raises(ValueError, match="image_id 99 .*not in the ground truth"):
        coco_evaluate(gt, to_coco_results([prediction(masks, [1, 1], [0.9, 0.8])], [99]))


def test_background_detections_warn():
    gt, masks = two_squares()
    with pytest.warns(UserWarning, match="1 detection.* category_id 0"):
        coco_evaluate(gt, to_coco_results([prediction(masks, [0, 1], [0.9, 0.8])], [1]), "bbox")


def test_segm_needs_masks_in_the_results():
    gt, masks = two_squares()
    box_only = to_coco_results([{k: v for k, v in prediction(masks, [1, 1], [0.9, 0.8]).items() if k != "masks"}], [1])
    with pytest.raises(ValueError, match="2 of 2 results have no 'segmentation'"):
        coco_evaluate(gt, box_only, "segm")


def test_evaluation_leaves_the_ground_truth_unchanged():
    gt, masks = two_squares()
    before = copy.deepcopy(gt)
    coco_evaluate(gt, to_coco_results([prediction(masks, [1, 1], [0.9, 0.8])], [1]))
    assert gt == before


def test_to_coco_results_needs_one_image_id_per_prediction():
    _, masks = two_squares()
    with pytest.raises(ValueError, match="1 predictions but 2 image ids"):
        to_coco_results([prediction(masks, [1, 1], [0.9, 0.8])], [1, 2])


def test_to_coco_results_converts_boxes_to_xywh():
    _, masks = two_squares()
    first = to_coco_results([prediction(masks, [1, 1], [0.9, 0.8])], [1])[0]
    assert first["bbox"] == [10, 10, 10, 10] and first["category_id"] == 1 and first["score"] == pytest.approx(0.9)
    assert isinstance(first["segmentation"]["counts"], str)


def test_ground_truth_from_a_dataset_matches_its_targets():
    ds = shapes(3)
    gt = coco_from_dataset(ds, CLASSES)
    assert [im["id"] for im in gt["images"]] == [0, 1, 2] and gt["images"][0]["height"] == 64
    _, t = ds[1]
    anns = [a for a in gt["annotations"] if a["image_id"] == 1]
    assert [a["category_id"] for a in anns] == t["labels"].tolist()
    assert [a["area"] for a in anns] == t["masks"].sum(dim=(1, 2)).float().tolist()
    assert gt["categories"] == [{"id": k + 1, "name": n} for k, n in enumerate(CLASSES)]


def test_ground_truth_from_an_empty_dataset_is_refused():
    with pytest.raises(ValueError, match="empty dataset"):
        coco_from_dataset(shapes(0), CLASSES)


def test_format_ap_table_lists_iou_types_and_chosen_metrics():
    table = format_ap_table(
        {"bbox": {"AP": 0.5, "AP50": 0.75, "AP75": 0.25}, "segm": {"AP": 1.0, "AP50": 1.0, "AP75": 1.0}}
    )
    lines = table.splitlines()
    assert lines[0].split() == ["AP", "AP50", "AP75"] and lines[1].split() == ["bbox", "0.500", "0.750", "0.250"]
    assert lines[2].split()[0] == "segm"
    with pytest.raises(ValueError, match="'AR7' is not in the bbox metrics"):
        format_ap_table({"bbox": {"AP": 0.5}}, names=("AR7",))


# ----------------------------------------------------------------------------- detect / evaluate_coco (a real model)


def test_predict_returns_boxes_labels_scores_and_masks(small_model):
    ds = shapes(2, seed=2)
    preds = detect(small_model, [ds[0][0], ds[1][0]], score_threshold=0.0)
    assert len(preds) == 2 and set(preds[0]) == {"boxes", "labels", "scores", "masks", "mask_probs"}
    p = preds[0]
    assert (
        p["masks"].dtype == torch.bool
        and p["masks"].shape[1:] == (64, 64)
        and p["boxes"].shape == (len(p["scores"]), 4)
    )
    assert torch.equal(p["masks"], p["mask_probs"] >= 0.5)
    assert bool((p["scores"][:-1] >= p["scores"][1:]).all())


def test_predict_keeps_scores_above_the_threshold(small_model):
    image = shapes(1, seed=2)[0][0]
    every = detect(small_model, image, score_threshold=0.0)[0]
    high = detect(small_model, image, score_threshold=0.3)[0]
    assert (high["scores"] >= 0.3).all() and len(high["scores"]) == int((every["scores"] >= 0.3).sum())


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ([], "detect got no images"),
        ([torch.rand(1, 64, 64)], r"image 0 is \(1, 64, 64\)"),
        ([torch.zeros(3, 64, 64, dtype=torch.uint8)], "float"),
    ],
)
def test_predict_refuses_bad_images(images, message):
    with pytest.raises(ValueError, match=message):
        detect(torch.nn.Linear(1, 1), images)


def test_evaluate_coco_runs_the_model_and_reports_ap_and_ar(small_model):
    metrics = evaluate_coco(small_model, shapes(3, seed=3), class_names=CLASSES, progress=False)
    assert set(metrics) == {"bbox", "segm"}
    for m in metrics.values():
        assert set(m) == set(AP_NAMES + AR_NAMES) and 0.0 <= m["AP50"] <= 1.0 and 0.0 <= m["AR100"] <= 1.0
    assert set(
        evaluate_coco(small_model, shapes(2, seed=3), class_names=CLASSES, iou_types="bbox", progress=False)
    ) == {"bbox"}


def test_evaluate_coco_refuses_an_empty_dataset():
    with pytest.raises(ValueError, match="empty dataset"):
        evaluate_coco(torch.nn.Linear(1, 1), shapes(0), class_names=CLASSES, progress=False)


def test_evaluate_coco_needs_ground_truth_or_class_names():
    with pytest.raises(ValueError, match="needs coco_gt or class_names"):
        evaluate_coco(torch.nn.Linear(1, 1), shapes(1), progress=False)


def test_coco_ids_are_shared_by_ground_truth_and_results():
    ds = shapes(2)
    ids = [t["image_id"] for _, t in (ds[i] for i in range(2))]
    assert ids == [im["id"] for im in coco_from_dataset(ds, CLASSES)["images"]]
    assert np.unique(ids).size == 2
