"""Segmentation task module (lesson 08): losses, metrics and panoptic merging.

Contents: :func:`dice_loss`; :func:`confusion_matrix`, :func:`iou_per_class`, :func:`mean_iou`,
:func:`pixel_accuracy` and :func:`segmentation_confusion` (a model over a loader);
:func:`merge_panoptic` (semantic map + instance masks -> panoptic map) and :func:`panoptic_quality`;
:func:`train_segmenter` (random crops and flips from in-memory tensors, one-cycle AdamW) and
:func:`segment` (per-pixel class and confidence); :func:`connected_instances` (instances as
connected regions of a thing class) and :func:`concat_panoptic` (score a whole set at once);
drawing: :func:`colorize`, :func:`colorize_panoptic` (lesson 03's class colours) and
:func:`show_segmentation` (image / truth / prediction / errors).

Semantic segmentation is scored from a **confusion matrix** over pixels
(``cm[t, p]`` = pixels of true class ``t`` predicted as ``p``): pixel accuracy
(the trace over the total), per-class IoU ``cm[c, c] / (row_c + col_c - cm[c, c])``
and their mean, mIoU. On imbalanced classes pixel accuracy is dominated by the
large classes; mIoU weighs every class equally.

Panoptic segmentation gives every pixel a category *and* an instance id.
Panoptic Quality (Kirillov et al., CVPR 2019) matches predicted and true
segments of the same category whose IoU is **strictly** above 0.5 (such a match
is unique), then per category

``PQ = sum of matched IoUs / (TP + FP / 2 + FN / 2) = SQ x RQ``

with ``SQ`` the mean IoU of the matches and ``RQ = TP / (TP + FP / 2 + FN / 2)``
(an F1 score). PQ, SQ and RQ are averaged over the categories that occur in the
prediction or the truth. As in the COCO panoptic evaluation, pixels with segment
id 0 in the truth are *void*: they are left out of every IoU, and a predicted
segment lying more than half in void is not counted as a false positive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import skimage.measure
import skimage.segmentation
import torch
import torch.nn.functional as F
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from tqdm.auto import tqdm

from cvlib.detection.drawing import class_color
from cvlib.models.utils import eval_mode, resolve_device
from cvlib.train import one_cycle_adamw, optimizer_step

__all__ = [
    "IGNORE_INDEX",
    "PanopticResult",
    "class_colors",
    "colorize",
    "colorize_panoptic",
    "concat_panoptic",
    "confusion_matrix",
    "connected_instances",
    "dice_loss",
    "iou_per_class",
    "mean_iou",
    "merge_panoptic",
    "panoptic_quality",
    "pixel_accuracy",
    "segment",
    "segmentation_confusion",
    "show_segmentation",
    "train_segmenter",
]

#: Label of pixels that no metric counts (unlabelled or ambiguous pixels).
IGNORE_INDEX = 255


def _check_maps(pred: torch.Tensor, target: torch.Tensor, what: str) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"{what}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape.")
    for name, t in (("prediction", pred), ("target", target)):
        if t.dtype.is_floating_point or t.dtype == torch.bool:
            raise ValueError(f"{what}: the {name} must hold integer labels, got {t.dtype} (use .argmax(1) on logits).")


def confusion_matrix(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Pixel confusion matrix ``(num_classes, num_classes)`` int64: ``cm[t, p]`` = pixels of class t predicted p.

    Args:
        pred, target: integer label maps of the same shape, e.g. ``(N, H, W)``, values in
            ``0..num_classes-1``; target pixels equal to ``ignore_index`` are not counted.
        num_classes: number of classes C >= 1.
    """
    _check_maps(pred, target, "confusion_matrix")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}.")
    keep = target != ignore_index
    p, t = pred[keep].long(), target[keep].long()
    for name, v in (("target", t), ("prediction", p)):
        if v.numel() and (int(v.min()) < 0 or int(v.max()) >= num_classes):
            raise ValueError(
                f"{name} labels must be in 0..{num_classes - 1} (or {ignore_index} in the target to ignore a pixel), "
                f"got values in {int(v.min())}..{int(v.max())}."
            )
    counts = torch.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).cpu()


def _check_cm(cm: torch.Tensor) -> torch.Tensor:
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"expected a square (C, C) confusion matrix, got shape {tuple(cm.shape)}.")
    return cm.double()


