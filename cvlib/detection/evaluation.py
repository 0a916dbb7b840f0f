"""Detection inference and COCO evaluation (lesson 03): detect, ground truth, results, COCOeval, AP table.

Part of :mod:`cvlib.detection`, used by lesson 03 (Mask R-CNN fine-tuning). The COCO format itself
(RLE masks, the ground-truth builder, the box convention) is :mod:`cvlib.data.coco`.

Evaluation follows torchvision's reference scripts and Detectron2: ``bbox`` results carry a box,
``segm`` results a mask and **no box**, so pycocotools computes a segm result's area from its mask
and AP_small / AP_medium / AP_large for masks count each detection in its mask's size range.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from cvlib.data.coco import coco_instances, encode_mask, load_coco_api
from cvlib.detection.targets import dataset_length
from cvlib.models.utils import resolve_device

IOU_TYPES = ("bbox", "segm")
AP_NAMES = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large")
AR_NAMES = ("AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large")


@torch.no_grad()
def detect(
    model: nn.Module,
    images: Sequence[torch.Tensor] | torch.Tensor,
    *,
    score_threshold: float = 0.5,
    mask_threshold: float = 0.5,
    device: torch.device | str | None = None,
    batch_size: int = 8,
) -> list[dict[str, torch.Tensor]]:
    """Run a detector on ``(3, H, W)`` float images in [0, 1]; keep detections scoring ``>= score_threshold``.

    ``images`` is one ``(3, H, W)`` tensor or a sequence of them; ``device=None`` means the model's device.

    Returns:
        one dict per image (on the CPU): ``boxes (N, 4)`` float XYXY, ``labels (N,)`` int64,
        ``scores (N,)`` float in [0, 1] (sorted, highest first), and, for Mask R-CNN,
        ``masks (N, H, W)`` bool (soft mask ``>= mask_threshold``) and ``mask_probs (N, H, W)`` float in [0, 1].

    Raises:
        ValueError: no images, an image that is not a ``(3, H, W)`` float tensor, or ``batch_size < 1``.
    """
    if isinstance(images, torch.Tensor) and images.ndim == 3:
        images = [images]
    if len(images) == 0:
        raise ValueError("detect got no images: pass a (3, H, W) float tensor in [0, 1] or a list of them.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    for k, img in enumerate(images):
        img = torch.as_tensor(img)
        if img.ndim != 3 or img.shape[0] != 3 or not img.is_floating_point():
            raise ValueError(
                f"image {k} is {tuple(img.shape)} {img.dtype}: detect needs (3, H, W) float in [0, 1] "
                "(use v2.ToDtype(torch.float32, scale=True))."
            )
    device = resolve_device(model, device)
    model.eval()
    out: list[dict[str, torch.Tensor]] = []
    for start in range(0, len(images), batch_size):
        chunk = [torch.as_tensor(img).to(device) for img in images[start : start + batch_size]]
        for pred in model(chunk):
            keep = pred["scores"] >= score_threshold
            item = {k: pred[k][keep].cpu() for k in ("boxes", "labels", "scores")}
            if "masks" in pred:
                probs = pred["masks"][keep][:, 0].cpu()
                item["mask_probs"] = probs
                item["masks"] = probs >= mask_threshold
            out.append(item)
    return out


def coco_from_dataset(dataset: Dataset, class_names: Sequence[str], progress: bool = False) -> dict:
    """A COCO ``instances`` dictionary (ground truth) from a dataset of ``(image, target)`` pairs.

    Each item's ``(3, H, W)`` image gives the size; its target's ``image_id`` (default: the index),
    ``boxes``, ``labels`` and (if present) ``masks`` go through :func:`cvlib.data.coco.coco_instances`
    (areas are mask pixel counts, else box areas). Category ``k`` is ``class_names[k - 1]``.

    Raises:
        ValueError: the dataset is empty (and what ``coco_instances`` raises: repeated image ids, bad labels).
    """
    if dataset_length(dataset) == 0:
        raise ValueError("coco_from_dataset got an empty dataset: there is no ground truth to build.")

    def samples():
        for i in tqdm(range(dataset_length(dataset)), desc="ground truth", leave=False, disable=not progress):
            image, target = dataset[i]
            h, w = image.shape[-2:]
            yield {**target, "image_id": int(target.get("image_id", i)), "height": int(h), "width": int(w)}

    return coco_instances(samples(), class_names)


def to_coco_results(predictions: Sequence[Mapping[str, torch.Tensor]], image_ids: Sequence[int]) -> list[dict]:
    """Predictions (as from :func:`detect`) -> COCO result entries, one per detection.

    Each entry has ``image_id``, ``category_id`` (the label), ``bbox`` ``[x, y, w, h]``, ``score`` and, when the
    prediction has ``masks``, ``segmentation`` (compressed RLE). :func:`coco_evaluate` gives each IoU type
    only its own key (``bbox`` or ``segmentation``).

    Raises:
        ValueError: ``predictions`` and ``image_ids`` differ in length.
    """
    if len(predictions) != len(image_ids):
        raise ValueError(
            f"{len(predictions)} predictions but {len(image_ids)} image ids: give one image id per prediction."
        )
    results = []
    for pred, image_id in zip(predictions, image_ids):
        boxes = torch.as_tensor(pred["boxes"]).tolist()
        masks = pred.get("masks")
        for k, (box, label, score) in enumerate(zip(boxes, pred["labels"].tolist(), pred["scores"].tolist())):
            x1, y1, x2, y2 = box
            entry = {
                "image_id": int(image_id),
                "category_id": int(label),
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": float(score),
            }
            if masks is not None:
                entry["segmentation"] = encode_mask(masks[k])
            results.append(entry)
    return results


def _results_for(results: Sequence[Mapping[str, Any]], iou_type: str) -> list[dict]:
    """Copies of the entries with only the key of ``iou_type`` (loadRes changes its entries)."""
    key, other = ("bbox", "segmentation") if iou_type == "bbox" else ("segmentation", "bbox")
    missing = sum(key not in r for r in results)
    if missing:
        raise ValueError(
            f"{missing} of {len(results)} results have no '{key}' for iou_type {iou_type!r}: "
            f"evaluate {'masks' if key == 'segmentation' else 'boxes'} only with results that carry them."
        )
    return [{k: v for k, v in r.items() if k != other} for r in results]


def coco_evaluate(
    coco_gt: dict | Any, results: Sequence[Mapping[str, Any]], iou_types: str | Sequence[str] = IOU_TYPES
) -> dict[str, dict[str, float]]:
    """COCO metrics of ``results`` against ``coco_gt`` with ``pycocotools.cocoeval.COCOeval``.

    Args:
        coco_gt: a COCO ``instances`` dict or a ``pycocotools.coco.COCO`` object (neither is modified).
        results: COCO result entries (:func:`to_coco_results`); ``bbox`` evaluation reads their ``bbox``,
            ``segm`` evaluation their ``segmentation`` (a segm result's box is dropped, so its area is its mask's).
        iou_types: ``"bbox"``, ``"segm"`` or a sequence of them.

    Returns:
        ``{iou_type: {"AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
        "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large"}}``: COCOeval's twelve
        ``stats``, values in [0, 1], or -1 where the ground truth has no object in that size range.
        No results at all: 0 where there are objects (COCOeval's own values, no special case).

    Raises:
        ValueError: an unknown IoU type, a result naming an image id that is not in the ground truth,
            or results without the ``bbox`` / ``segmentation`` the IoU type needs.

    Warns:
        UserWarning: detections with ``category_id`` 0 (the background, never a COCO category).
    """
    from pycocotools.cocoeval import COCOeval

    if isinstance(iou_types, str):
        iou_types = (iou_types,)
    iou_types = tuple(iou_types)
    bad = [t for t in iou_types if t not in IOU_TYPES]
    if bad or not iou_types:
        raise ValueError(f"iou_types must be 'bbox', 'segm' or both, got {iou_types!r}.")
    dataset = coco_gt if isinstance(coco_gt, dict) else coco_gt.dataset
    gt = load_coco_api(copy.deepcopy(dataset))  # COCOeval adds keys to the ground truth's annotations
    unknown = sorted({int(r["image_id"]) for r in results} - set(gt.getImgIds()))
    if unknown:
        raise ValueError(
            f"results name image_id {unknown[0]}"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + " that is not in the ground truth: use the dataset's target['image_id'] for each prediction."
        )
    background = sum(int(r["category_id"]) == 0 for r in results)
    if background:
        warnings.warn(
            f"{background} detection(s) have category_id 0, the background: COCO counts them as no class; "
            "object labels are 1..K.",
            stacklevel=2,
        )
    metrics: dict[str, dict[str, float]] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for iou_type in iou_types:
            entries = _results_for(results, iou_type)
            if entries:
                dt = gt.loadRes(entries)
            else:  # loadRes cannot take an empty list: an empty result set over the same images
                dt = load_coco_api(
                    {
                        "images": copy.deepcopy(gt.dataset["images"]),
                        "categories": copy.deepcopy(gt.dataset["categories"]),
                        "annotations": [],
                    }
                )
            ev = COCOeval(gt, dt, iou_type)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            metrics[iou_type] = {name: float(v) for name, v in zip(AP_NAMES + AR_NAMES, ev.stats[:12])}
    return metrics


def evaluate_coco(
    model: nn.Module,
    dataset: Dataset,
    coco_gt: dict | Any | None = None,
    *,
    class_names: Sequence[str] | None = None,
    device: torch.device | str | None = None,
    batch_size: int = 8,
    iou_types: str | Sequence[str] = IOU_TYPES,
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """Run ``model`` over ``dataset`` (all detections the model keeps) and compute COCO AP and AR.

    Args:
        dataset: ``(image, target)`` pairs, images ``(3, H, W)`` float in [0, 1] (eval transforms);
            each target's ``image_id`` names its image in ``coco_gt``.
        coco_gt: ground truth (dict or ``COCO``); default: built with :func:`coco_from_dataset`
            (then ``class_names`` is needed).
        device: where the model runs (None: the model's device).
        iou_types: ``"bbox"``, ``"segm"`` or both; a box-only detector is evaluated on ``bbox`` only.

    Returns: see :func:`coco_evaluate`.

    Raises:
        ValueError: an empty dataset, neither ``coco_gt`` nor ``class_names``, or only ``"segm"`` for a box-only model.
    """
    if dataset_length(dataset) == 0:
        raise ValueError("evaluate_coco got an empty dataset: there is nothing to evaluate.")
    if isinstance(iou_types, str):
        iou_types = (iou_types,)
    if coco_gt is None:
        if class_names is None:
            raise ValueError("evaluate_coco needs coco_gt or class_names (to build the ground truth from the dataset).")
        coco_gt = coco_from_dataset(dataset, class_names)
    results: list[dict] = []
    bar = tqdm(range(0, dataset_length(dataset), batch_size), desc="evaluate", leave=False, disable=not progress)
    for start in bar:
        items = [dataset[i] for i in range(start, min(start + batch_size, dataset_length(dataset)))]
        preds = detect(model, [img for img, _ in items], score_threshold=0.0, device=device, batch_size=batch_size)
        results += to_coco_results(preds, [int(t.get("image_id", start + k)) for k, (_, t) in enumerate(items)])
    if "segm" in iou_types and results and "segmentation" not in results[0]:
        iou_types = [t for t in iou_types if t != "segm"]  # a box-only detector
        if not iou_types:
            raise ValueError("the model predicts no masks, so there is no segm AP: evaluate it with iou_types='bbox'.")
    return coco_evaluate(coco_gt, results, iou_types)


def format_ap_table(
    metrics: Mapping[str, Mapping[str, float]], names: Sequence[str] = ("AP", "AP50", "AP75"), digits: int = 3
) -> str:
    """A small text table: one row per IoU type, one column per metric name.

    Raises:
        ValueError: a name is not in the metrics (the message lists the available ones).
    """
    for t, m in metrics.items():
        missing = [n for n in names if n not in m]
        if missing:
            raise ValueError(f"metric {missing[0]!r} is not in the {t} metrics: choose from {', '.join(m)}.")
    header = f"{'':<6}" + "".join(f"{n:>8}" for n in names)
    rows = [f"{t:<6}" + "".join(f"{m[n]:>8.{digits}f}" for n in names) for t, m in metrics.items()]
    return "\n".join([header] + rows)
