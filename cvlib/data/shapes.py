"""A generated instance-segmentation dataset: shapes on textured backgrounds (lesson 03, ``quick`` profile).

Every image holds a few filled shapes (circles, squares, triangles) of random
colour, size and rotation on a textured background; later shapes may cover
earlier ones. Because the generator draws every pixel itself, the per-instance
masks are **exact** (no anti-aliasing: a pixel belongs to one shape or to the
background), and the boxes are computed from the visible masks. The same seed
always gives the same images.

This module is the generated-shapes family only. The COCO format (RLE masks, the
ground-truth builder, :func:`cvlib.data.coco.write_coco`, :class:`cvlib.data.coco.CocoInstances`)
and the box convention (``x2``/``y2`` exclusive) live in :mod:`cvlib.data.coco`;
:func:`write_shapes_coco` writes scenes as a COCO folder (PNGs + ``annotations.json``),
the way a learner would get any COCO-style dataset exported from a labelling tool.

Label ``0`` is the background; the classes are ``1..len(CLASSES)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from skimage.draw import disk, polygon
from torch.utils.data import Dataset

from cvlib.data.coco import (
    coco_instances,
    instance_sample,
    masks_to_boxes_exclusive,
    write_coco,
)

CLASSES: tuple[str, ...] = ("circle", "square", "triangle")  # labels 1, 2, 3 (0 = background)


@dataclass
class Scene:
    """One generated image with its instances.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        masks: ``(N, H, W)`` bool, one visible-pixel mask per instance (N may be 0).
        labels: ``(N,)`` int64 in ``1..len(CLASSES)``.
    """

    image: np.ndarray
    masks: np.ndarray
    labels: np.ndarray

    @property
    def boxes(self) -> np.ndarray:
        """``(N, 4)`` float32 ``(x1, y1, x2, y2)`` with exclusive ``x2, y2`` (:func:`cvlib.data.coco.masks_to_boxes_exclusive`)."""
        return masks_to_boxes_exclusive(self.masks).numpy()


# ----------------------------------------------------------------------------- generation


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """``(size, size, 3)`` float in [0, 1]: two muted colours mixed by a gradient, stripes or a checkerboard, plus noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    kind = rng.integers(3)
    angle = rng.uniform(0, math.pi)
    u = xx * math.cos(angle) + yy * math.sin(angle)
    if kind == 0:  # gradient
        t = (u - u.min()) / (u.max() - u.min() + 1e-6)
    elif kind == 1:  # soft stripes
        t = 0.5 + 0.5 * np.sin(2 * math.pi * rng.uniform(2, 6) * u + rng.uniform(0, 2 * math.pi))
    else:  # checkerboard
        k = rng.integers(3, 8)
        t = ((np.floor(xx * k) + np.floor(yy * k)) % 2).astype(np.float32)
    c0, c1 = rng.uniform(0.25, 0.75, size=3), rng.uniform(0.25, 0.75, size=3)
    c1 = c0 + 0.35 * (c1 - c0)  # keep the two background colours close: the shapes must stand out
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    img += rng.normal(0, 0.03, size=img.shape)
    return img


def shape_mask(rng: np.random.Generator, label: int, size: int, diameter: float, cx: float, cy: float) -> np.ndarray:
    """``(size, size)`` bool mask of one whole shape (label 1 circle, 2 square, 3 triangle) of about
    ``diameter`` pixels centred at ``(cx, cy)``, at a random rotation drawn from ``rng``; parts outside
    the image are cut off. Also used by :mod:`cvlib.data.segscenes`."""
    if label not in (1, 2, 3) or not diameter > 0 or size < 1:
        raise ValueError(
            f"shape_mask needs label 1, 2 or 3, diameter > 0 and size >= 1, got {label}, {diameter}, {size}."
        )
    mask = np.zeros((size, size), dtype=bool)
    r = diameter / 2
    if label == 1:
        rr, cc = disk((cy, cx), r, shape=mask.shape)
    else:
        corners = 4 if label == 2 else 3
        start = rng.uniform(0, 2 * math.pi)
        # a square of side ~diameter has circumradius diameter / sqrt(2); a triangle is drawn a bit larger
        radius = r * (math.sqrt(2) if corners == 4 else 1.25)
        t = start + 2 * math.pi * np.arange(corners) / corners
        rr, cc = polygon(cy + radius * np.sin(t), cx + radius * np.cos(t), shape=mask.shape)
    mask[rr, cc] = True
    return mask