def iou_per_class(cm: torch.Tensor) -> torch.Tensor:
    """Per-class IoU ``(C,)`` float64 from a confusion matrix; NaN for a class absent from truth and prediction."""
    cm = _check_cm(cm)
    tp = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))


def mean_iou(cm: torch.Tensor) -> float:
    """mIoU: mean of the per-class IoUs over the classes present in truth or prediction, in [0, 1]."""
    iou = iou_per_class(cm)
    present = ~iou.isnan()
    if not present.any():
        raise ValueError("the confusion matrix is empty: no pixel was counted.")
    return float(iou[present].mean())


def pixel_accuracy(cm: torch.Tensor) -> float:
    """Share of counted pixels whose predicted class is right, in [0, 1]."""
    cm = _check_cm(cm)
    total = cm.sum()
    if total == 0:
        raise ValueError("the confusion matrix is empty: no pixel was counted.")
    return float(cm.diagonal().sum() / total)


@dataclass(frozen=True)
class PanopticResult:
    """Panoptic Quality and its factors, overall (mean over categories) and per category.

    ``per_category[c] = (pq, sq, rq, tp, fp, fn)``.
    """

    pq: float
    sq: float
    rq: float
    per_category: dict[int, tuple[float, float, float, int, int, int]]


def _segments(ids: torch.Tensor, categories: Mapping[int, int], what: str) -> dict[int, int]:
    present = {int(i) for i in torch.unique(ids).tolist()} - {0}
    missing = present - set(categories)
    if missing:
        raise ValueError(f"{what}: segment ids {sorted(missing)[:5]} have no category in the mapping.")
    return {i: int(categories[i]) for i in present}


def panoptic_quality(
    pred_ids: torch.Tensor,
    pred_categories: Mapping[int, int],
    true_ids: torch.Tensor,
    true_categories: Mapping[int, int],
) -> PanopticResult:
    """Panoptic Quality of one image (or a batch concatenated along any axis).

    Args:
        pred_ids, true_ids: ``(H, W)`` integer segment ids of the same shape; 0 = no segment
            (in the truth: void, left out of every IoU).
        pred_categories, true_categories: segment id -> category id for every nonzero id
            (stuff classes have one segment per image, things one per instance).

    Returns:
        :class:`PanopticResult`; categories with no true and no predicted segment are not averaged.
    """
    _check_maps(pred_ids, true_ids, "panoptic_quality")
    pred_seg = _segments(pred_ids, pred_categories, "prediction")
    true_seg = _segments(true_ids, true_categories, "truth")
    p, t = pred_ids.reshape(-1).long(), true_ids.reshape(-1).long()
    void = t == 0
    area_p = {i: int((p == i).sum()) for i in pred_seg}
    area_t = {j: int((t == j).sum()) for j in true_seg}
    void_p = {i: int(((p == i) & void).sum()) for i in pred_seg}

    matched_p: set[int] = set()
    matched_t: set[int] = set()
    stats: dict[int, list[float]] = {c: [0.0, 0, 0, 0] for c in set(pred_seg.values()) | set(true_seg.values())}
    pairs, counts = torch.unique(torch.stack([p, t])[:, (p > 0) & (t > 0)], dim=1, return_counts=True)
    for (i, j), inter in zip(pairs.T.tolist(), counts.tolist()):
        if pred_seg[i] != true_seg[j]:
            continue
        union = area_p[i] + area_t[j] - inter - void_p[i]
        iou = inter / union
        if iou > 0.5:  # strictly: at most one match per segment
            matched_p.add(i)
            matched_t.add(j)
            stats[true_seg[j]][0] += iou
            stats[true_seg[j]][1] += 1
    for i, c in pred_seg.items():
        if i not in matched_p and void_p[i] <= 0.5 * area_p[i]:
            stats[c][2] += 1
    for j, c in true_seg.items():
        if j not in matched_t:
            stats[c][3] += 1

    per_category: dict[int, tuple[float, float, float, int, int, int]] = {}
    for c, (iou_sum, tp, fp, fn) in sorted(stats.items()):
        if tp + fp + fn == 0:
            continue  # a predicted segment entirely in void
        denominator = tp + 0.5 * fp + 0.5 * fn
        sq = iou_sum / tp if tp else 0.0
        rq = tp / denominator
        per_category[c] = (iou_sum / denominator, sq, rq, int(tp), int(fp), int(fn))
    if not per_category:
        raise ValueError("no segment in the prediction or the truth: Panoptic Quality is undefined.")
    n = len(per_category)
    return PanopticResult(
        pq=sum(v[0] for v in per_category.values()) / n,
        sq=sum(v[1] for v in per_category.values()) / n,
        rq=sum(v[2] for v in per_category.values()) / n,
        per_category=per_category,
    )


