"""Generated images with one object at a known place: data for *measuring* explanations.

Used by lesson 07 (the pointing game).

Each image shows exactly one object (a ring, a plus, an x-cross or a checkerboard) of
random size, colour and position, drawn over a cluttered background (a colour gradient,
noise, short line segments and dots in the same colours as the objects) among
**distractors**: shapes of the same size and colours that belong to no class (a disc, a
square, a triangle, a bar, an L and a T; the last three are parts of a plus or a cross).
The class label is the object's kind, so a classifier must find the object to be right,
and the object's bounding box and pixel mask are known exactly: the pointing game of
lesson 07 asks whether a saliency map's peak falls inside that box. Objects are small
(by default 12-18 px on a 64-px image: the box covers 4-8 % of it) and the (by default
three) distractors are as bright and edgy as they are, so a map that follows contrast
rather than the class evidence points at a distractor or at clutter.

Everything is generated from a seed: image ``i`` depends only on ``(seed, i)``, so the
first images are the same whatever ``n`` is, and two different seeds give independent
sets (use one seed for training and another for the held-out images). No download.

This is not lesson 03's detection dataset (:mod:`cvlib.data.shapes`): one object per
image, no instance masks per class, small (64 px) images meant for classification.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from cvlib.data.coco import masks_to_boxes_exclusive

CLASSES: tuple[str, ...] = ("ring", "plus", "cross", "checker")
DISTRACTORS: tuple[str, ...] = ("disc", "square", "triangle", "bar", "corner", "tee")
"""Shapes drawn beside the object that belong to no class (``corner`` is an L, ``tee`` a T)."""


def _palette_colour(rng: np.random.Generator) -> np.ndarray:
    """A random saturated RGB colour, ``(3,)`` float in [0, 1]."""
    colour = rng.uniform(0.0, 1.0, 3)
    colour[rng.integers(3)] = rng.uniform(0.75, 1.0)  # one strong channel: visible on the background
    return colour


def _segment_distance(yy: np.ndarray, xx: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """Distance of every pixel centre to the segment ``p0 -> p1`` (points as ``(y, x)``)."""
    d = p1 - p0
    length2 = max(float(d @ d), 1e-9)
    t = np.clip(((yy - p0[0]) * d[0] + (xx - p0[1]) * d[1]) / length2, 0.0, 1.0)
    return np.hypot(yy - (p0[0] + t * d[0]), xx - (p0[1] + t * d[1]))


def _window(low: np.ndarray, high: np.ndarray, size: int) -> tuple[slice, slice]:
    """Row and column slices covering the ``(y, x)`` range ``low..high``, clipped to the image."""
    r0, c0 = (max(0, int(np.floor(v))) for v in low)
    r1, c1 = (min(size, int(np.ceil(v)) + 1) for v in high)
    return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))


def _object_mask(kind: str, side: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """The object's ``(side, side)`` bool mask, and for the checkerboard its dark cells."""
    c = (side - 1) / 2.0
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    width = max(2.0, side / 5.0)  # stroke width of ring, plus and cross
    if kind == "ring":
        r = np.hypot(yy - c, xx - c)
        return (r <= side / 2.0) & (r >= side / 2.0 - width), None
    if kind == "plus":
        return (np.abs(yy - c) <= width / 2) | (np.abs(xx - c) <= width / 2), None
    if kind == "cross":
        a = _segment_distance(yy, xx, np.array([0.0, 0.0]), np.array([side - 1.0, side - 1.0]))
        b = _segment_distance(yy, xx, np.array([0.0, side - 1.0]), np.array([side - 1.0, 0.0]))
        return (a <= width / 2) | (b <= width / 2), None
    if kind == "checker":
        cells = int(rng.integers(3, 5))  # 3x3 or 4x4 cells
        cell = np.minimum((np.mgrid[0:side, 0:side] * cells) // side, cells - 1)
        dark = (cell[0] + cell[1]) % 2 == 1
        return np.ones((side, side), dtype=bool), dark
    raise ValueError(f"unknown object kind {kind!r}: choose one of {', '.join(CLASSES)}.")


def distractor_mask(kind: str, side: int, rng: np.random.Generator) -> np.ndarray:
    """The ``(side, side)`` bool mask of a distractor (one of :data:`DISTRACTORS`), randomly rotated by k * 90 deg."""
    c = (side - 1) / 2.0
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    half = max(2.0, side / 5.0) / 2  # half the stroke width of the objects
    if kind == "disc":
        mask = np.hypot(yy - c, xx - c) <= side / 2.0
    elif kind == "square":
        mask = np.ones((side, side), dtype=bool)
    elif kind == "triangle":
        mask = np.abs(xx - c) <= (yy + 1) / 2.0  # apex at the top, base along the bottom row
    elif kind == "bar":
        mask = np.abs(xx - c) <= half
    elif kind == "corner":
        mask = (xx <= 2 * half - 1) | (yy >= side - 2 * half)
    elif kind == "tee":
        mask = (yy <= 2 * half - 1) | (np.abs(xx - c) <= half)
    else:
        raise ValueError(f"unknown distractor {kind!r}: choose one of {', '.join(DISTRACTORS)}.")
    return np.rot90(mask, int(rng.integers(4))).copy()


def _overlaps(top: int, left: int, side: int, box: tuple[int, int, int, int], margin: int) -> bool:
    """Does the square ``(top, left, side)`` come within ``margin`` pixels of ``box`` = ``(top, left, bottom, right)``?"""
    t, l, b, r = box
    return top < b + margin and top + side > t - margin and left < r + margin and left + side > l - margin


def render_scene(
    kind: str,
    rng: np.random.Generator,
    size: int = 64,
    clutter: int = 12,
    distractors: int = 3,
    object_size: tuple[float, float] = (0.19, 0.28),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one cluttered scene with one object of ``kind`` among distractor shapes.

    Args:
        kind: one of :data:`CLASSES`.
        rng: the random generator (all randomness comes from it).
        size: image side in pixels (at least 32).
        clutter: number of thin line segments (as many dots again are added).
        distractors: number of distractor shapes (:data:`DISTRACTORS`, drawn at random,
            sides in the same range as the object's, at least 2 px away from the object;
            one that finds no free place in 20 tries is left out).
        object_size: ``(low, high)`` range of the object's side as a fraction of ``size``
            (``0 < low <= high <= 1``; the side is at least 6 px).

    Returns:
        image ``(size, size, 3)`` float32 in [0, 1], box ``(4,)`` float32 ``(x0, y0, x1, y1)``
        in pixels with exclusive ends (the tight box of the object's pixels, the
        torchvision convention), mask ``(size, size)`` bool (the object's pixels).
    """
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels for the objects to be recognisable, got {size}.")
    low, high = object_size
    if not 0 < low <= high <= 1:
        raise ValueError(
            f"object_size must be (low, high) with 0 < low <= high <= 1 (fractions of size), got {object_size}."
        )
    if clutter < 0 or distractors < 0:
        raise ValueError(f"clutter and distractors must be >= 0, got clutter={clutter}, distractors={distractors}.")
    smallest = max(6, round(low * size))
    largest = max(smallest, round(high * size))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    # background: a smooth gradient between two dull colours, plus pixel noise
    c0, c1 = rng.uniform(0.0, 0.5, 3), rng.uniform(0.0, 0.5, 3)
    angle = rng.uniform(0.0, 2 * np.pi)
    ramp = ((np.cos(angle) * xx + np.sin(angle) * yy) / size + 1.0) / 2.0
    image = c0 + (c1 - c0) * ramp[..., None]
    image += 0.04 * rng.standard_normal(image.shape, dtype=np.float32)
    # clutter: short thin segments and small dots in object-like colours
    for _ in range(clutter):
        p0 = rng.uniform(0, size, 2)
        angle = rng.uniform(0.0, np.pi)
        p1 = p0 + rng.uniform(4.0, 10.0) * np.array([np.sin(angle), np.cos(angle)])
        radius = rng.uniform(0.5, 1.2)
        window = _window(np.minimum(p0, p1) - radius, np.maximum(p0, p1) + radius, size)
        hit = _segment_distance(yy[window], xx[window], p0, p1) <= radius
        image[window][hit] = _palette_colour(rng)
    for _ in range(clutter):
        centre = rng.uniform(0, size, 2)
        radius = rng.uniform(1.0, 2.5)
        window = _window(centre - radius, centre + radius, size)
        hit = np.hypot(yy[window] - centre[0], xx[window] - centre[1]) <= radius
        image[window][hit] = _palette_colour(rng)
    # the object's place first, so that distractors can keep away from it
    side = int(rng.integers(smallest, largest + 1))
    top, left = (int(v) for v in rng.integers(0, size - side + 1, 2))
    # distractors: class-free shapes of the same sizes and colours, not touching the object
    for _ in range(distractors):
        d_kind = DISTRACTORS[int(rng.integers(len(DISTRACTORS)))]
        d_side = int(rng.integers(smallest, largest + 1))
        for _try in range(20):
            d_top, d_left = (int(v) for v in rng.integers(0, size - d_side + 1, 2))
            if not _overlaps(d_top, d_left, d_side, (top, left, top + side, left + side), margin=2):
                image[d_top : d_top + d_side, d_left : d_left + d_side][distractor_mask(d_kind, d_side, rng)] = (
                    _palette_colour(rng)
                )
                break
    # the object, drawn last
    obj, dark = _object_mask(kind, side, rng)
    colour = _palette_colour(rng)
    patch = image[top : top + side, left : left + side]
    patch[obj] = colour
    if dark is not None:
        patch[obj & dark] = colour * 0.2
    mask = np.zeros((size, size), dtype=bool)
    mask[top : top + side, left : left + side] = obj
    box = masks_to_boxes_exclusive(mask[None])[0].numpy()  # (x1, y1, x2, y2), x2/y2 exclusive, float32
    return np.clip(image, 0.0, 1.0).astype(np.float32), box, mask


def make_scenes(
    n: int,
    size: int = 64,
    seed: int = 0,
    clutter: int = 12,
    distractors: int = 3,
    object_size: tuple[float, float] = (0.19, 0.28),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` scenes, classes in turn (balanced): image ``i`` depends only on ``(seed, i)``.

    ``clutter``, ``distractors`` and ``object_size`` as in :func:`render_scene`.

    Returns:
        images ``(n, 3, size, size)`` float32 in [0, 1], labels ``(n,)`` int64 (index into
        :data:`CLASSES`), boxes ``(n, 4)`` float32 xyxy in pixels (exclusive ends),
        masks ``(n, size, size)`` bool.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    images, boxes, masks = [], [], []
    labels = [i % len(CLASSES) for i in range(n)]
    for i, label in enumerate(labels):
        image, box, mask = render_scene(
            CLASSES[label], np.random.default_rng([seed, i]), size, clutter, distractors, object_size
        )
        images.append(image)
        boxes.append(box)
        masks.append(mask)
    return (
        torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(),
        torch.tensor(labels, dtype=torch.int64),
        torch.from_numpy(np.stack(boxes)),
        torch.from_numpy(np.stack(masks)),
    )


class LocalizationDataset(Dataset):
    """Cluttered scenes with one object and distractors each; items are ``(image, label)`` for classifiers.

    Args:
        n: number of images.
        size: image side in pixels (default 64).
        seed: the set's seed; use different seeds for training and held-out sets.
        clutter: thin line segments (and as many dots) per image.
        distractors: class-free shapes per image (see :func:`render_scene`).
        object_size: ``(low, high)`` range of the object's side as a fraction of ``size``.
        transform: optional callable on the ``(3, size, size)`` image tensor.

    Attributes:
        images ``(n, 3, size, size)`` float32 in [0, 1]; labels ``(n,)`` int64;
        boxes ``(n, 4)`` float32 xyxy pixels, exclusive ends; masks ``(n, size, size)`` bool;
        classes: the class names.
    """

    classes = CLASSES

    def __init__(
        self,
        n: int = 1000,
        size: int = 64,
        seed: int = 0,
        clutter: int = 12,
        distractors: int = 3,
        object_size: tuple[float, float] = (0.19, 0.28),
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.images, self.labels, self.boxes, self.masks = make_scenes(n, size, seed, clutter, distractors, object_size)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = self.images[i]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[i])
