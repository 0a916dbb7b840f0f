"""Generated panoptic scenes for semantic, instance and panoptic segmentation (lesson 08, ``quick`` profile).

Every image is covered by **stuff** regions (sky, water, grass, ground) and, on
top, a few **things** from the shapes family (circle, square, triangle, drawn
with :mod:`cvlib.data.shapes`' geometry). The generator draws every pixel itself,
so the labels are **exact**: a pixel belongs to one stuff class or to one
visible thing instance, with no anti-aliasing.

- Stuff: a sky above a wavy horizon (a sum of random sinusoids, sometimes no sky),
  then 1-3 layered bands of water / grass / ground in random order with wavy,
  tilted borders, and sometimes a blob (pond, patch) with a wavy outline. Not
  every class is in every image. Each class has its own texture (sky: gradient and
  clouds; water: ripples at a random orientation; grass: grain along a random
  blade direction; ground: blotches, grain and sometimes furrows), and its colour
  is jittered per image and tinted by a per-image light, so colour alone does not
  give the class away.
- Things: ``min_things..max_things`` shapes of random colour, size
  (``thing_size``, 8-28 px by default) and rotation, drawn one after another; a
  later shape covers an earlier one, and shapes are often placed next to an
  earlier one so occlusion is common. An instance's mask is its *visible* pixels;
  an instance with fewer than ``min_visible`` visible pixels is dropped and its
  pixels are repainted with the stuff underneath, so the labels stay exact.

Labels (:data:`SEG_CLASSES`): ``0 sky, 1 water, 2 grass, 3 ground`` (stuff) and
``4 circle, 5 square, 6 triangle`` (things). The semantic map is ``(H, W)`` int64
in ``0..6``; the instance map is ``(H, W)`` int64, ``0`` on stuff and ``1..N`` on
the N visible thing instances. The generator never writes :data:`IGNORE` (255);
it is the label a loss or metric skips (as :data:`cvlib.segmentation.IGNORE_INDEX`).
:func:`panoptic_target` turns both maps into the segment ids and categories that
:func:`cvlib.segmentation.panoptic_quality` takes.

Deterministic: scene ``i`` depends only on ``seed`` and ``i`` (and the size options).
Speed: 400 scenes of 96 x 96 take about 1.5 s on one CPU core (measured pinned to one core of
the course's 2-core machine while another job was running; about 4 ms per scene).

Class pixel shares over 400 scenes (seed 0, defaults): sky 0.29, water 0.22, grass 0.20,
ground 0.21, circle 0.029, square 0.037, triangle 0.017; 3.1 things and 3.0 stuff classes
per scene on average, and 70 % of the scenes have at least one partly hidden thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from cvlib.data.shapes import shape_mask
from cvlib.validate import check_int

__all__ = [
    "IGNORE",
    "NUM_CLASSES",
    "SEG_CLASSES",
    "STUFF_CLASSES",
    "THING_CLASSES",
    "LabelScenePairs",
    "SegScene",
    "SegScenesDataset",
    "make_segscene",
    "make_segscenes",
    "panoptic_target",
]

#: Semantic classes; the label of a class is its index (stuff 0..3, things 4..6).
SEG_CLASSES: tuple[str, ...] = ("sky", "water", "grass", "ground", "circle", "square", "triangle")
STUFF_CLASSES: tuple[int, ...] = (0, 1, 2, 3)
THING_CLASSES: tuple[int, ...] = (4, 5, 6)
NUM_CLASSES = len(SEG_CLASSES)
#: Label of pixels no loss or metric should count. Never produced by the generator; same value as
#: :data:`cvlib.segmentation.IGNORE_INDEX`.
IGNORE = 255

SKY, WATER, GRASS, GROUND = STUFF_CLASSES
_BASE_COLOUR = {
    SKY: (0.50, 0.66, 0.86),
    WATER: (0.22, 0.40, 0.58),
    GRASS: (0.30, 0.52, 0.24),
    GROUND: (0.50, 0.42, 0.30),
}


@dataclass
class SegScene:
    """One generated scene with exact panoptic labels.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB, values 0..255.
        semantic: ``(H, W)`` int64, class labels in ``0..6`` (:data:`SEG_CLASSES`).
        instances: ``(H, W)`` int64, ``0`` on stuff, ``1..N`` on the visible pixels of thing instance ``k``.
        thing_labels: ``(N,)`` int64 in ``4..6``, the class of instance ``k`` at index ``k - 1``.
        full_areas: ``(N,)`` int64, pixels of each instance's whole shape inside the image before
            occlusion (``>=`` its visible area; larger when a later shape covers part of it).
    """

    image: np.ndarray
    semantic: np.ndarray
    instances: np.ndarray
    thing_labels: np.ndarray
    full_areas: np.ndarray

    @property
    def visible_areas(self) -> np.ndarray:
        """``(N,)`` int64: visible pixels of each instance (``full_areas`` minus what later shapes cover)."""
        return np.bincount(self.instances.ravel(), minlength=len(self.thing_labels) + 1)[1:].astype(np.int64)


# ----------------------------------------------------------------------------- input checks


def _check_options(
    size: int, min_things: int, max_things: int, thing_size: tuple[float, float], min_visible: int
) -> None:
    check_int("size", size, 32, 1024)
    check_int("max_things", max_things, 0, 20)
    check_int("min_things", min_things, 0, max_things)
    check_int("min_visible", min_visible, 1, 1000)
    ok = (
        isinstance(thing_size, (tuple, list))
        and len(thing_size) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in thing_size)
        and 4 <= thing_size[0] <= thing_size[1] <= size / 2
    )
    if not ok:
        raise ValueError(
            f"thing_size={thing_size!r} is not allowed: use (low, high) with 4 <= low <= high <= size / 2."
        )


# ----------------------------------------------------------------------------- stuff


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """``(size, size)`` float, about unit variance: a ``(cells+1)^2`` normal grid interpolated bilinearly."""
    g = rng.normal(size=(cells + 1, cells + 1))
    t = np.linspace(0, cells, size, endpoint=False)
    i = t.astype(np.int64)
    w = t - i
    a = g[np.ix_(i, i)] * (1 - w)[None] + g[np.ix_(i, i + 1)] * w[None]
    b = g[np.ix_(i + 1, i)] * (1 - w)[None] + g[np.ix_(i + 1, i + 1)] * w[None]
    return a * (1 - w)[:, None] + b * w[:, None]


def _wavy_line(rng: np.random.Generator, size: int, base: float, amplitude: float, tilt: float) -> np.ndarray:
    """``(size,)`` float row of a border at each column: ``base`` + tilt + a sum of random sinusoids + 1-px jitter."""
    x = np.arange(size) / size
    y = base + tilt * (x - 0.5) * size
    for k in range(3):
        freq = rng.uniform(0.5, 2.0) * (k + 1)
        y += amplitude / (k + 1) * np.sin(2 * math.pi * freq * x + rng.uniform(0, 2 * math.pi))
    return y + rng.uniform(-0.8, 0.8, size=size)


def _stuff_layout(rng: np.random.Generator, size: int) -> np.ndarray:
    """``(size, size)`` int64 in ``0..3``: sky over a wavy horizon, 1-3 layered bands below, maybe a blob."""
    rows = np.arange(size, dtype=np.float64)[:, None]
    sem = np.empty((size, size), dtype=np.int64)
    has_sky = rng.random() < 0.8
    top = rng.uniform(0.2, 0.55) * size if has_sky else 0.0
    n_bands = int(rng.choice([1, 2, 3], p=[0.25, 0.45, 0.30]))
    if not has_sky:
        n_bands = max(n_bands, 2)
    bands = rng.permutation([WATER, GRASS, GROUND])[:n_bands]
    # band i covers rows between border i-1 and border i; a pixel's band is the number of borders above it
    cuts = np.sort(rng.uniform(0.15, 0.85, size=n_bands - 1))
    borders = [
        _wavy_line(rng, size, top + c * (size - top), rng.uniform(1.0, 5.0), rng.uniform(-0.3, 0.3)) for c in cuts
    ]
    index = np.zeros((size, size), dtype=np.int64)
    for line in borders:
        index += rows >= line[None]
    sem[:] = bands[index]
    if has_sky:
        horizon = _wavy_line(rng, size, top, rng.uniform(1.5, 7.0), rng.uniform(-0.25, 0.25))
        sem[rows < horizon[None]] = SKY
    if rng.random() < 0.4:  # a blob of another ground class: a pond, a lawn, a patch of earth
        cls = int(rng.choice([WATER, GRASS, GROUND]))
        r0 = rng.uniform(7, 18)
        cy = rng.uniform(max(top, r0), size - 2)
        cx = rng.uniform(0, size)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
        angle = np.arctan2(yy - cy, (xx - cx) * 0.6)
        radius = r0 * (1 + sum(rng.uniform(0.05, 0.2) * np.sin(k * angle + rng.uniform(0, 6.3)) for k in (2, 3, 5)))
        blob = ((xx - cx) * 0.6) ** 2 + (yy - cy) ** 2 < radius**2
        sem[blob & (sem != SKY)] = cls
    return sem


def _direction(size: int, angle: float) -> np.ndarray:
    """``(size, size)`` float: pixel coordinate along ``angle`` (radians), in pixels."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    return xx * math.cos(angle) + yy * math.sin(angle)