def dice_loss(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_INDEX, eps: float = 1.0
) -> torch.Tensor:
    """Soft multi-class Dice loss: ``1 - mean_c (2 |P_c . T_c| + eps) / (|P_c| + |T_c| + eps)``.

    Dice compares the predicted and true *areas* of each class, so a small class weighs as much
    as a large one (cross-entropy sums over pixels and is dominated by the large classes).

    Args:
        logits: ``(B, C, H, W)`` float; softmax over C gives the per-pixel probabilities P.
        target: ``(B, H, W)`` int64 labels in ``0..C-1``; ``ignore_index`` pixels are left out.
        eps: smoothing added to numerator and denominator (a class absent from both scores 1).

    Returns:
        scalar loss in [0, 1] (0: perfect overlap of every class).
    """
    if logits.ndim != 4 or target.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(
            f"dice_loss expects logits (B, C, H, W) and target (B, H, W), got {tuple(logits.shape)} and {tuple(target.shape)}."
        )
    keep = (target != ignore_index).unsqueeze(1).to(logits.dtype)  # (B, 1, H, W)
    probs = logits.softmax(1) * keep
    one_hot = F.one_hot(target.where(target != ignore_index, 0), logits.shape[1]).permute(0, 3, 1, 2).to(logits.dtype)
    one_hot = one_hot * keep
    dims = (0, 2, 3)
    intersection = (probs * one_hot).sum(dims)
    dice = (2 * intersection + eps) / (probs.sum(dims) + one_hot.sum(dims) + eps)
    return 1 - dice.mean()


