"""Hymenoptera (ants vs bees): the dataset of the PyTorch transfer-learning tutorial (full profile).

Used by lesson 02 (full).

About 120 training and 75 validation JPEG photographs per class, a small subset
of ImageNet, laid out for :class:`torchvision.datasets.ImageFolder`::

    <data_dir>/hymenoptera_data/
        train/ants/*.jpg   train/bees/*.jpg
        val/ants/*.jpg     val/bees/*.jpg

:func:`hymenoptera_folder` downloads and extracts the archive once (checksummed,
with safe extraction) and returns the folder; :func:`hymenoptera` returns one
split as an ``ImageFolder``; :func:`load_images` turns any such dataset into one
tensor of equally sized images, which is what the lesson's regimes train on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2
from tqdm.auto import tqdm

from cvlib.config import data_dir
from cvlib.data.download import IMAGE_SUFFIXES, download_and_extract, unavailable
from cvlib.data.transforms import center_square

URL = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"
# No checksum is published for this archive, so none is pinned: the download prints the
# archive's SHA-256 and the extracted folder is verified instead (layout, at least MIN_IMAGES
# per class and split, every image decodes). The tutorial's copy has about 120 training and
# 75 validation images per class.
SHA256: str | None = None
FOLDER_NAME = "hymenoptera_data"
SPLITS = ("train", "val")
CLASSES = ("ants", "bees")
MIN_IMAGES = {"train": 100, "val": 60}
HOW = (
    f"Connect to the internet and run again, or download {URL} yourself and unzip it into "
    "the data folder (it creates hymenoptera_data/train/{ants,bees} and hymenoptera_data/val/{ants,bees})."
)


def _complete(folder: Path) -> bool:
    return all((folder / split / name).is_dir() for split in SPLITS for name in CLASSES)


def hymenoptera_folder(root: Path | None = None, download: bool = True) -> Path:
    """The extracted dataset folder ``<root>/hymenoptera_data``, downloading it if missing.

    Args:
        root: parent folder (default :func:`cvlib.config.data_dir`).
        download: try to download when the folder is missing or incomplete.

    Raises:
        DatasetUnavailableError: the folder is incomplete and cannot be downloaded (offline);
            the message names the folder and what to do.
        DatasetCorruptError: the downloaded archive was damaged or failed :func:`verify_folder`;
            it was removed, so running again downloads afresh.
    """
    root = Path(root) if root is not None else data_dir()
    folder = root / FOLDER_NAME
    if _complete(folder):
        return folder
    if not download:
        raise unavailable("hymenoptera", folder, HOW)
    return download_and_extract(URL, folder, SHA256, name="hymenoptera", how=HOW, verify=verify_folder)


def verify_folder(folder: Path) -> None:
    """Check an extracted ``hymenoptera_data`` folder: both splits and classes, at least
    ``MIN_IMAGES[split]`` images per class, and every image decodes.

    Raises:
        ValueError: naming the first sub-folder or file that is wrong.
    """
    for split in SPLITS:
        for name in CLASSES:
            sub = Path(folder) / split / name
            if not sub.is_dir():
                raise ValueError(f"{sub} is missing (expected {FOLDER_NAME}/{{train,val}}/{{ants,bees}})")
            files = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if len(files) < MIN_IMAGES[split]:
                raise ValueError(f"{sub} has {len(files)} images, expected at least {MIN_IMAGES[split]}")
            for path in files:
                try:
                    with Image.open(path) as im:
                        im.verify()
                except Exception as err:
                    raise ValueError(f"{path} is not a readable image ({type(err).__name__})") from err


def hymenoptera(
    split: str = "train",
    root: Path | None = None,
    transform: Callable | None = None,
    download: bool = True,
) -> ImageFolder:
    """One split of hymenoptera as an ``ImageFolder``: ``(image, label)`` with label 0 = ants, 1 = bees.

    Args:
        split: ``"train"`` or ``"val"``.
        root: parent folder of ``hymenoptera_data`` (default :func:`cvlib.config.data_dir`).
        transform: applied to each RGB PIL image (default: none, the PIL image is returned).
        download: try to download when missing.

    Raises:
        ValueError: unknown split.
        DatasetUnavailableError: not on disk and not downloadable.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}.")
    folder = hymenoptera_folder(root, download)
    return ImageFolder(str(folder / split), transform=transform, loader=_rgb_loader)


def _rgb_loader(path: str) -> Image.Image:
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


def eval_transform(size: int = 224, resize: int | None = None) -> v2.Compose:
    """PIL image -> ``(3, size, size)`` float32 in [0, 1]: shorter side to ``resize`` (default
    ``size * 8 / 7``, i.e. 256 for 224), then the centre square, as for ImageNet evaluation."""
    return center_square(size, resize or round(size * 8 / 7))


def load_images(dataset: ImageFolder, size: int = 224, progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image of an ``ImageFolder`` as one tensor, with :func:`eval_transform` applied.

    Returns:
        images ``(N, 3, size, size)`` float32 in [0, 1] and labels ``(N,)`` int64.
    """
    transform = eval_transform(size)
    images, labels = [], []
    for path, label in tqdm(dataset.samples, desc="loading images", disable=not progress, leave=False):
        images.append(transform(_rgb_loader(path)))
        labels.append(label)
    if not images:
        raise ValueError(f"no images found under {dataset.root}: check the folder layout (one sub-folder per class).")
    return torch.stack(images), torch.tensor(labels, dtype=torch.int64)