def _texture(rng: np.random.Generator, cls: int, size: int) -> np.ndarray:
    """``(size, size, 3)`` float, roughly in [0, 1]: class ``cls``'s texture with this image's colour jitter."""
    colour = np.array(_BASE_COLOUR[cls]) + rng.normal(0, 0.07, size=3)
    colour *= rng.uniform(0.75, 1.2)
    lum = np.zeros((size, size))
    if cls == SKY:
        lum += np.linspace(-0.08, 0.1, size)[:, None] * rng.uniform(0.5, 1.5)  # brighter towards the horizon
        clouds = np.clip(_smooth_noise(rng, size, 4) - rng.uniform(-0.3, 1.0), 0, None)
        lum += 0.25 * rng.uniform(0, 1) * clouds
        lum += rng.normal(0, 0.02, size=(size, size))
    elif cls == WATER:
        u = _direction(size, rng.uniform(-0.5, 0.5) + math.pi / 2)  # ripples roughly horizontal
        period = rng.uniform(3.0, 8.0)
        lum += rng.uniform(0.04, 0.12) * np.sin(2 * math.pi * u / period + 0.8 * _smooth_noise(rng, size, 3))
        lum += 0.05 * _smooth_noise(rng, size, 3) + rng.normal(0, 0.03, size=(size, size))
    elif cls == GRASS:
        grain = rng.normal(0, 1, size=(size, size))
        dy, dx = (1, 0) if rng.random() < 0.5 else (1, int(rng.choice([-1, 1])))  # blades, upright or slanted
        for s in (1, 2):
            grain = grain + np.roll(grain, (s * dy, s * dx), axis=(0, 1))
        lum += rng.uniform(0.03, 0.06) * grain / 3 + 0.06 * _smooth_noise(rng, size, 5)
    else:  # GROUND
        lum += 0.08 * _smooth_noise(rng, size, 8) + rng.normal(0, rng.uniform(0.03, 0.08), size=(size, size))
        if rng.random() < 0.5:  # furrows at a random orientation
            u = _direction(size, rng.uniform(0, math.pi))
            lum += 0.06 * np.sin(2 * math.pi * u / rng.uniform(4.0, 10.0))
    tex = colour[None, None] * (1 + lum[..., None] * 2.0)
    return tex + rng.normal(0, 0.015, size=(size, size, 3))


