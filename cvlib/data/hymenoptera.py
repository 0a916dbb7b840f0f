"""Hymenoptera (ants vs bees): the dataset of the PyTorch transfer-learning tutorial (full profile).

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

import re
from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2
from tqdm.auto import tqdm

from cvlib.config import data_dir
from cvlib.data.download import download_and_extract, unavailable

URL = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"
# SHA-256 of the archive at URL. NOT YET RECORDED: it could not be computed offline when this
# module was written. Fill it in from a machine with network access:
#     curl -sL https://download.pytorch.org/tutorial/hymenoptera_data.zip | sha256sum
# Until then the download is refused (never unchecked) and the error says how to get the data by hand.
SHA256: str | None = None
FOLDER_NAME = "hymenoptera_data"
SPLITS = ("train", "val")
CLASSES = ("ants", "bees")
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
        DatasetUnavailableError: the folder is incomplete and cannot be downloaded
            (offline, or no recorded checksum); the message names the folder and what to do.
    """
    root = Path(root) if root is not None else data_dir()
    folder = root / FOLDER_NAME
    if _complete(folder):
        return folder
    if not download:
        raise unavailable("hymenoptera", folder, HOW)
    if not (isinstance(SHA256, str) and re.fullmatch(r"[0-9a-f]{64}", SHA256)):
        raise unavailable(
            "hymenoptera",
            folder,
            "cvlib has no recorded checksum for the archive yet (cvlib/data/hymenoptera.py: SHA256), "
            f"so it will not download it unchecked. {HOW}",
        )
    download_and_extract(URL, folder, SHA256, name="hymenoptera", how=HOW)
    if not _complete(folder):
        raise unavailable("hymenoptera", folder, f"The archive did not contain the expected folders. {HOW}")
    return folder


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
    resize = resize or round(size * 8 / 7)
    return v2.Compose(
        [v2.ToImage(), v2.Resize(resize, antialias=True), v2.CenterCrop(size), v2.ToDtype(torch.float32, scale=True)]
    )


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
