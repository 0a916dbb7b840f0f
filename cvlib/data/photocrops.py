"""Full-resolution crops of bundled photographs, train and test never overlapping (lesson 10, ``quick``).

Super-resolution needs real high-frequency detail: crops are cut at the photograph's own resolution
(never resized), so a ``size x size`` crop holds every pixel the camera recorded there. The photographs
are those of :mod:`cvlib.data.natural` (scikit-image, scikit-learn and matplotlib ship them), and the
split is its chessboard: each photograph is cut into a grid of cells, train crops lie inside "white"
cells and test crops inside "black" ones, so no test pixel is ever seen in training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from cvlib.data.natural import SPLITS, Box, load_source, split_cells
from cvlib.validate import check_int

__all__ = ["PHOTOS", "photo_crops"]

#: Photographs with fine detail (textures, faces, foliage, text-like structure), all colour or grey.
PHOTOS: tuple[str, ...] = (
    "astronaut",
    "brick",
    "cat",
    "coffee",
    "flower",
    "grass",
    "gravel",
    "portrait",
    "rocket",
    "temple",
)


def photo_crops(
    split: str, n: int, size: int = 64, seed: int = 0, photos: Sequence[str] = PHOTOS, grid: tuple[int, int] = (4, 4)
) -> tuple[torch.Tensor, list[tuple[str, Box]]]:
    """``n`` random ``size x size`` crops of the photographs' ``split`` cells, at full resolution.

    Crops are dealt to the photographs in turn; each lies inside one cell of its split (``grid`` cells per
    photograph, chessboard-dealt by :func:`cvlib.data.natural.split_cells`), at a uniform position.

    Returns:
        ``(images (n, 3, size, size) float32 in [0, 1], [(photo, box (top, left, bottom, right)), ...])``.

    Raises:
        ValueError: an unknown split or photograph, or cells smaller than ``size``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    check_int("n", n, 1)
    check_int("size", size, 8, 512)
    check_int("seed", seed, 0)
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    sources = {name: load_source(name) for name in photos}
    crops, where = [], []
    for k in range(n):
        name = photos[k % len(photos)]
        image = sources[name]
        cells = split_cells(image.shape[0], image.shape[1], grid)[split]
        top, left, bottom, right = cells[int(rng.integers(len(cells)))]
        if bottom - top < size or right - left < size:
            raise ValueError(
                f"{name}'s cells are {bottom - top} x {right - left} px, smaller than size={size}: use a coarser grid."
            )
        y = top + int(rng.integers(0, bottom - top - size + 1))
        x = left + int(rng.integers(0, right - left - size + 1))
        crops.append(image[y : y + size, x : x + size])
        where.append((name, (y, x, y + size, x + size)))
    images = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255
    return images.contiguous(), where
