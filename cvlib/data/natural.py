"""A small natural-image classification task built offline from bundled photographs (quick profile).

Used by lesson 02 (quick).

Each class is one photograph or texture that an installed package ships
(scikit-image's ``brick``, ``grass``, ``chelsea``, ``coffee``, ...; scikit-learn's
``china`` and ``flower``; matplotlib's ``grace_hopper``). Examples are square crops
of that photograph, resized to ``size x size``.

**Train and test crops never overlap.** Each photograph is cut into a grid of
cells; the cells are dealt to the two splits like the squares of a chessboard
(train on the "white" cells, test on the "black" ones), and every crop lies
entirely inside one cell of its split. Cells are disjoint half-open boxes, so no
pixel of a test crop was ever seen in training, and each split still covers the
whole photograph (top and bottom, left and right). :func:`split_cells` gives the
cells, :attr:`NaturalPatches.boxes` the crop of every example, and
:func:`box_overlap` the shared area of two boxes, so the split can be checked.

A box is ``(top, left, bottom, right)`` in pixels of the source photograph,
half-open: rows ``top <= r < bottom``, columns ``left <= c < right``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

Box = tuple[int, int, int, int]
SPLITS = ("train", "test")


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib
        from PIL import Image

        path = Path(matplotlib.get_data_path()) / "sample_data" / filename
        return np.asarray(Image.open(path).convert("RGB"))

    return load


# class name -> loader of the source photograph (all ship with installed packages: no download).
SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "brick": _skimage("brick"),
    "cameraman": _skimage("camera"),
    "cat": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "coins": _skimage("coins"),
    "galaxies": _skimage("hubble_deep_field"),
    "grass": _skimage("grass"),
    "gravel": _skimage("gravel"),
    "moon": _skimage("moon"),
    "rocket": _skimage("rocket"),
    "retina": _skimage("retina"),
    "cells": _skimage("immunohistochemistry"),
    "temple": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
    "portrait": _matplotlib("grace_hopper.jpg"),
}

DEFAULT_CLASSES: tuple[str, ...] = (
    "brick",
    "grass",
    "gravel",
    "cat",
    "coffee",
    "flower",
    "temple",
    "rocket",
    "astronaut",
    "portrait",
)


def load_source(name: str) -> np.ndarray:
    """The source photograph of class ``name`` as ``(H, W, 3)`` uint8 RGB (grayscale repeated).

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}: choose from {', '.join(sorted(SOURCES))}.")
    image = np.asarray(SOURCES[name]())
    if image.dtype != np.uint8:
        image = (np.clip(image.astype(np.float64), 0, 1) * 255).round().astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


def split_cells(height: int, width: int, grid: tuple[int, int] = (2, 2)) -> dict[str, list[Box]]:
    """Cut an ``height x width`` image into a ``rows x cols`` grid dealt like a chessboard.

    Cell ``(i, j)`` goes to ``"train"`` when ``i + j`` is even, to ``"test"`` when odd.
    Cells are half-open boxes that tile the image exactly, so a box inside a train
    cell and a box inside a test cell can never share a pixel.

    Returns:
        ``{"train": [boxes], "test": [boxes]}``, boxes as ``(top, left, bottom, right)``.
    """
    rows, cols = grid
    if rows < 1 or cols < 1 or rows * cols < 2:
        raise ValueError(f"grid must have at least 2 cells (one per split), got {grid}.")
    ys = np.linspace(0, height, rows + 1).round().astype(int)
    xs = np.linspace(0, width, cols + 1).round().astype(int)
    cells: dict[str, list[Box]] = {"train": [], "test": []}
    for i in range(rows):
        for j in range(cols):
            box = (int(ys[i]), int(xs[j]), int(ys[i + 1]), int(xs[j + 1]))
            cells["train" if (i + j) % 2 == 0 else "test"].append(box)
    return cells


def box_overlap(a: Box, b: Box) -> int:
    """Number of pixels two half-open boxes ``(top, left, bottom, right)`` share (0 if disjoint)."""
    rows = min(a[2], b[2]) - max(a[0], b[0])
    cols = min(a[3], b[3]) - max(a[1], b[1])
    return max(rows, 0) * max(cols, 0)


