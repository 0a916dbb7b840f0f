"""A generated instance-segmentation dataset (shapes on textured backgrounds) and COCO-format I/O.

Every image holds a few filled shapes (circles, squares, triangles) of random
colour, size and rotation on a textured background; later shapes may cover
earlier ones. Because the generator draws every pixel itself, the per-instance
masks are **exact** (no anti-aliasing: a pixel belongs to one shape or to the
background), and the boxes are computed from the visible masks. The same seed
always gives the same images.

The dataset can be written in **COCO format** (an ``images/`` folder of PNGs +
one ``annotations.json`` with run-length-encoded masks, as produced by
``pycocotools.mask.encode``) and read back with :class:`CocoInstances`, the same
way a learner would read any COCO-style dataset exported from a labelling tool.

Conventions (as in torchvision's detection models):

- label ``0`` is the background; the classes are ``1..len(CLASSES)``;
- a box is ``(x1, y1, x2, y2)`` in pixels with ``x2``/``y2`` *exclusive*: a mask
  covering columns 3..7 has ``x1 = 3, x2 = 8`` (width 5, COCO's ``[3, y, 5, h]``).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image
from pycocotools import mask as mask_util
from skimage.draw import disk, polygon
from torch.utils.data import Dataset
from torchvision import tv_tensors

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
        """``(N, 4)`` float32 ``(x1, y1, x2, y2)`` with exclusive ``x2, y2`` (see module docstring)."""
        return masks_to_boxes_exclusive(self.masks)


def masks_to_boxes_exclusive(masks: np.ndarray | torch.Tensor) -> np.ndarray:
    """``(N, H, W)`` bool masks -> ``(N, 4)`` float32 boxes ``(x1, y1, x2, y2)``, ``x2 = last column + 1``.

    This equals COCO's box of the mask (``pycocotools.mask.toBbox`` gives ``[x1, y1, x2 - x1, y2 - y1]``).
    An empty mask gives the degenerate box ``(0, 0, 0, 0)``.
    """
    masks = masks.numpy() if isinstance(masks, torch.Tensor) else np.asarray(masks)
    boxes = np.zeros((len(masks), 4), dtype=np.float32)
    for i, m in enumerate(masks):
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if len(rows):
            boxes[i] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return boxes


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


def _shape_mask(rng: np.random.Generator, label: int, size: int, diameter: float, cx: float, cy: float) -> np.ndarray:
    """``(size, size)`` bool mask of one whole shape (label 1 circle, 2 square, 3 triangle)."""
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
            m = _shape_mask(rng, label, size, d, cx, cy)
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


def scene_to_sample(image: np.ndarray, masks: np.ndarray, labels: np.ndarray, image_id: int) -> tuple[tv_tensors.Image, dict]:
    """Numpy scene -> ``(image, target)`` in torchvision's detection format.

    Returns:
        image: ``tv_tensors.Image`` ``(3, H, W)`` uint8 (use ``v2.ToDtype(torch.float32, scale=True)`` for [0, 1]);
        target: ``{"boxes": BoundingBoxes (N, 4) float32 XYXY, "masks": Mask (N, H, W) uint8 0/1,
        "labels": (N,) int64, "image_id": int}``.
    """
    h, w = image.shape[:2]
    boxes = masks_to_boxes_exclusive(masks)
    target = {
        "boxes": tv_tensors.BoundingBoxes(torch.from_numpy(boxes).reshape(-1, 4), format="XYXY", canvas_size=(h, w)),
        "masks": tv_tensors.Mask(torch.from_numpy(np.asarray(masks, dtype=np.uint8)).reshape(-1, h, w)),
        "labels": torch.as_tensor(np.asarray(labels), dtype=torch.int64).reshape(-1),
        "image_id": int(image_id),
    }
    return tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))), target


class ShapesDataset(Dataset):
    """``n`` generated scenes held in memory, as ``(image, target)`` pairs for torchvision detectors.

    Args:
        n: number of images.
        seed: scenes are deterministic from it (use different seeds for train and test).
        size: image side in pixels (square images).
        max_objects / min_objects: objects per image before occlusion filtering.
        transforms: a ``torchvision.transforms.v2`` transform called as ``transforms(image, target)``.

    Items: see :func:`scene_to_sample` (image ``(3, size, size)`` uint8 unless ``transforms`` converts it).
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
        image, target = scene_to_sample(s.image, s.masks, s.labels, idx)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def to_coco(self) -> dict:
        """The annotations as a COCO ``instances`` dictionary (see :func:`scenes_to_coco`)."""
        return scenes_to_coco(self.scenes, CLASSES)


# ----------------------------------------------------------------------------- COCO format


def encode_mask(mask: np.ndarray) -> dict:
    """``(H, W)`` bool mask -> COCO compressed RLE ``{"size": [H, W], "counts": str}`` (JSON-ready)."""
    rle = mask_util.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_mask(segmentation: dict | list, height: int, width: int) -> np.ndarray:
    """A COCO ``segmentation`` (RLE dict, uncompressed RLE or polygon list) -> ``(H, W)`` bool mask."""
    if isinstance(segmentation, list):  # polygons
        rles = mask_util.frPyObjects(segmentation, height, width)
        rle = mask_util.merge(rles)
    elif isinstance(segmentation.get("counts"), list):  # uncompressed RLE
        rle = mask_util.frPyObjects(segmentation, height, width)
    else:
        rle = {"size": segmentation["size"], "counts": segmentation["counts"].encode("ascii")}
    if tuple(rle["size"]) != (height, width):
        raise ValueError(f"mask size {tuple(rle['size'])} does not match the image size {(height, width)}.")
    return mask_util.decode(rle).astype(bool)


