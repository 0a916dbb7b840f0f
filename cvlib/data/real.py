"""Real datasets for the ``full`` profile, backed by torchvision.

Used by lessons 01, 04 and 05 (full).

Each loader downloads into ``cvlib.config.data_dir()`` on first use. Offline,
it fails at once with :class:`~cvlib.data.download.DatasetUnavailableError`
that names the dataset, the folder and how to get it; it never falls back to
other data silently.
"""

from __future__ import annotations

import urllib.error
from pathlib import Path

import torch
import torchvision
from torch.utils.data import Dataset
from torchvision.transforms import v2

from cvlib.config import data_dir
from cvlib.data.download import unavailable

# name -> (torchvision class, sub-folder torchvision uses, classes)
TORCHVISION_DATASETS = {
    "mnist": (torchvision.datasets.MNIST, "MNIST"),
    "fashionmnist": (torchvision.datasets.FashionMNIST, "FashionMNIST"),
    "cifar10": (torchvision.datasets.CIFAR10, "cifar-10-batches-py"),
}


def to_tensor_transform() -> v2.Compose:
    """PIL image -> ``(C, H, W)`` float32 in [0, 1]."""
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def torchvision_dataset(
    name: str, split: str = "train", root: Path | None = None, transform=None, download: bool = True
) -> Dataset:
    """MNIST, FashionMNIST or CIFAR-10 from torchvision, as ``(C, H, W)`` float in [0, 1] + int label.

    Args:
        name: ``"mnist"``, ``"fashionmnist"`` or ``"cifar10"`` (case-insensitive).
        split: ``"train"`` or ``"test"``.
        root: download folder (default ``data_dir()``).
        transform: image transform (default: to float tensor in [0, 1]).
        download: try to download when missing.

    Raises:
        ValueError: unknown name or split.
        DatasetUnavailableError: not on disk and not downloadable.
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in TORCHVISION_DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(TORCHVISION_DATASETS)}.")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    cls, folder = TORCHVISION_DATASETS[key]
    root = Path(root) if root is not None else data_dir()
    try:
        return cls(
            root=str(root), train=(split == "train"), transform=transform or to_tensor_transform(), download=download
        )
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        raise unavailable(
            cls.__name__,
            root / folder,
            f"Connect to the internet and run again (torchvision downloads it), or copy the "
            f"{cls.__name__} files into {root / folder}.",
            err,
        ) from err