def box_inside(inner: Box, outer: Box) -> bool:
    """True when box ``inner`` lies entirely inside box ``outer``."""
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def sample_boxes(cells: Sequence[Box], n: int, scale: tuple[float, float], rng: np.random.Generator) -> list[Box]:
    """``n`` random square boxes, each inside one of ``cells`` (cells are picked in turn).

    The side of a box is ``scale`` (a range, fractions in (0, 1]) times the shorter
    side of its cell; its position in the cell is uniform.
    """
    lo, hi = scale
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}.")
    boxes: list[Box] = []
    order = rng.permutation(len(cells))
    for k in range(n):
        top, left, bottom, right = cells[order[k % len(cells)]]
        short = min(bottom - top, right - left)
        side = max(1, round(short * rng.uniform(lo, hi)))
        y = top + int(rng.integers(0, bottom - top - side + 1))
        x = left + int(rng.integers(0, right - left - side + 1))
        boxes.append((y, x, y + side, x + side))
    return boxes


class NaturalPatches(Dataset):
    """Square crops of bundled photographs, one class per photograph, train/test never overlapping.

    Args:
        split: ``"train"`` or ``"test"``: which chessboard cells the crops come from.
        per_class: crops per class.
        size: side of the returned images (crops are resized to ``size x size``).
        classes: class names, keys of :data:`SOURCES` (default :data:`DEFAULT_CLASSES`).
        grid: ``(rows, cols)`` of the chessboard (see :func:`split_cells`).
        scale: crop side as a fraction of its cell's shorter side (a range).
        seed: crops of a split depend only on (seed, split, class).
        grayscale: convert every crop to gray (repeated to 3 channels), so that colour alone
            cannot tell the photographs apart.
        transform: applied to the image tensor in ``__getitem__`` (e.g. augmentation).

    Attributes:
        images: ``(N, 3, size, size)`` float32 in [0, 1], grouped by class.
        labels: ``(N,)`` int64 class indices.
        boxes: ``(N, 4)`` int64, the crop of each example in its source photograph.
        cells: ``{class name: [cells of this split]}``.
        classes: the class names (index = label).
    """

    def __init__(
        self,
        split: str,
        per_class: int,
        size: int = 96,
        classes: Sequence[str] = DEFAULT_CLASSES,
        grid: tuple[int, int] = (2, 2),
        scale: tuple[float, float] = (0.5, 1.0),
        seed: int = 0,
        grayscale: bool = False,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
        if per_class < 1:
            raise ValueError(f"per_class must be at least 1, got {per_class}.")
        if len(set(classes)) != len(classes) or len(classes) < 2:
            raise ValueError(f"classes must be at least 2 distinct names, got {list(classes)}.")
        self.split = split
        self.classes = list(classes)
        self.size = size
        self.transform = transform
        self.cells: dict[str, list[Box]] = {}
        images, labels, boxes = [], [], []
        for label, name in enumerate(self.classes):
            photo = torch.from_numpy(load_source(name).copy()).permute(2, 0, 1)  # (3, H, W) uint8
            cells = split_cells(photo.shape[1], photo.shape[2], grid)[split]
            self.cells[name] = cells
            rng = np.random.default_rng([seed, SPLITS.index(split), label])
            for top, left, bottom, right in sample_boxes(cells, per_class, scale, rng):
                crop = photo[:, top:bottom, left:right]
                crop = v2.functional.resize(crop, [size, size], antialias=True)
                if grayscale:
                    crop = v2.functional.rgb_to_grayscale(crop, num_output_channels=3)
                images.append(crop)
                labels.append(label)
                boxes.append((top, left, bottom, right))
        self.images = torch.stack(images).float().div(255.0)
        self.labels = torch.tensor(labels, dtype=torch.int64)
        self.boxes = torch.tensor(boxes, dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])


def check_disjoint(train: NaturalPatches, test: NaturalPatches) -> int:
    """Verify that no train crop shares a pixel with a test crop of the same photograph.

    Also checks that every crop lies inside a cell of its own split. Returns the
    number of (train, test) crop pairs compared.

    Raises:
        AssertionError: naming the first offending pair.
    """
    if train.classes != test.classes:
        raise ValueError("train and test must use the same classes in the same order.")
    for ds in (train, test):
        for box, label in zip(ds.boxes.tolist(), ds.labels.tolist()):
            if not any(box_inside(tuple(box), cell) for cell in ds.cells[ds.classes[label]]):
                raise AssertionError(f"{ds.split} crop {box} of {ds.classes[label]!r} is not inside a {ds.split} cell.")
    pairs = 0
    for label, name in enumerate(train.classes):
        a = train.boxes[train.labels == label].tolist()
        b = test.boxes[test.labels == label].tolist()
        for box_a in a:
            for box_b in b:
                if box_overlap(tuple(box_a), tuple(box_b)):
                    raise AssertionError(f"train crop {box_a} and test crop {box_b} of {name!r} overlap.")
        pairs += len(a) * len(b)
    return pairs