def scenes_to_coco(scenes: Sequence[Scene], classes: Sequence[str] = CLASSES, file_names: Sequence[str] | None = None) -> dict:
    """Scenes -> a COCO ``instances`` dictionary (``images``, ``annotations``, ``categories``).

    Image ``i`` gets id ``i`` and file name ``file_names[i]`` (default ``"{i:05d}.png"``);
    category ids are the labels ``1..len(classes)``; masks are compressed RLE;
    ``bbox`` is ``[x, y, w, h]`` of the mask and ``area`` its pixel count.
    """
    images, annotations = [], []
    for i, s in enumerate(scenes):
        h, w = s.image.shape[:2]
        images.append({"id": i, "file_name": file_names[i] if file_names else f"{i:05d}.png", "height": h, "width": w})
        for mask, label, box in zip(s.masks, s.labels, s.boxes):
            x1, y1, x2, y2 = (float(v) for v in box)
            annotations.append(
                {
                    "id": len(annotations) + 1,  # COCO ids start at 1 (pycocotools treats id 0 as "no match")
                    "image_id": i,
                    "category_id": int(label),
                    "segmentation": encode_mask(mask),
                    "area": float(mask.sum()),
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "iscrowd": 0,
                }
            )
    categories = [{"id": k + 1, "name": name, "supercategory": "shape"} for k, name in enumerate(classes)]
    return {"images": images, "annotations": annotations, "categories": categories}


def write_coco(scenes: Sequence[Scene], folder: str | Path, classes: Sequence[str] = CLASSES) -> Path:
    """Write ``folder/images/*.png`` and ``folder/annotations.json`` (COCO instances); return the JSON path."""
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    coco = scenes_to_coco(scenes, classes)
    for s, info in zip(scenes, coco["images"]):
        Image.fromarray(s.image).save(folder / "images" / info["file_name"])
    path = folder / "annotations.json"
    path.write_text(json.dumps(coco))
    return path


def load_coco_api(annotations: str | Path | dict):
    """A ``pycocotools.coco.COCO`` object from a JSON path or an in-memory dictionary (its prints silenced)."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        if isinstance(annotations, dict):
            coco = COCO()
            coco.dataset = annotations
            coco.createIndex()
        else:
            coco = COCO(str(annotations))
    return coco


class CocoInstances(Dataset):
    """Any COCO-format instance-segmentation folder as ``(image, target)`` pairs, cached in memory.

    Args:
        image_dir: folder of the images named in the JSON's ``file_name``.
        ann_file: the COCO ``instances`` JSON.
        transforms: a ``torchvision.transforms.v2`` transform called as ``transforms(image, target)``.

    Items are those of :class:`ShapesDataset` (image ``(3, H, W)`` uint8; labels = COCO category ids,
    so a dataset whose category ids are ``1..K`` gives labels ready for a ``K + 1``-class detector).
    Crowd annotations are skipped. ``self.coco`` is the ``pycocotools`` COCO object (the evaluation
    ground truth); ``self.classes`` the category names in id order.

    Raises:
        FileNotFoundError: the JSON or an image is missing.
        ValueError: an annotation's mask size differs from its image size.
    """

    def __init__(self, image_dir: str | Path, ann_file: str | Path, transforms: Callable | None = None) -> None:
        self.image_dir, self.ann_file = Path(image_dir), Path(ann_file)
        if not self.ann_file.is_file():
            raise FileNotFoundError(f"COCO annotation file {self.ann_file} does not exist: write it first (write_coco).")
        self.coco = load_coco_api(self.ann_file)
        self.ids = sorted(self.coco.imgs)
        self.classes = [c["name"] for c in sorted(self.coco.dataset["categories"], key=lambda c: c["id"])]
        self.transforms = transforms
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def aspect_ratios(self) -> list[float]:
        """``width / height`` of every image, from the JSON (no image is read)."""
        return [self.coco.imgs[i]["width"] / self.coco.imgs[i]["height"] for i in self.ids]

    def load(self, idx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Image ``(H, W, 3)`` uint8, masks ``(N, H, W)`` bool, labels ``(N,)`` int64 of item ``idx`` (cached)."""
        if idx not in self._cache:
            info = self.coco.imgs[self.ids[idx]]
            path = self.image_dir / info["file_name"]
            if not path.is_file():
                raise FileNotFoundError(f"image {path} named in {self.ann_file} does not exist.")
            image = np.asarray(Image.open(path).convert("RGB"))
            h, w = image.shape[:2]
            if (h, w) != (info["height"], info["width"]):
                raise ValueError(f"{path} is {h}x{w} but {self.ann_file} says {info['height']}x{info['width']}.")
            anns = [a for a in self.coco.imgToAnns[info["id"]] if not a.get("iscrowd", 0)]
            try:
                masks = np.stack([decode_mask(a["segmentation"], h, w) for a in anns]) if anns else np.zeros((0, h, w), bool)
            except ValueError as err:
                raise ValueError(f"{path}: {err}") from err
            labels = np.array([a["category_id"] for a in anns], dtype=np.int64)
            self._cache[idx] = (image, masks, labels)
        return self._cache[idx]

    def __getitem__(self, idx: int) -> tuple[Any, dict]:
        image, masks, labels = self.load(idx)
        image, target = scene_to_sample(image, masks, labels, self.ids[idx])
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target