@torch.no_grad()
def segmentation_confusion(
    model: torch.nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    device: torch.device | str | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Run ``model`` (eval mode, restored afterwards) over ``(images, targets)`` batches and sum
    their pixel confusion matrices: ``(num_classes, num_classes)`` int64 (see :func:`confusion_matrix`).

    ``images``: ``(B, 3, H, W)`` float in [0, 1]; ``targets``: ``(B, H, W)`` int64.
    ``device=None``: the model's device.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long)
    with eval_mode(model):
        for images, targets in loader:
            pred = model(images.to(device)).argmax(1).cpu()
            cm += confusion_matrix(pred, targets, num_classes, ignore_index)
    return cm


def merge_panoptic(
    semantic: torch.Tensor,
    instance_masks: torch.Tensor,
    instance_labels: torch.Tensor,
    instance_scores: torch.Tensor | None = None,
    stuff_classes: Sequence[int] = (),
    overlap_threshold: float = 0.5,
    min_stuff_area: int = 0,
) -> tuple[torch.Tensor, dict[int, int]]:
    """Merge a semantic map and instance masks into a panoptic map (the heuristic of Kirillov et al., 2019).

    Instances are pasted in order of decreasing score onto pixels not yet taken; an instance that
    keeps less than ``overlap_threshold`` of its mask is dropped. Every remaining pixel whose
    semantic class is a stuff class joins that class's single stuff segment (dropped below
    ``min_stuff_area`` pixels); all other pixels stay 0 (no segment).

    Args:
        semantic: ``(H, W)`` int64 class map (from a semantic head).
        instance_masks: ``(N, H, W)`` bool; instance_labels: ``(N,)`` int64 thing classes;
        instance_scores: ``(N,)`` float (default: all equal, the given order).
        stuff_classes: the class ids that are stuff (uncountable: sky, grass, ...).

    Returns:
        ``(ids, categories)``: ``(H, W)`` int64 segment ids (0 = none) and segment id -> class id,
        the inputs of :func:`panoptic_quality`.
    """
    if instance_masks.ndim != 3 or instance_masks.shape[1:] != semantic.shape:
        raise ValueError(
            f"instance masks must be (N, H, W) with (H, W) = the semantic map's {tuple(semantic.shape)}, "
            f"got {tuple(instance_masks.shape)}."
        )
    n = instance_masks.shape[0]
    if instance_labels.shape != (n,) or (instance_scores is not None and instance_scores.shape != (n,)):
        raise ValueError(f"need one label (and score) per instance mask: {n} masks.")
    if not 0.0 < overlap_threshold <= 1.0:
        raise ValueError(f"overlap_threshold must be in (0, 1], got {overlap_threshold}.")
    ids = torch.zeros_like(semantic, dtype=torch.long)
    categories: dict[int, int] = {}
    order = torch.argsort(instance_scores, descending=True, stable=True) if instance_scores is not None else range(n)
    for k in order:
        mask = instance_masks[int(k)].bool()
        free = mask & (ids == 0)
        if mask.sum() == 0 or free.sum() < overlap_threshold * mask.sum():
            continue
        segment = len(categories) + 1
        ids[free] = segment
        categories[segment] = int(instance_labels[int(k)])
    for c in stuff_classes:
        region = (semantic == c) & (ids == 0)
        if region.sum() > max(min_stuff_area, 0):
            segment = len(categories) + 1
            ids[region] = segment
            categories[segment] = int(c)
    return ids, categories


# ----------------------------------------------------------------------------- training and inference


def train_segmenter(
    model: torch.nn.Module,
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    steps: int,
    batch_size: int = 16,
    crop: int | None = None,
    lr: float = 3e-3,
    encoder_lr: float | None = None,
    weight_decay: float = 1e-4,
    seed: int = 0,
    device: torch.device | str | None = None,
    channels_last: bool = True,
    progress: bool = True,
) -> list[float]:
    """Train a segmenter for ``steps`` mini-batches drawn at random from in-memory tensors; return the losses.

    Each step draws ``batch_size`` images with replacement, flips each horizontally with probability
    1/2, cuts one random ``crop x crop`` window (the same for the batch; ``None``: whole images),
    and takes an AdamW step on ``loss_fn(logits, masks)``. The learning rate follows a one-cycle
    schedule (10 % warm-up to the peak, then cosine decay). Parameters of ``model.encoder`` (if the
    model has one, as the lesson-08 networks do) peak at ``encoder_lr`` (default ``lr``): a pretrained
    encoder wants smaller steps than a new decoder. The model is left in eval mode.

    Args:
        images: ``(N, 3, H, W)`` uint8 (0..255) or float in [0, 1], on any device.
        masks: ``(N, H, W)`` int64 labels (the loss decides which value is ignored).
        seed: seeds the batch draws, flips and crops (the model's initialisation is the caller's).
        device: where to train; None = the model's device.
        channels_last: NHWC memory layout (faster convolutions on CPU and recent GPUs).

    Raises:
        ValueError: bad shapes, an empty set, a crop larger than the images; FloatingPointError on a
        NaN or infinite loss.
    """
    if images.ndim != 4 or images.shape[1] != 3 or masks.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(
            f"train_segmenter expects images (N, 3, H, W) and masks (N, H, W), got {tuple(images.shape)} and "
            f"{tuple(masks.shape)}."
        )
    n, height, width = masks.shape
    if n == 0 or steps < 1 or batch_size < 1:
        raise ValueError(f"need at least one image, step and batch element, got {n}, {steps} and {batch_size}.")
    if crop is not None and not 1 <= crop <= min(height, width):
        raise ValueError(f"crop must be in 1..{min(height, width)} (the image side), got {crop}.")
    device = resolve_device(model, device)
    optimizer, schedule = one_cycle_adamw(model, steps, lr, encoder_lr, weight_decay)
    generator = torch.Generator().manual_seed(seed)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=memory).train()
    losses: list[float] = []
    bar = tqdm(range(steps), desc="training", disable=not progress)
    for step in bar:
        idx = torch.randint(0, n, (batch_size,), generator=generator)
        x, y = images[idx.to(images.device)].to(device), masks[idx.to(masks.device)].to(device)
        x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        flip = (torch.rand(batch_size, generator=generator) < 0.5).to(device)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        y = torch.where(flip[:, None, None], y.flip(-1), y)
        if crop is not None:
            i0 = int(torch.randint(0, height - crop + 1, (1,), generator=generator))
            j0 = int(torch.randint(0, width - crop + 1, (1,), generator=generator))
            x, y = x[..., i0 : i0 + crop, j0 : j0 + crop], y[..., i0 : i0 + crop, j0 : j0 + crop]
        loss = loss_fn(model(x.contiguous(memory_format=memory)), y)
        losses.append(optimizer_step(loss, optimizer, schedule, step))
        if step % 10 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses


