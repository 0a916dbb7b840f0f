"""Generated image domains for unpaired translation (lesson 06, CycleGAN, ``quick`` profile).

A :mod:`cvlib.data` module: datasets only, here the generated day/night family; the real
dataset of the ``full`` profile, horse2zebra, is :mod:`cvlib.data.horse2zebra`.

:func:`scene_domains` draws small generated scenes (a sky, a ground band and one to three
coloured shapes) and renders them in two styles, deterministically from a seed:

* domain A, **day**: a light-blue sky, a green ground, shapes in flat bright colours;
* domain B, **night**: a dark-blue sky, a dark ground, the same kind of shapes dimmed,
  each with a bright **neon rim** in its own hue.

The training sets of A and B are drawn from *different* scenes (the translation must be
learned unpaired). The test sets render the *same* test scenes in both styles, so
``test_a[i]`` and ``test_b[i]`` are a true pair: a ground truth that the lesson uses only
to *measure* a translation, never to train it.

:class:`DomainImages` yields ``(image, domain)``: ``(3, H, W)`` float32 in **[-1, 1]** (the range of
the generator's tanh; show with ``(x + 1) / 2``) and the domain label, 0 for A and 1 for B.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

SCENE_DOMAINS = ("day", "night")
SHAPES = ("circle", "square", "triangle")

# Day and night palettes: (top of the sky, sky at the horizon, ground), RGB in [0, 1].
_DAY = ((0.40, 0.66, 0.95), (0.82, 0.91, 1.00), (0.36, 0.68, 0.30))
_NIGHT = ((0.02, 0.02, 0.10), (0.14, 0.12, 0.34), (0.06, 0.10, 0.12))


@dataclass
class SceneLayouts:
    """What is in ``N`` scenes, independent of the style they are drawn in (all float32 tensors).

    Attributes:
        horizon: ``(N,)`` height of the ground's top edge, as a fraction of the image height from the top.
        tint: ``(N,)`` in [-1, 1], shifts the sky and ground colours slightly.
        kind: ``(N, K)`` int64 shape index into :data:`SHAPES`, -1 where slot k is empty.
        center: ``(N, K, 2)`` shape centres (x, y) as fractions of the image side.
        radius: ``(N, K)`` shape half-sizes as fractions of the image side.
        hue: ``(N, K)`` shape hues in [0, 1).
    """

    horizon: torch.Tensor
    tint: torch.Tensor
    kind: torch.Tensor
    center: torch.Tensor
    radius: torch.Tensor
    hue: torch.Tensor

    def __len__(self) -> int:
        return len(self.horizon)

    def __getitem__(self, index: slice) -> SceneLayouts:
        """The layouts ``index`` (a slice) selects."""
        return SceneLayouts(*(getattr(self, f)[index] for f in ("horizon", "tint", "kind", "center", "radius", "hue")))


def sample_layouts(n: int, seed: int, max_shapes: int = 3) -> SceneLayouts:
    """Draw ``n`` random scene layouts (1 to ``max_shapes`` shapes each), the same for the same ``seed``."""
    if n < 0 or max_shapes < 1:
        raise ValueError(f"need n >= 0 and max_shapes >= 1, got n={n}, max_shapes={max_shapes}.")
    rng = np.random.default_rng(seed)
    count = rng.integers(1, max_shapes + 1, size=n)
    kind = rng.integers(0, len(SHAPES), size=(n, max_shapes))
    kind[np.arange(max_shapes)[None, :] >= count[:, None]] = -1
    return SceneLayouts(
        horizon=torch.from_numpy(rng.uniform(0.6, 0.8, n).astype(np.float32)),
        tint=torch.from_numpy(rng.uniform(-1, 1, n).astype(np.float32)),
        kind=torch.from_numpy(kind.astype(np.int64)),
        center=torch.from_numpy(rng.uniform(0.22, 0.78, (n, max_shapes, 2)).astype(np.float32)),
        radius=torch.from_numpy(rng.uniform(0.12, 0.22, (n, max_shapes)).astype(np.float32)),
        hue=torch.from_numpy(rng.uniform(0, 1, (n, max_shapes)).astype(np.float32)),
    )


def _hsv_to_rgb(hue: torch.Tensor, saturation: float, value: float) -> torch.Tensor:
    """``(...)`` hues in [0, 1) -> ``(..., 3)`` RGB in [0, 1] at a fixed saturation and value."""
    flat = [colorsys.hsv_to_rgb(float(h), saturation, value) for h in hue.flatten()]
    return torch.tensor(flat, dtype=torch.float32).reshape(*hue.shape, 3)


def shape_masks(layouts: SceneLayouts, size: int) -> torch.Tensor:
    """``(N, K, size, size)`` bool masks of each shape slot (empty slots are all False).

    ``shape_masks(layouts, size).any(1)`` is where any shape is, e.g. to measure a translation on the shapes alone.
    """
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    y, x = torch.meshgrid(coords, coords, indexing="ij")  # (size, size) each
    cx = layouts.center[..., 0, None, None]
    cy = layouts.center[..., 1, None, None]
    r = layouts.radius[..., None, None]
    dx, dy = x - cx, y - cy
    circle = dx**2 + dy**2 <= r**2
    square = (dx.abs() <= 0.85 * r) & (dy.abs() <= 0.85 * r)
    # an upward triangle: apex at cy - r, base at cy + r, half-width r at the base
    triangle = (dy <= r) & (dy >= -r) & (dx.abs() <= (dy + r) / 2)
    kind = layouts.kind[..., None, None]
    return ((kind == 0) & circle) | ((kind == 1) & square) | ((kind == 2) & triangle)


def render_scenes(layouts: SceneLayouts, style: str, size: int = 32, supersample: int = 2) -> torch.Tensor:
    """Draw ``layouts`` in the ``"day"`` or ``"night"`` style: ``(N, 3, size, size)`` float32 in [0, 1].

    Rendered at ``size * supersample`` and averaged down (anti-aliased edges). At night every
    shape is dimmed and gets a bright rim (about one output pixel wide) in its own hue.
    """
    if style not in SCENE_DOMAINS:
        raise ValueError(f"style must be one of {SCENE_DOMAINS}, got {style!r}.")
    chunk = 64  # small chunks stay in the CPU cache: several times faster than one big batch
    if len(layouts) > chunk:
        parts = [render_scenes(layouts[i : i + chunk], style, size, supersample) for i in range(0, len(layouts), chunk)]
        return torch.cat(parts)
    n, big = len(layouts), size * supersample
    top, horizon_colour, ground = (torch.tensor(c) for c in (_DAY if style == "day" else _NIGHT))
    shift = 0.06 * layouts.tint[:, None]  # (N, 1): the tint moves red and blue in opposite directions
    tint = torch.cat([shift, torch.zeros_like(shift), -shift], dim=1)[:, :, None, None]  # (N, 3, 1, 1)
    rows = ((torch.arange(big, dtype=torch.float32) + 0.5) / big)[None, :, None]  # (1, big, 1)
    frac = (rows / layouts.horizon[:, None, None]).clamp(max=1.0)  # 0 at the top, 1 at the horizon
    sky = top[None, :, None, None] + (horizon_colour - top)[None, :, None, None] * frac[:, None]  # (N, 3, big, 1)
    image = sky.expand(n, 3, big, big).clone()
    is_ground = (rows >= layouts.horizon[:, None, None])[:, None].expand(n, 3, big, big)
    image = torch.where(is_ground, ground[None, :, None, None].expand(n, 3, big, big), image)
    image = (image + tint).clamp(0, 1)

    masks = shape_masks(layouts, big)  # (N, K, big, big)
    fill = _hsv_to_rgb(layouts.hue, 0.75, 0.95 if style == "day" else 0.42)  # (N, K, 3)
    rim = _hsv_to_rgb(layouts.hue, 0.35, 1.0)
    width = max(1, supersample)  # rim width in rendered pixels = one output pixel
    for k in range(masks.shape[1]):  # later shapes are drawn over earlier ones
        m = masks[:, k : k + 1].float()  # (N, 1, big, big)
        image = image * (1 - m) + fill[:, k, :, None, None] * m
        if style == "night":
            inner = -F.max_pool2d(-m, 2 * width + 1, stride=1, padding=width)  # erosion: the shape minus its rim
            edge = (m - inner).clamp(0, 1)
            image = image * (1 - edge) + rim[:, k, :, None, None] * edge
    if supersample > 1:
        image = F.avg_pool2d(image, supersample)
    return image.clamp(0, 1)


@dataclass
class UnpairedDomains:
    """Tensors of two domains, ``(N, 3, H, W)`` float32 in [-1, 1].

    ``train_a`` and ``train_b`` come from different scenes (unpaired); ``test_a[i]`` and
    ``test_b[i]`` are the same scene in the two styles (a ground truth for measuring only).
    ``layouts`` holds the scenes of ``train_a``, ``train_b`` and the test sets, in that order.
    """

    train_a: torch.Tensor
    train_b: torch.Tensor
    test_a: torch.Tensor
    test_b: torch.Tensor
    layouts: tuple[SceneLayouts, SceneLayouts, SceneLayouts]
    names: tuple[str, str] = SCENE_DOMAINS


def scene_domains(n_train: int = 1000, n_test: int = 200, size: int = 32, seed: int = 0) -> UnpairedDomains:
    """The quick profile's two domains, day (A) and night (B), deterministic from ``seed``.

    Three disjoint streams of scenes: ``n_train`` for A, another ``n_train`` for B, and
    ``n_test`` drawn in both styles. ``size`` must be a multiple of 4 (the generator halves it twice).
    """
    if size % 4 or size < 16:
        raise ValueError(f"size must be a multiple of 4 and at least 16, got {size}.")
    seeds = np.random.SeedSequence(seed).spawn(3)
    layouts = [sample_layouts(n, int(s.generate_state(1)[0])) for n, s in zip((n_train, n_train, n_test), seeds)]
    to_gan = lambda x: x * 2 - 1  # [0, 1] -> [-1, 1]
    return UnpairedDomains(
        train_a=to_gan(render_scenes(layouts[0], "day", size)),
        train_b=to_gan(render_scenes(layouts[1], "night", size)),
        test_a=to_gan(render_scenes(layouts[2], "day", size)),
        test_b=to_gan(render_scenes(layouts[2], "night", size)),
        layouts=(layouts[0], layouts[1], layouts[2]),
    )


class DomainImages(Dataset):
    """Images of one domain held in memory: items ``(image, domain)``, ``(3, H, W)`` float32 in [-1, 1] and 0 (A) or 1 (B).

    ``transform`` (optional) is applied to each image tensor.
    """

    def __init__(
        self, images: torch.Tensor, domain: int, transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> None:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images (N, 3, H, W), got {tuple(images.shape)}.")
        if domain not in (0, 1):
            raise ValueError(f"domain must be 0 (A) or 1 (B), got {domain!r}.")
        self.images, self.domain, self.transform = images, domain, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = self.images[i]
        return (self.transform(image) if self.transform else image), self.domain
