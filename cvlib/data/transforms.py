"""Image transforms shared by several datasets (``torchvision.transforms.v2``).

Used by the hymenoptera (lesson 02), CelebA (05) and horse2zebra (06) loaders.
"""

from __future__ import annotations

import torch
from torchvision.transforms import v2


def center_square(size: int, resize: int | None = None, *, minus_one_one: bool = False) -> v2.Compose:
    """PIL image -> ``(3, size, size)`` float32: RGB, shorter side to ``resize`` (default ``size``),
    the centre square; values in [0, 1], or in [-1, 1] with ``minus_one_one`` (what a tanh GAN
    generator produces)."""
    if not (isinstance(size, int) and size >= 1) or (
        resize is not None and not (isinstance(resize, int) and resize >= size)
    ):
        raise ValueError(
            f"size must be a positive int and resize an int >= size (or None), got size={size!r}, resize={resize!r}."
        )
    steps: list = [
        v2.ToImage(),
        v2.RGB(),
        v2.Resize(resize or size, antialias=True),
        v2.CenterCrop(size),
        v2.ToDtype(torch.float32, scale=True),
    ]
    if minus_one_one:
        steps.append(v2.Normalize([0.5] * 3, [0.5] * 3))
    return v2.Compose(steps)