# ----------------------------------------------------------------------------- scenes


def make_segscene(
    rng: np.random.Generator,
    size: int = 96,
    min_things: int = 1,
    max_things: int = 5,
    thing_size: tuple[float, float] = (8.0, 28.0),
    min_visible: int = 12,
) -> SegScene:
    """Draw one scene from ``rng``: stuff regions, then ``min_things..max_things`` occluding shapes.

    Args:
        rng: the random generator (consumed).
        size: image side in pixels, 32..1024.
        min_things, max_things: shapes drawn, ``0 <= min_things <= max_things <= 20`` (before dropping).
        thing_size: ``(low, high)`` shape diameter in pixels (square side, circle diameter), ``4 <= low <= high <= size / 2``.
        min_visible: instances with fewer visible pixels are dropped (repainted with the stuff below), 1..1000.

    Returns:
        a :class:`SegScene`.
    """
    if not isinstance(rng, np.random.Generator):  # ValueError like every other bad input here
        raise ValueError(  # noqa: TRY004
            f"rng={rng!r} is not allowed: pass a numpy Generator, e.g. np.random.default_rng(0)."
        )
    _check_options(size, min_things, max_things, thing_size, min_visible)
    stuff = _stuff_layout(rng, size)
    light = rng.uniform(0.85, 1.15, size=3)  # one tint for the whole image (sunset, overcast, ...)
    background = np.zeros((size, size, 3))
    for cls in STUFF_CLASSES:
        where = stuff == cls
        if where.any():
            background[where] = _texture(rng, cls, size)[where]
    background *= light
    img = background.copy()

    n = int(rng.integers(min_things, max_things + 1))
    full: list[np.ndarray] = []
    visible: list[np.ndarray] = []
    labels: list[int] = []
    centres: list[tuple[float, float]] = []
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    for _ in range(n):
        shape = int(rng.integers(1, 4))  # shapes' labels: 1 circle, 2 square, 3 triangle
        d = float(rng.uniform(*thing_size))
        lo, hi = d / 2, size - d / 2
        if centres and rng.random() < 0.5:  # next to an earlier shape: occlusion
            px, py = centres[int(rng.integers(len(centres)))]
            cx, cy = np.clip([px, py] + rng.uniform(-0.8, 0.8, size=2) * d, lo, hi)
        else:
            cx, cy = rng.uniform(lo, hi, size=2)
        m = shape_mask(rng, shape, size, d, float(cx), float(cy))
        if not m.any():
            continue
        local = img[m].mean(axis=0)
        for _attempt in range(10):
            colour = rng.uniform(0.05, 0.95, size=3)
            if np.abs(colour - local).sum() > 0.35:
                break
        angle = rng.uniform(0, 2 * math.pi)
        shade = 1 + 0.15 * ((xx[m] - cx) * math.cos(angle) + (yy[m] - cy) * math.sin(angle)) / d
        shade = shade + rng.normal(0, 0.03, size=shade.shape)
        img[m] = colour[None] * shade[:, None]
        visible = [v & ~m for v in visible] + [m]
        full.append(m)
        labels.append(THING_CLASSES[shape - 1])
        centres.append((float(cx), float(cy)))

    semantic = stuff.copy()
    instances = np.zeros((size, size), dtype=np.int64)
    kept_labels: list[int] = []
    kept_areas: list[int] = []
    for v, f, lab in zip(visible, full, labels):
        if v.sum() < min_visible:  # too little left to annotate: show the stuff below instead
            img[v] = background[v]
            continue
        kept_labels.append(lab)
        kept_areas.append(int(f.sum()))
        semantic[v] = lab
        instances[v] = len(kept_labels)
    image = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    return SegScene(
        image=image,
        semantic=semantic,
        instances=instances,
        thing_labels=np.array(kept_labels, dtype=np.int64),
        full_areas=np.array(kept_areas, dtype=np.int64),
    )


