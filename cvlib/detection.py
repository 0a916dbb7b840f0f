"""Detection engine: transforms, collate, training with warm-up, COCO evaluation, inference, drawing.

The pieces the TorchVision detection tutorial fetches from ``references/detection``
(``engine.py``, ``utils.py``, ``coco_eval.py``), rewritten small and versioned with the course:

- :func:`detection_transforms` -- ``torchvision.transforms.v2`` pipelines; boxes and
  masks (``tv_tensors``) move with the image.
- :func:`validate_target`, :func:`collate_detection` -- catch bad targets (no objects,
  zero-area boxes, mask/image size mismatch) with a clear message *before* torchvision does.
- :class:`AspectRatioBatchSampler` -- batches of images of similar shape (less padding).
- :func:`warmup_cosine`, :func:`train_one_epoch` -- the training loop with a linear warm-up.
- :func:`coco_from_dataset`, :func:`to_coco_results`, :func:`coco_evaluate`,
  :func:`evaluate_coco` -- COCO AP / AP50 / AP75 with ``pycocotools.cocoeval.COCOeval``.
- :func:`predict` -- boxes, labels, scores and binary masks above a score threshold.
- :func:`draw_detections`, :func:`show_detections`, :func:`threshold_explorer` -- pictures
  with ``torchvision.utils.draw_bounding_boxes`` / ``draw_segmentation_masks`` and a slider.

Targets follow torchvision's format: ``{"boxes": (N, 4) float XYXY, "labels": (N,) int64 >= 1,
"masks": (N, H, W) uint8/bool, "image_id": int}`` for a ``(3, H, W)`` float image in [0, 1].
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections import defaultdict
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib import font_manager
import numpy as np
import torch
from matplotlib.figure import Figure
from pycocotools import mask as mask_util
from torch import nn
from torch.utils.data import Dataset, Sampler
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks
from tqdm.auto import tqdm

from cvlib.models.utils import resolve_device
from cvlib.viz import panel_grid

# ----------------------------------------------------------------------------- transforms, targets, batches


def detection_transforms(train: bool, flip_p: float = 0.5) -> v2.Compose:
    """``(image, target)`` -> ``(float image in [0, 1], target)``; training adds a random horizontal flip.

    Boxes (``tv_tensors.BoundingBoxes``) and masks (``tv_tensors.Mask``) are flipped with
    the image; ``SanitizeBoundingBoxes`` then drops boxes that became degenerate, with
    their labels and masks.
    """
    steps: list[nn.Module] = [v2.ToImage()]
    if train:
        steps.append(v2.RandomHorizontalFlip(flip_p))
    steps += [v2.ToDtype(torch.float32, scale=True), v2.SanitizeBoundingBoxes()]
    return v2.Compose(steps)


class TargetError(ValueError):
    """A detection target cannot be used as it is; the message says what is wrong and what to do."""


def validate_target(image: torch.Tensor, target: Mapping[str, Any], min_size: float = 1.0) -> dict[str, Any]:
    """Check a ``(3, H, W)`` image's target and return a clean copy torchvision accepts.

    - No objects: fine (a negative image teaches "background"); boxes become ``(0, 4)``,
      masks ``(0, H, W)``, so torchvision sees the shapes it expects.
    - Boxes with width or height below ``min_size`` (zero-area, or ``x2 < x1``): dropped,
      with their labels and masks, and a ``UserWarning`` naming the image.

    Raises:
        TargetError: boxes not ``(N, 4)``, labels/masks count differs from boxes, a label is
            ``<= 0`` (0 is the background), masks are not ``(N, H, W)`` of the image's ``H, W``,
            or the image is not ``(3, H, W)``.
    """
    image_id = target.get("image_id", "?")
    where = f"image_id {image_id}"
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3:
        shape = tuple(image.shape) if hasattr(image, "shape") else type(image).__name__
        raise TargetError(f"{where}: the image must be a (3, H, W) tensor, got {shape}; convert it with v2.ToImage().")
    h, w = image.shape[-2:]
    if "boxes" not in target or "labels" not in target:
        raise TargetError(f"{where}: the target needs 'boxes' and 'labels' (got keys {sorted(target)}).")
    boxes = torch.as_tensor(target["boxes"], dtype=torch.float32)
    if boxes.numel() == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise TargetError(f"{where}: boxes must be (N, 4) as (x1, y1, x2, y2), got {tuple(boxes.shape)}.")
    labels = torch.as_tensor(target["labels"], dtype=torch.int64).reshape(-1)
    if len(labels) != len(boxes):
        raise TargetError(f"{where}: {len(boxes)} boxes but {len(labels)} labels; give one label per box.")
    if len(labels) and labels.min() <= 0:
        raise TargetError(f"{where}: label {int(labels.min())} found; label 0 is the background, objects use 1..K.")
    out = dict(target)
    masks = None
    if "masks" in target:
        masks = torch.as_tensor(target["masks"])
        if masks.numel() == 0 and len(boxes) == 0:
            masks = masks.reshape(0, h, w)
        if masks.ndim != 3 or tuple(masks.shape[-2:]) != (h, w):
            raise TargetError(
                f"{where}: masks are {tuple(masks.shape)} but the image is {h}x{w}; masks must be (N, {h}, {w}) "
                "(resize masks and image with the same v2 transform)."
            )
        if len(masks) != len(boxes):
            raise TargetError(f"{where}: {len(boxes)} boxes but {len(masks)} masks; give one mask per box.")
    keep = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)
    if not bool(keep.all()):
        warnings.warn(
            f"{where}: dropped {int((~keep).sum())} degenerate box(es) (width or height < {min_size} px): "
            f"{boxes[~keep].tolist()}",
            stacklevel=2,
        )
    out["boxes"] = boxes[keep]
    out["labels"] = labels[keep]
    if masks is not None:
        out["masks"] = masks[keep]
    return out


def collate_detection(batch: Sequence[tuple[torch.Tensor, Mapping[str, Any]]]) -> tuple[list[torch.Tensor], list[dict]]:
    """DataLoader ``collate_fn``: a list of ``(image, target)`` -> ``(list of images, list of targets)``.

    Detection images may differ in size, so they are not stacked (the model batches them).
    Every target goes through :func:`validate_target`.
    """
    images = [torch.as_tensor(img) for img, _ in batch]
    targets = [validate_target(img, t) for img, (_, t) in zip(images, batch)]
    return images, targets


class AspectRatioBatchSampler(Sampler[list[int]]):
    """Batches whose images all lie on the same side of an aspect ratio (landscape vs portrait).

    Mask R-CNN pads a batch to its largest height and width: mixing a portrait and a
    landscape image wastes most of the padded canvas. This sampler shuffles the images,
    then fills one pending batch per group (``width / height >= 1`` or ``< 1``) and yields
    a batch as soon as it is full (torchvision's ``GroupedBatchSampler`` idea, with two groups).

    Args:
        aspect_ratios: ``width / height`` of each dataset item.
        batch_size: images per batch.
        generator: a seeded ``torch.Generator`` for a reproducible order.
        drop_last: drop the incomplete batches left at the end of an epoch.
    """

    def __init__(
        self, aspect_ratios: Sequence[float], batch_size: int, generator: torch.Generator | None = None, drop_last: bool = False
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        self.groups = [int(r >= 1.0) for r in aspect_ratios]
        self.batch_size, self.generator, self.drop_last = batch_size, generator, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        pending: dict[int, list[int]] = defaultdict(list)
        for idx in torch.randperm(len(self.groups), generator=self.generator).tolist():
            group = pending[self.groups[idx]]
            group.append(idx)
            if len(group) == self.batch_size:
                yield list(group)
                group.clear()
        if not self.drop_last:
            for group in pending.values():
                if group:
                    yield list(group)

    def __len__(self) -> int:
        counts = np.bincount(self.groups, minlength=2) if self.groups else np.zeros(2, int)
        full = sum(int(c) // self.batch_size for c in counts)
        return full if self.drop_last else sum(math.ceil(int(c) / self.batch_size) for c in counts)


def aspect_ratios(dataset: Dataset) -> list[float]:
    """``width / height`` of every item: the dataset's own ``aspect_ratios()`` if it has one
    (also through a ``torch.utils.data.Subset``), else read from the images (slow: loads each item)."""
    if isinstance(dataset, torch.utils.data.Subset):
        parent = aspect_ratios(dataset.dataset)
        return [parent[i] for i in dataset.indices]
    if hasattr(dataset, "aspect_ratios"):
        return list(dataset.aspect_ratios())
    return [float(img.shape[-1]) / float(img.shape[-2]) for img, _ in (dataset[i] for i in range(len(dataset)))]


# ----------------------------------------------------------------------------- training


def warmup_cosine(
    optimizer: torch.optim.Optimizer, warmup_iters: int, total_iters: int, warmup_factor: float = 1e-3
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-iteration learning-rate schedule: linear warm-up from ``warmup_factor * lr``, then cosine decay to 0.

    Step it after every optimizer step (:func:`train_one_epoch` does).
    """
    if total_iters < 1 or not 0 <= warmup_iters <= total_iters:
        raise ValueError(f"need 0 <= warmup_iters <= total_iters and total_iters >= 1, got {warmup_iters}, {total_iters}.")

    def factor(it: int) -> float:
        if it < warmup_iters:
            alpha = it / max(1, warmup_iters)
            return warmup_factor * (1 - alpha) + alpha
        progress = (it - warmup_iters) / max(1, total_iters - warmup_iters)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: Iterable,
    device: torch.device | str | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    epoch: int = 0,
    max_grad_norm: float | None = 10.0,
    progress: bool = True,
    log: list[dict[str, float]] | None = None,
) -> dict[str, float]:
    """One pass over ``loader``; returns each loss averaged over the epoch (and their sum as ``"loss"``).

    In train mode a torchvision detector returns its losses (``loss_classifier``,
    ``loss_box_reg``, ``loss_mask``, ``loss_objectness``, ``loss_rpn_box_reg``); their sum
    is minimised. ``scheduler`` (e.g. :func:`warmup_cosine`) is stepped after every iteration.
    Gradients are clipped to ``max_grad_norm`` (None: no clipping). If ``log`` is a list, one
    dict of that iteration's losses and learning rate is appended to it per iteration.

    Raises:
        FloatingPointError: a loss became NaN or infinite (the message suggests a lower learning rate).
    """
    device = resolve_device(model, device)
    model.train()
    sums: dict[str, float] = defaultdict(float)
    n = 0
    bar = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not progress)
    for images, targets in bar:
        images = [img.to(device) for img in images]
        targets = [{k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in t.items()} for t in targets]
        losses = model(images, targets)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"loss is {loss.item()} at epoch {epoch}, iteration {n} ({ {k: round(v.item(), 3) for k, v in losses.items()} }): "
                "lower the learning rate or lengthen the warm-up."
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        n += 1
        for k, v in losses.items():
            sums[k] += v.item()
        sums["loss"] += loss.item()
        if log is not None:
            log.append({"loss": loss.item(), **{k: v.item() for k, v in losses.items()}, "lr": optimizer.param_groups[0]["lr"]})
        bar.set_postfix(loss=f"{sums['loss'] / n:.3f}", lr=f"{optimizer.param_groups[0]['lr']:.2g}")
    return {k: v / max(n, 1) for k, v in sums.items()}