def make_scene(
    rng: np.random.Generator,
    size: int = 128,
    max_objects: int = 4,
    min_objects: int = 1,
    diameter: tuple[float, float] = (16.0, 40.0),
    min_visible: float = 0.5,
) -> Scene:
    """Draw one scene: a textured background and ``min_objects..max_objects`` shapes.

    Shapes are placed one after another; a later shape covers what it overlaps.
    A placement that would leave an earlier shape less than ``min_visible`` of its
    area visible is redrawn elsewhere (up to 20 tries, then the shape is left out),
    so every shape in the image is annotated and clearly recognisable.

    Returns:
        a :class:`Scene` (uint8 image, exact bool masks, labels).
    """
    if size < 32:
        raise ValueError(f"size={size} is too small for shapes of diameter {diameter}: use size >= 32.")
    img = _background(rng, size)
    n = int(rng.integers(min_objects, max_objects + 1))
    full: list[np.ndarray] = []  # whole shapes
    visible: list[np.ndarray] = []  # what is left visible of them
    labels: list[int] = []
    for _ in range(n):
        label = int(rng.integers(1, len(CLASSES) + 1))
        d = float(rng.uniform(*diameter))
        for _try in range(20):
            cx, cy = rng.uniform(d / 2, size - d / 2, size=2)
            m = shape_mask(rng, label, size, d, cx, cy)
            if all((v & ~m).sum() >= min_visible * f.sum() for v, f in zip(visible, full)):
                break
        else:
            continue
        # a saturated colour far from the local background
        bg = img[m].mean(axis=0)
        for _attempt in range(10):
            colour = rng.uniform(0, 1, size=3)
            colour[rng.integers(3)] = rng.choice([0.05, 0.95])
            if np.abs(colour - bg).sum() > 0.6:
                break
        shade = 1 + rng.normal(0, 0.04, size=(int(m.sum()), 1))  # a little texture on the shape too
        img[m] = np.clip(colour[None] * shade, 0, 1)
        visible = [v & ~m for v in visible] + [m.copy()]
        full.append(m)
        labels.append(label)
    masks = np.stack(visible) if visible else np.zeros((0, size, size), dtype=bool)
    image = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    return Scene(image=image, masks=masks, labels=np.array(labels, dtype=np.int64))


def generate_scenes(n: int, seed: int = 0, size: int = 128, max_objects: int = 4, min_objects: int = 1) -> list[Scene]:
    """``n`` scenes, deterministic from ``seed`` (scene ``i`` depends only on ``seed`` and ``i``)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}.")
    return [
        make_scene(np.random.default_rng([seed, i]), size=size, max_objects=max_objects, min_objects=min_objects)
        for i in range(n)
    ]


# ----------------------------------------------------------------------------- torch datasets


class ShapesDataset(Dataset):
    """``n`` generated scenes held in memory, as ``(image, target)`` pairs for torchvision detectors.

    Args:
        n: number of images.
        seed: scenes are deterministic from it (use different seeds for train and test).
        size: image side in pixels (square images).
        max_objects / min_objects: objects per image before occlusion filtering.
        transforms: a ``torchvision.transforms.v2`` transform called as ``transforms(image, target)``.

    Items: see :func:`cvlib.data.coco.instance_sample` (image ``(3, size, size)`` uint8 unless ``transforms`` converts it).
    Image ids are ``0..n-1``.
    """

    classes = CLASSES

    def __init__(
        self,
        n: int,
        seed: int = 0,
        size: int = 128,
        max_objects: int = 4,
        min_objects: int = 1,
        transforms: Callable | None = None,
    ) -> None:
        self.scenes = generate_scenes(n, seed=seed, size=size, max_objects=max_objects, min_objects=min_objects)
        self.size = size
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.scenes)

    def aspect_ratios(self) -> list[float]:
        """``width / height`` of every image (all 1.0: the scenes are square)."""
        return [1.0] * len(self.scenes)

    def __getitem__(self, idx: int) -> tuple[Any, dict]:
        s = self.scenes[idx]
        image, target = instance_sample(s.image, s.masks, s.labels, idx)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def to_coco(self) -> dict:
        """The annotations as a COCO ``instances`` dictionary (:func:`cvlib.data.coco.coco_instances` of :func:`scene_samples`)."""
        return coco_instances(scene_samples(self.scenes), CLASSES, supercategory="shape")


# ----------------------------------------------------------------------------- COCO files


def scene_samples(scenes: Sequence[Scene]) -> list[dict]:
    """Scenes -> samples for :mod:`cvlib.data.coco`: scene ``i`` gets image id ``i`` and file name ``"{i:05d}.png"``.

    Each sample: ``{"image_id", "file_name", "image" (H, W, 3) uint8, "height", "width",
    "boxes" (N, 4) float32 (x2/y2 exclusive), "masks" (N, H, W) bool, "labels" (N,) int64}``.
    """
    return [
        {
            "image_id": i,
            "file_name": f"{i:05d}.png",
            "image": s.image,
            "height": s.image.shape[0],
            "width": s.image.shape[1],
            "boxes": s.boxes,
            "masks": s.masks,
            "labels": s.labels,
        }
        for i, s in enumerate(scenes)
    ]


def write_shapes_coco(scenes: Sequence[Scene], folder: str | Path) -> Path:
    """Write scenes as a COCO folder: ``folder/images/00000.png, ...`` and ``folder/annotations.json``; return the JSON path.

    Categories are :data:`CLASSES` (ids 1, 2, 3, supercategory ``"shape"``); read it back with
    :class:`cvlib.data.coco.CocoInstances`.
    """
    return write_coco(scene_samples(scenes), folder, CLASSES, supercategory="shape")