def make_segscenes(
    n: int,
    seed: int = 0,
    size: int = 96,
    min_things: int = 1,
    max_things: int = 5,
    thing_size: tuple[float, float] = (8.0, 28.0),
    min_visible: int = 12,
) -> list[SegScene]:
    """``n`` scenes (:func:`make_segscene`), deterministic: scene ``i`` depends only on ``seed``, ``i`` and the options.

    Args:
        n: number of scenes, >= 1.
        seed: integer >= 0; use different seeds for the training and test scenes.
        size, min_things, max_things, thing_size, min_visible: as in :func:`make_segscene`.

    Returns:
        a list of ``n`` :class:`SegScene`.
    """
    check_int("n", n, 1)
    check_int("seed", seed, 0)
    _check_options(size, min_things, max_things, thing_size, min_visible)
    return [
        make_segscene(np.random.default_rng([seed, i]), size, min_things, max_things, thing_size, min_visible)
        for i in range(n)
    ]


# ----------------------------------------------------------------------------- panoptic targets


def panoptic_target(
    semantic: torch.Tensor | np.ndarray, instances: torch.Tensor | np.ndarray
) -> tuple[torch.Tensor, dict[int, int]]:
    """Semantic + instance maps -> segment ids and categories for :func:`cvlib.segmentation.panoptic_quality`.

    Thing instance ``k`` keeps segment id ``k``; each stuff class ``c`` present becomes one segment with id
    ``K + 1 + c`` (``K`` the largest instance id); :data:`IGNORE` pixels get id 0 (void).

    Args:
        semantic: ``(H, W)`` integer class map, values in ``0..6`` or :data:`IGNORE`.
        instances: ``(H, W)`` integer instance map, ``0`` on stuff, ``1..K`` on things; every instance pixel
            must have one thing class (``4..6``) and every thing-class pixel an instance.

    Returns:
        ``(segment_ids, categories)``: ``(H, W)`` int64 tensor and ``{segment id: class}`` for every nonzero id.
    """
    sem = torch.as_tensor(semantic)
    ins = torch.as_tensor(instances)
    if sem.ndim != 2 or sem.shape != ins.shape:
        raise ValueError(
            f"semantic {tuple(sem.shape)} and instances {tuple(ins.shape)} must be two (H, W) maps of the same shape."
        )
    if sem.dtype.is_floating_point or sem.dtype == torch.bool or ins.dtype.is_floating_point or ins.dtype == torch.bool:
        raise ValueError(f"semantic ({sem.dtype}) and instances ({ins.dtype}) must hold integer labels.")
    sem, ins = sem.long(), ins.long()
    valid = (sem >= 0) & (sem < NUM_CLASSES) | (sem == IGNORE)
    if not bool(valid.all()):
        raise ValueError(f"semantic has values {sorted(set(sem[~valid].tolist()))[:5]}: allowed are 0..6 and {IGNORE}.")
    if bool((ins < 0).any()):
        raise ValueError("instances has negative ids: use 0 for stuff and 1..K for thing instances.")
    is_thing = (sem >= THING_CLASSES[0]) & (sem <= THING_CLASSES[-1])
    if bool((is_thing != (ins > 0)).any()):
        raise ValueError(
            "instances and semantic disagree: every thing-class pixel needs an instance id and vice versa."
        )
    ids = ins.clone()
    categories: dict[int, int] = {}
    top = int(ins.max()) if ins.numel() else 0
    for k in torch.unique(ins[ins > 0]).tolist():
        classes = torch.unique(sem[ins == k]).tolist()
        if len(classes) != 1:
            raise ValueError(f"instance {k} has classes {classes}: one instance must have one thing class.")
        categories[int(k)] = int(classes[0])
    for c in STUFF_CLASSES:
        where = sem == c
        if bool(where.any()):
            ids[where] = top + 1 + c
            categories[top + 1 + c] = c
    return ids, categories