# ----------------------------------------------------------------------------- inference


@torch.no_grad()
def predict(
    model: nn.Module,
    images: Sequence[torch.Tensor] | torch.Tensor,
    score_threshold: float = 0.5,
    mask_threshold: float = 0.5,
    device: torch.device | str | None = None,
    batch_size: int = 8,
) -> list[dict[str, torch.Tensor]]:
    """Run a detector on ``(3, H, W)`` float images in [0, 1]; keep detections scoring ``>= score_threshold``.

    Returns one dict per image (on the CPU): ``boxes (N, 4)`` float XYXY, ``labels (N,)`` int64,
    ``scores (N,)`` float in [0, 1] (sorted, highest first), and, for Mask R-CNN,
    ``masks (N, H, W)`` bool (soft mask ``>= mask_threshold``) and ``mask_probs (N, H, W)`` float.
    """
    if isinstance(images, torch.Tensor) and images.ndim == 3:
        images = [images]
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


# ----------------------------------------------------------------------------- COCO evaluation


def coco_from_dataset(dataset: Dataset, class_names: Sequence[str], progress: bool = False) -> dict:
    """A COCO ``instances`` dictionary (ground truth) from a dataset of ``(image, target)`` pairs.

    Uses each target's ``image_id``, ``boxes``, ``labels`` and (if present) ``masks``
    (areas are mask pixel counts, else box areas). Category ``k`` is ``class_names[k - 1]``.
    """
    images, annotations = [], []
    for i in tqdm(range(len(dataset)), desc="ground truth", leave=False, disable=not progress):
        image, target = dataset[i]
        h, w = image.shape[-2:]
        image_id = int(target.get("image_id", i))
        images.append({"id": image_id, "height": int(h), "width": int(w)})
        masks = target.get("masks")
        for k, (box, label) in enumerate(zip(torch.as_tensor(target["boxes"]).tolist(), torch.as_tensor(target["labels"]).tolist())):
            x1, y1, x2, y2 = box
            ann = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": int(label),
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": (x2 - x1) * (y2 - y1),
                "iscrowd": 0,
            }
            if masks is not None:
                m = np.asfortranarray(torch.as_tensor(masks[k]).numpy().astype(np.uint8))
                ann["segmentation"] = mask_util.encode(m)
                ann["area"] = float(m.sum())
            annotations.append(ann)
    categories = [{"id": k + 1, "name": n} for k, n in enumerate(class_names)]
    return {"images": images, "annotations": annotations, "categories": categories}