@torch.no_grad()
def segment(
    model: torch.nn.Module, images: torch.Tensor, batch_size: int = 50, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel class and confidence of ``model`` on ``images`` (eval mode, restored afterwards).

    Args:
        images: ``(N, 3, H, W)`` uint8 (0..255) or float in [0, 1].
        device: None = the model's device.

    Returns:
        ``(labels, confidence)``: ``(N, H, W)`` int64 argmax classes and ``(N, H, W)`` float32 softmax
        probability of that class, in [0, 1]; both on the CPU.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"segment expects images (N, 3, H, W), got {tuple(images.shape)}.")
    device = resolve_device(model, device)
    labels, confidence = [], []
    with eval_mode(model):
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device)
            x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
            conf, lab = model(x).float().softmax(1).max(1)
            labels.append(lab.cpu())
            confidence.append(conf.cpu())
    if not labels:
        raise ValueError("segment got no image.")
    return torch.cat(labels), torch.cat(confidence)


# ----------------------------------------------------------------------------- panoptic helpers


def connected_instances(
    semantic: torch.Tensor,
    thing_classes: Sequence[int],
    confidence: torch.Tensor | None = None,
    min_area: int = 1,
    connectivity: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Instances from a semantic map alone: each connected region of one thing class is one instance.

    The simplest bottom-up instance head: it needs no extra network, but two touching instances of
    the same class become one (a detector or a centre/offset head separates them).

    Args:
        semantic: ``(H, W)`` int64 class map.
        thing_classes: the class ids that are things (countable).
        confidence: ``(H, W)`` float per-pixel confidence (e.g. from :func:`segment`); an instance's
            score is its mean. Default: its area share (larger first).
        min_area: regions with fewer pixels are dropped (specks).
        connectivity: 1 = 4-neighbours, 2 = 8-neighbours (scikit-image's convention).

    Returns:
        ``(masks, labels, scores)``: ``(K, H, W)`` bool, ``(K,)`` int64, ``(K,)`` float32, the inputs
        of :func:`merge_panoptic`.
    """
    if semantic.ndim != 2 or semantic.dtype.is_floating_point:
        raise ValueError(f"semantic must be an (H, W) integer map, got {tuple(semantic.shape)} {semantic.dtype}.")
    if confidence is not None and confidence.shape != semantic.shape:
        raise ValueError(f"confidence {tuple(confidence.shape)} must have the semantic map's shape.")
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 (4-neighbours) or 2 (8-neighbours), got {connectivity}.")
    sem = semantic.cpu().numpy()
    masks: list[torch.Tensor] = []
    labels: list[int] = []
    scores: list[float] = []
    for c in thing_classes:
        regions = skimage.measure.label(sem == c, connectivity=connectivity)
        for k in range(1, int(regions.max()) + 1):
            mask = torch.from_numpy(regions == k)
            area = int(mask.sum())
            if area < min_area:
                continue
            masks.append(mask)
            labels.append(int(c))
            scores.append(float(confidence.cpu()[mask].mean()) if confidence is not None else area / mask.numel())
    if not masks:
        return torch.zeros(0, *semantic.shape, dtype=torch.bool), torch.zeros(0, dtype=torch.long), torch.zeros(0)
    return torch.stack(masks), torch.tensor(labels), torch.tensor(scores, dtype=torch.float32)


def concat_panoptic(maps: Sequence[tuple[torch.Tensor, Mapping[int, int]]]) -> tuple[torch.Tensor, dict[int, int]]:
    """Stack per-image panoptic maps ``[(ids (H, W), categories), ...]`` into one ``(N, H, W)`` map.

    Segment ids are shifted so that no two images share one (0 stays 0), so that
    :func:`panoptic_quality` on the result scores the whole set at once.
    """
    if not maps:
        raise ValueError("concat_panoptic needs at least one (ids, categories) pair.")
    shapes = {tuple(ids.shape) for ids, _ in maps}
    if len(shapes) > 1:
        raise ValueError(f"all panoptic maps must have one shape to be stacked, got {sorted(shapes)}.")
    out, categories, offset = [], {}, 0
    for ids, cats in maps:
        out.append(torch.where(ids > 0, ids + offset, torch.zeros_like(ids)))
        categories.update({i + offset: c for i, c in cats.items()})
        offset += max(int(ids.max()) if ids.numel() else 0, max(cats, default=0))
    return torch.stack(out), categories


# ----------------------------------------------------------------------------- drawing


def class_colors(num_classes: int) -> np.ndarray:
    """``(num_classes, 3)`` float RGB in [0, 1]: class ``c`` has lesson 03's colour for label ``c + 1``."""
    return np.array([to_rgb(class_color(c + 1)) for c in range(num_classes)])


def colorize(labels: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """A class map ``(H, W)`` int64 as an ``(H, W, 3)`` float RGB image in [0, 1]; ignored pixels white."""
    lab = labels.cpu().numpy()
    if lab.ndim != 2:
        raise ValueError(f"colorize expects one (H, W) class map, got shape {lab.shape}.")
    ignored = lab == ignore_index
    if ((lab < 0) | (lab >= num_classes))[~ignored].any():
        raise ValueError(f"class labels must be in 0..{num_classes - 1} (or {ignore_index}).")
    rgb = class_colors(num_classes)[np.where(ignored, 0, lab)]
    rgb[ignored] = 1.0
    return rgb


def colorize_panoptic(ids: torch.Tensor, categories: Mapping[int, int], num_classes: int, seed: int = 0) -> np.ndarray:
    """A panoptic map as ``(H, W, 3)`` float RGB in [0, 1]: stuff and thing segments in their class
    colour, each thing segment shaded differently (so two instances of one class differ), segment
    borders black, id 0 (no segment / void) white.
    """
    seg = ids.cpu().numpy()
    rng = np.random.default_rng(seed)
    colours = class_colors(num_classes)
    missing = {int(i) for i in np.unique(seg[seg > 0])} - set(categories)
    if missing:
        raise ValueError(f"segment ids {sorted(missing)[:5]} have no category in the mapping.")
    rgb = np.ones((*seg.shape, 3))
    for i in np.unique(seg[seg > 0]):
        shade = rng.uniform(0.45, 1.0)
        rgb[seg == i] = colours[categories[int(i)]] * shade
    rgb[skimage.segmentation.find_boundaries(seg, mode="inner")] = 0.0
    return rgb


def show_segmentation(
    images: torch.Tensor,
    truth: torch.Tensor,
    pred: torch.Tensor,
    class_names: Sequence[str],
    ignore_index: int = IGNORE_INDEX,
    title: str = "Held-out images: truth, prediction and errors",
) -> Figure:
    """One row per image: the image, the true and the predicted class map, and the errors (red; ignored
    pixels grey), with a colour legend of the classes.

    Args:
        images: ``(N, 3, H, W)`` uint8 or float in [0, 1]; truth, pred: ``(N, H, W)`` int64 class maps.
    """
    if images.ndim != 4 or truth.shape != pred.shape or truth.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(
            f"expected images (N, 3, H, W) with truth and pred (N, H, W), got {tuple(images.shape)}, "
            f"{tuple(truth.shape)} and {tuple(pred.shape)}."
        )
    c = len(class_names)
    n = len(images)
    fig, axes = plt.subplots(n, 4, figsize=(7.2, 1.8 * n + 0.9), squeeze=False)
    for r in range(n):
        x = images[r].cpu()
        x = x.float() / 255 if x.dtype == torch.uint8 else x
        wrong = (pred[r] != truth[r]).cpu().numpy()
        ignored = (truth[r] == ignore_index).cpu().numpy()
        err = np.ones((*wrong.shape, 3))
        err[wrong] = (0.85, 0.1, 0.1)
        err[ignored] = 0.7
        panels = [x.permute(1, 2, 0).numpy(), colorize(truth[r], c, ignore_index), colorize(pred[r], c), err]
        share = f"{wrong[~ignored].mean():.0%}" if (~ignored).any() else "no labelled pixel"
        names = ["image", "truth", "prediction", f"errors ({share})"]
        for ax, panel, name in zip(axes[r], panels, names):
            ax.imshow(panel, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name, fontsize=8)
    colours = class_colors(c)
    handles = [Patch(color=colours[k], label=class_names[k]) for k in range(c)]
    fig.legend(handles=handles, loc="lower center", ncol=min(c, 7), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.5 / (1.8 * n + 0.9), 1, 1))
    return fig