# ----------------------------------------------------------------------------- torch dataset


class SegScenesDataset(Dataset):
    """``n`` generated scenes held in memory as tensors, items ``(image, semantic)`` for semantic segmentation.

    Args:
        n: number of scenes, >= 1.
        size: image side in pixels (square images), 32..1024.
        seed: integer >= 0; scenes are deterministic from it (different seeds for train and test).
        max_things: shapes per image before dropping, 0..20 (``min_things`` 1 unless max_things is 0).
        with_instances: items are ``(image, semantic, instances)`` instead.
        thing_size: ``(low, high)`` shape diameters in pixels as in :func:`make_segscene`; default
            ``(8, 28)``, the upper end capped at ``size / 2``.

    Attributes:
        images: ``(n, 3, size, size)`` uint8, values 0..255.
        semantic: ``(n, size, size)`` int64 in ``0..6``.
        instances: ``(n, size, size)`` int64, ``0`` on stuff, ``1..N_i`` on things.
        thing_labels: list of ``n`` ``(N_i,)`` int64 tensors in ``4..6``.
        scenes: the :class:`SegScene` list.

    Items: image ``(3, size, size)`` float32 in [0, 1], semantic ``(size, size)`` int64 (and instances, int64).
    """

    classes = SEG_CLASSES
    stuff_classes = STUFF_CLASSES
    thing_classes = THING_CLASSES
    ignore_index = IGNORE

    def __init__(
        self,
        n: int,
        size: int = 96,
        seed: int = 0,
        max_things: int = 5,
        with_instances: bool = False,
        thing_size: tuple[float, float] | None = None,
    ) -> None:
        check_int("max_things", max_things, 0, 20)
        check_int("size", size, 32, 1024)
        if thing_size is None:  # the generator's default, capped at half the image side for small images
            thing_size = (8.0, min(28.0, size / 2))
        self.scenes = make_segscenes(
            n, seed=seed, size=size, min_things=min(1, max_things), max_things=max_things, thing_size=thing_size
        )
        self.size = size
        self.with_instances = bool(with_instances)
        self.images = torch.from_numpy(np.stack([s.image for s in self.scenes])).permute(0, 3, 1, 2).contiguous()
        self.semantic = torch.from_numpy(np.stack([s.semantic for s in self.scenes]))
        self.instances = torch.from_numpy(np.stack([s.instances for s in self.scenes]))
        self.thing_labels = [torch.from_numpy(s.thing_labels) for s in self.scenes]

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, ...]:
        image = self.images[idx].float() / 255
        if self.with_instances:
            return image, self.semantic[idx], self.instances[idx]
        return image, self.semantic[idx]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, semantic)``: ``(n, 3, size, size)`` uint8 and ``(n, size, size)`` int64 (the stored tensors)."""
        return self.images, self.semantic

    def panoptic(self, idx: int) -> tuple[torch.Tensor, dict[int, int]]:
        """The exact panoptic truth of scene ``idx``: :func:`panoptic_target` of its semantic and instance maps."""
        return panoptic_target(self.semantic[idx], self.instances[idx])

    def class_shares(self) -> torch.Tensor:
        """``(7,)`` float64: the fraction of all pixels of each class (sums to 1)."""
        counts = torch.bincount(self.semantic.reshape(-1), minlength=NUM_CLASSES).double()
        return counts / counts.sum()


class LabelScenePairs(Dataset):
    """Paired translation data for pix2pix (lesson 10, ``quick``): a colour-coded label map -> its scene.

    The source is the semantic map drawn in lesson 08's class colours (:func:`cvlib.segmentation.class_colors`,
    flat colours, like the facades dataset's label maps); the target is the generated scene. One label map
    allows many scenes (texture phase and direction, colour jitter and light, thing colours are random): the
    ambiguity that makes a pixel-wise regression blur.

    Args:
        n, size, seed: as :class:`SegScenesDataset` (different seeds for train and test).

    Attributes:
        sources / targets: ``(n, 3, size, size)`` float32 in [0, 1].

    Items: ``(source, target)``, each ``(3, size, size)`` float32 in [0, 1] (the convention of
    :class:`cvlib.data.facades.FacadesPairs`).
    """

    def __init__(self, n: int, size: int = 64, seed: int = 0) -> None:
        from cvlib.segmentation import class_colors  # task module; imported here to keep data modules leaf-level

        scenes = SegScenesDataset(n, size=size, seed=seed)
        colors = torch.from_numpy(class_colors(NUM_CLASSES)).float()  # (7, 3)
        self.sources = colors[scenes.semantic].permute(0, 3, 1, 2).contiguous()
        self.targets = scenes.images.float() / 255

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sources[idx], self.targets[idx]
