"""Detection targets and batches (lesson 03): transforms, target checks, collate, aspect-ratio batches.

Part of :mod:`cvlib.detection`, used by lesson 03 (Mask R-CNN fine-tuning).

Targets follow torchvision's format: ``{"boxes": (N, 4) float XYXY, "labels": (N,) int64 >= 1,
"masks": (N, H, W) uint8/bool, "image_id": int}`` for a ``(3, H, W)`` float image in [0, 1]; boxes
have exclusive ``x2``/``y2`` (the convention of :mod:`cvlib.data.coco`).

Degenerate boxes are filtered by torchvision's ``SanitizeBoundingBoxes`` (at the end of
:func:`detection_transforms`) and its functional form ``sanitize_bounding_boxes`` (in :func:`validate_target`),
not by hand.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, Sampler
from torchvision.transforms import v2
from torchvision.transforms.v2.functional import sanitize_bounding_boxes


def detection_transforms(train: bool, flip_p: float = 0.5) -> v2.Compose:
    """``(image, target)`` -> ``(float image in [0, 1], target)``; training adds a random horizontal flip.

    Boxes (``tv_tensors.BoundingBoxes``) and masks (``tv_tensors.Mask``) are flipped with
    the image; ``SanitizeBoundingBoxes`` then drops boxes that became degenerate, with
    their labels and masks.

    Raises:
        ValueError: ``flip_p`` is not a probability in [0, 1].
    """
    if not 0.0 <= flip_p <= 1.0:
        raise ValueError(f"flip_p is a probability: give a value in [0, 1], got {flip_p}.")
    steps: list[nn.Module] = [v2.ToImage()]
    if train:
        steps.append(v2.RandomHorizontalFlip(flip_p))
    steps += [v2.ToDtype(torch.float32, scale=True), v2.SanitizeBoundingBoxes()]
    return v2.Compose(steps)


class TargetError(ValueError):
    """A detection target cannot be used as it is; the message says what is wrong and what to do."""


def validate_target(image: torch.Tensor, target: Mapping[str, Any], min_size: float = 1.0) -> dict[str, Any]:
    """Check a ``(3, H, W)`` image's target and return a clean copy torchvision accepts.

    - No objects: fine (a negative image teaches "background"); boxes become ``(0, 4)`` float32,
      masks ``(0, H, W)``, so torchvision sees the shapes it expects.
    - Boxes with width or height below ``min_size`` pixels (zero-area, or ``x2 < x1``) or reaching
      outside the image: dropped by ``torchvision.transforms.v2.functional.sanitize_bounding_boxes``,
      with their labels and masks, and a ``UserWarning`` naming the image.

    Returns:
        a copy of ``target`` with ``boxes`` ``(M, 4)`` float32, ``labels`` ``(M,)`` int64 and ``masks`` (if given) ``(M, H, W)``.

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
    boxes = torch.as_tensor(target["boxes"], dtype=torch.float32).as_subclass(torch.Tensor)
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
    _, keep = sanitize_bounding_boxes(boxes, format="XYXY", canvas_size=(h, w), min_size=min_size, min_area=0.0)
    if not bool(keep.all()):
        warnings.warn(
            f"{where}: dropped {int((~keep).sum())} degenerate box(es) (width or height < {min_size} px, "
            f"or outside the {w}x{h} image): {boxes[~keep].tolist()}",
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
        aspect_ratios: ``width / height`` (> 0) of each dataset item.
        batch_size: images per batch (>= 1).
        generator: a seeded ``torch.Generator`` for a reproducible order.
        drop_last: drop the incomplete batches left at the end of an epoch.

    Raises:
        ValueError: ``batch_size < 1`` or an aspect ratio is not positive.
    """

    def __init__(
        self,
        aspect_ratios: Sequence[float],
        batch_size: int,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        bad = [r for r in aspect_ratios if not r > 0]
        if bad:
            raise ValueError(
                f"aspect ratios are width / height > 0, got {bad[0]}: compute them with aspect_ratios(dataset)."
            )
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
    return [
        float(img.shape[-1]) / float(img.shape[-2]) for img, _ in (dataset[i] for i in range(dataset_length(dataset)))
    ]


def dataset_length(dataset: Any) -> int:
    """``len(dataset)``, or one clear error for an iterable-style dataset (detection needs indexing)."""
    try:
        return len(dataset)
    except TypeError:
        raise TypeError(
            f"{type(dataset).__name__} has no len(): pass a map-style dataset (with __len__ and __getitem__)."
        ) from None
