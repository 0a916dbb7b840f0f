"""BSDS300 photographs as full-resolution crops for super-resolution (lesson 10, ``full`` profile).

A :mod:`cvlib.data` module: one real dataset per file. Used by lesson 10 (full) in place of
:func:`cvlib.data.photocrops.photo_crops` (the ``quick`` profile's bundled photographs), with the same
value convention: crops are cut at the photograph's own resolution (never resized), so every pixel is
one the camera recorded, as uint8 / 255 in float32.

The images of the Berkeley Segmentation Dataset (Martin et al., ICCV 2001;
https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/bsds/), the usual training set of
super-resolution examples (BSD300 / BSD100): 300 colour JPEG photographs, 481x321 or 321x481 px,
200 in ``train`` and 100 in ``test``, **different photographs**, so no test pixel is seen in training.
On-disk layout after extraction::

    <data_dir>/BSDS300/
        images/train/<id>.jpg   200 photographs, e.g. 100075.jpg
        images/test/<id>.jpg    100 photographs

No checksum is published for ``BSDS300-images.tgz``, so none is pinned: the download prints the
archive's SHA-256 and the extracted folder is verified instead (both split folders, exactly 200 / 100
images, every image decodes); a folder already on disk is checked for its layout and counts on every call.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cvlib.config import data_dir
from cvlib.data.download import check_image_counts, check_images_decode, find_or_download
from cvlib.validate import check_int

__all__ = ["COUNTS", "URL", "bsds_folder", "sr_crops", "verify_folder"]

NAME = "BSDS300"
URL = "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/bsds/BSDS300-images.tgz"
# No checksum is published for this archive: the extracted folder is verified (verify_folder).
SHA256: str | None = None
FOLDER_NAME = "BSDS300"
SPLITS = ("train", "test")
#: Photographs per split in BSDS300-images.tgz; the verification requires exactly these counts.
COUNTS: dict[str, int] = {"train": 200, "test": 100}
HOW = (
    f"Connect to the internet and run again, or download {URL} yourself and extract it into the data folder "
    "(it creates BSDS300/images/train and BSDS300/images/test)."
)


def verify_folder(folder: Path, decode: bool = True) -> dict[str, list[Path]]:
    """Check an extracted ``BSDS300`` folder: ``images/train`` and ``images/test`` with exactly
    :data:`COUNTS` images; with ``decode``, also that every image decodes.

    Returns ``{split: image files}`` (sorted by name).

    Raises:
        ValueError: naming the first sub-folder or file that is wrong.
    """
    found = check_image_counts(Path(folder) / "images", COUNTS)
    if decode:
        for files in found.values():
            check_images_decode(files)
    return found


def bsds_folder(root: Path | str | None = None, download: bool = True) -> Path:
    """The extracted dataset folder ``<root>/BSDS300``, downloaded (and verified) if missing.

    Args:
        root: parent folder (default :func:`cvlib.config.data_dir`).
        download: download when a split folder is missing.

    Raises:
        DatasetUnavailableError: the folder is missing and cannot be downloaded (offline, or
            ``download=False``), or a folder on disk has the wrong layout or image counts; the
            message names the folder and what to do.
        DatasetCorruptError: the downloaded archive was damaged or failed :func:`verify_folder`;
            it was removed, so running again downloads afresh.
    """
    folder = Path(root if root is not None else data_dir()) / FOLDER_NAME
    return find_or_download(
        folder,
        [f"images/{split}" for split in SPLITS],
        lambda f: verify_folder(f, decode=False),
        download=download,
        url=URL,
        name=NAME,
        how=HOW,
        sha256=SHA256,
        verify=verify_folder,
    )


def _load(path: Path) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB pixels of one photograph."""
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def sr_crops(
    split: str,
    n: int,
    size: int = 96,
    seed: int = 0,
    root: Path | str | None = None,
    download: bool = True,
) -> torch.Tensor:
    """``n`` random ``size x size`` crops of the BSDS300 ``split`` photographs, at full resolution.

    Crops are dealt to the photographs in turn, in an order shuffled by ``seed`` (so ``n`` crops come from
    ``min(n, 200)`` different training photographs), each at a uniform random position; the same arguments
    give the same crops, and the first ``k`` crops do not depend on ``n``. ``"train"`` and ``"test"``
    are different photographs.

    Returns:
        ``(n, 3, size, size)`` float32 in [0, 1]: the photographs' uint8 pixels / 255, never resized.

    Raises:
        ValueError: an unknown split, bad ``n`` / ``size`` / ``seed``, or a photograph smaller than ``size``.
        DatasetUnavailableError / DatasetCorruptError: as :func:`bsds_folder`.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}, got {split!r}.")
    check_int("n", n, 1)
    check_int("size", size, 8)
    check_int("seed", seed, 0)
    files = verify_folder(bsds_folder(root, download), decode=False)[split]
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    order = rng.permutation(len(files))
    where = rng.random((n, 2))  # each crop's (y, x) as a fraction of its photograph's free range
    crops_of: dict[int, list[int]] = {}
    for k in range(n):
        crops_of.setdefault(int(order[k % len(files)]), []).append(k)
    crops = np.empty((n, size, size, 3), dtype=np.uint8)
    for index, ks in crops_of.items():  # each photograph is decoded once
        image = _load(files[index])
        height, width = image.shape[:2]
        if height < size or width < size:
            raise ValueError(f"{files[index]} is {width}x{height} px, smaller than size={size}: use a smaller size.")
        for k in ks:
            y, x = int(where[k, 0] * (height - size + 1)), int(where[k, 1] * (width - size + 1))
            crops[k] = image[y : y + size, x : x + size]
    return torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255).contiguous()