def to_coco_results(predictions: Sequence[Mapping[str, torch.Tensor]], image_ids: Sequence[int]) -> list[dict]:
    """Predictions (as from :func:`predict`) -> COCO result entries (``bbox`` as ``[x, y, w, h]``, RLE masks)."""
    results = []
    for pred, image_id in zip(predictions, image_ids):
        boxes = pred["boxes"].tolist()
        masks = pred.get("masks")
        for k, (box, label, score) in enumerate(zip(boxes, pred["labels"].tolist(), pred["scores"].tolist())):
            x1, y1, x2, y2 = box
            entry = {"image_id": int(image_id), "category_id": int(label), "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(score)}
            if masks is not None:
                entry["segmentation"] = mask_util.encode(np.asfortranarray(masks[k].numpy().astype(np.uint8)))
            results.append(entry)
    return results


AP_NAMES = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large")


def coco_evaluate(coco_gt: dict | Any, results: list[dict], iou_types: Sequence[str] = ("bbox", "segm")) -> dict[str, dict[str, float]]:
    """COCO metrics of ``results`` against ``coco_gt`` with ``pycocotools.cocoeval.COCOeval``.

    Args:
        coco_gt: a COCO ``instances`` dict or a ``pycocotools.coco.COCO`` object.
        results: COCO result entries (:func:`to_coco_results`).
        iou_types: ``"bbox"`` and/or ``"segm"``.

    Returns:
        ``{iou_type: {"AP": ..., "AP50": ..., "AP75": ..., "AP_small": ..., ...}}``, values in [0, 1]
        (COCOeval's -1 for "no such objects" is kept). No predictions at all give AP 0.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet:
        if isinstance(coco_gt, dict):
            gt = COCO()
            gt.dataset = coco_gt
            gt.createIndex()
        else:
            gt = coco_gt
        metrics: dict[str, dict[str, float]] = {}
        for iou_type in iou_types:
            if iou_type not in ("bbox", "segm"):
                raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}.")
            entries = [r for r in results if iou_type == "bbox" or "segmentation" in r]
            if not entries:
                metrics[iou_type] = {name: 0.0 for name in AP_NAMES}
                continue
            dt = gt.loadRes([dict(r) for r in entries])  # loadRes changes its entries: give it copies
            ev = COCOeval(gt, dt, iou_type)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            metrics[iou_type] = {name: float(v) for name, v in zip(AP_NAMES, ev.stats[:6])}
    return metrics


def evaluate_coco(
    model: nn.Module,
    dataset: Dataset,
    coco_gt: dict | Any | None = None,
    class_names: Sequence[str] | None = None,
    device: torch.device | str | None = None,
    batch_size: int = 8,
    iou_types: Sequence[str] = ("bbox", "segm"),
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """Run ``model`` over ``dataset`` (all detections the model keeps) and compute COCO AP.

    Args:
        dataset: ``(image, target)`` pairs, images ``(3, H, W)`` float in [0, 1] (eval transforms).
        coco_gt: ground truth (dict or ``COCO``); default: built with :func:`coco_from_dataset`
            (then ``class_names`` is needed).

    Returns: see :func:`coco_evaluate`.
    """
    if coco_gt is None:
        if class_names is None:
            raise ValueError("evaluate_coco needs coco_gt or class_names (to build the ground truth from the dataset).")
        coco_gt = coco_from_dataset(dataset, class_names)
    results: list[dict] = []
    bar = tqdm(range(0, len(dataset), batch_size), desc="evaluate", leave=False, disable=not progress)
    for start in bar:
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        preds = predict(model, [img for img, _ in items], score_threshold=0.0, device=device, batch_size=batch_size)
        results += to_coco_results(preds, [int(t.get("image_id", start + k)) for k, (_, t) in enumerate(items)])
    if "segm" in iou_types and results and "segmentation" not in results[0]:
        iou_types = [t for t in iou_types if t != "segm"]  # a box-only detector
    return coco_evaluate(coco_gt, results, iou_types)


def format_ap_table(metrics: Mapping[str, Mapping[str, float]], names: Sequence[str] = ("AP", "AP50", "AP75"), digits: int = 3) -> str:
    """A small text table: one row per IoU type, one column per metric name."""
    header = f"{'':<6}" + "".join(f"{n:>8}" for n in names)
    rows = [f"{t:<6}" + "".join(f"{m[n]:>8.{digits}f}" for n in names) for t, m in metrics.items()]
    return "\n".join([header] + rows)


# ----------------------------------------------------------------------------- drawing

PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#fabed4", "#469990"]


def class_color(label: int) -> str:
    """A fixed colour per class label (the same in every figure)."""
    return PALETTE[(int(label) - 1) % len(PALETTE)]


def draw_detections(
    image: torch.Tensor,
    boxes: torch.Tensor,
    labels: torch.Tensor | Sequence[int],
    masks: torch.Tensor | None = None,
    scores: torch.Tensor | Sequence[float] | None = None,
    class_names: Sequence[str] | None = None,
    scale: int = 1,
    alpha: float = 0.45,
    width: int = 1,
    captions: bool = True,
    font_size: int | None = None,
) -> torch.Tensor:
    """Draw masks, boxes and ``"name 0.93"`` captions on an image.

    Args:
        image: ``(3, H, W)`` float in [0, 1] or uint8.
        boxes: ``(N, 4)`` XYXY pixels. labels: ``(N,)`` class labels (``>= 1``).
        masks: ``(N, H, W)`` bool, or None. scores: ``(N,)`` or None.
        class_names: names of labels ``1..K`` (``class_names[label - 1]``); default: the label number.
        scale: upsample the picture by this factor first (nearest), so captions fit on small images.
        captions: write the class name (and score) in each box's top-left corner (white on the class colour).
        font_size: caption height in pixels of the returned picture (default ``6 * scale``);
            the font is matplotlib's DejaVu Sans, so captions are legible at any size.

    Returns:
        ``(3, H * scale, W * scale)`` uint8 picture (show it with ``plt.imshow(pic.permute(1, 2, 0))``).
    """
    img = torch.as_tensor(image)
    if img.dtype != torch.uint8:
        img = (img.float().clamp(0, 1) * 255).round().to(torch.uint8)
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    labels = [int(v) for v in torch.as_tensor(labels).reshape(-1).tolist()]
    if scale != 1:
        img = v2.functional.resize(img, [img.shape[-2] * scale, img.shape[-1] * scale], interpolation=v2.InterpolationMode.NEAREST)
        boxes = boxes * scale
        if masks is not None:
            masks = torch.as_tensor(masks).repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
    colors = [class_color(lab) for lab in labels]
    if masks is not None and len(labels):
        img = draw_segmentation_masks(img, torch.as_tensor(masks).bool(), alpha=alpha, colors=colors)
    if len(labels):
        names = [class_names[lab - 1] if class_names else str(lab) for lab in labels]
        if scores is not None:
            names = [f"{n} {float(s):.2f}" for n, s in zip(names, torch.as_tensor(scores).tolist())]
        if captions:
            font = font_manager.findfont("DejaVu Sans")
            img = draw_bounding_boxes(img, boxes, labels=names, colors=colors, width=width, font=font,
                                      font_size=font_size or 6 * scale, label_colors="white", fill_labels=True)
        else:
            img = draw_bounding_boxes(img, boxes, colors=colors, width=width)
    return img


def show_detections(
    images: Sequence[torch.Tensor],
    predictions: Sequence[Mapping[str, torch.Tensor]],
    class_names: Sequence[str] | None = None,
    targets: Sequence[Mapping[str, Any]] | None = None,
    score_threshold: float | None = 0.5,
    ncols: int = 4,
    scale: int = 2,
    title: str = "Predictions",
    size: float = 2.6,
) -> Figure:
    """Grid of images with their predicted masks and boxes (score ``>= score_threshold``).

    With ``targets``, each panel's title compares the number of predicted and true objects.
    ``score_threshold=None`` draws every object without scores (for ground truth: pass the
    targets as ``predictions``, with a ``scores`` entry of ones).
    """
    fig, axes = panel_grid(len(images), ncols, size, min_width=0.0, extra_height=0.5, layout="constrained")
    for k, ax in enumerate(axes):
        p = predictions[k]
        keep = torch.ones(len(p["labels"]), dtype=torch.bool) if score_threshold is None else p["scores"] >= score_threshold
        pic = draw_detections(
            images[k], p["boxes"][keep], p["labels"][keep], p["masks"][keep] if "masks" in p else None,
            None if score_threshold is None else p["scores"][keep], class_names, scale=scale,
        )
        ax.imshow(pic.permute(1, 2, 0).numpy())
        count = int(keep.sum())
        caption = f"{count} found" if score_threshold is not None else f"{count} object{'' if count == 1 else 's'}"
        if targets is not None:
            caption += f" / {len(targets[k]['labels'])} true"
        ax.set_title(caption, fontsize=9)
        ax.set_xlabel(f"image {k}", fontsize=8)
    fig.suptitle(title if score_threshold is None else f"{title} (score >= {score_threshold:.2f})")
    return fig


def threshold_explorer(
    images: Sequence[torch.Tensor],
    predictions: Sequence[Mapping[str, torch.Tensor]],
    class_names: Sequence[str] | None = None,
    targets: Sequence[Mapping[str, Any]] | None = None,
    ncols: int = 4,
):
    """An ipywidgets slider for the score threshold that redraws :func:`show_detections`.

    ``predictions`` should hold all detections (``predict(..., score_threshold=0.0)``).
    Returns the widget (display it as the last line of a cell).
    """
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=0.5, min=0.0, max=0.99, step=0.05, description="score ≥", continuous_update=False)
    out = widgets.Output()

    def redraw(_=None) -> None:
        with out:
            out.clear_output(wait=True)
            show_detections(images, predictions, class_names, targets, slider.value, ncols=ncols)
            plt.show()

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, out])
