"""CelebA aligned faces at 64x64 for the ``full`` DCGAN lesson, as in the PyTorch DCGAN tutorial.

Used by lesson 05 (full, section 10).

On-disk layout (the one torchvision's ``CelebA`` downloads, and the one the
tutorial's ``img_align_celeba.zip`` gives once extracted)::

    <data_dir>/celeba/img_align_celeba/000001.jpg ... 202599.jpg   (178x218 RGB)
    <data_dir>/celeba/list_eval_partition.txt                      (optional: "000001.jpg 0" per line,
                                                                    0 train / 1 valid / 2 test)

The Kaggle copy extracts one folder deeper (``img_align_celeba/img_align_celeba/``);
that is found too. Images are resized (shorter side) and centre-cropped to
``image_size`` and scaled to **[-1, 1]**, the range of the generator's tanh.

CelebA is hosted on Google Drive: torchvision downloads it only if the
``gdown`` package is installed and the Drive quota allows. Otherwise the
loader raises :class:`~cvlib.data.download.DatasetUnavailableError` saying
where to put the files.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import v2

from cvlib.config import data_dir
from cvlib.data.download import IMAGE_SUFFIXES, unavailable
from cvlib.data.transforms import center_square

SPLITS = {"train": 0, "valid": 1, "test": 2, "all": None}
HOW = (
    "Install gdown and run again (torchvision downloads it from Google Drive), or download "
    "img_align_celeba.zip ('Align&Cropped Images') from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
    "and extract it so that {folder}/img_align_celeba/000001.jpg exists."
)


def celeba_transform(image_size: int = 64) -> v2.Compose:
    """PIL RGB image -> ``(3, image_size, image_size)`` float32 in [-1, 1] (resize, centre crop, scale)."""
    return center_square(image_size, minus_one_one=True)


def _image_folder(folder: Path) -> Path | None:
    """``folder/img_align_celeba`` (or the Kaggle ``img_align_celeba/img_align_celeba``) if it holds images."""
    for candidate in (folder / "img_align_celeba", folder / "img_align_celeba" / "img_align_celeba"):
        if candidate.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in candidate.iterdir()):
            return candidate
    return None


class CelebAFaces(Dataset):
    """Aligned CelebA faces read from ``<root>/celeba/img_align_celeba``.

    Args:
        root: the folder holding ``celeba/`` (default ``cvlib.config.data_dir()``).
        split: ``"all"`` (default, as the DCGAN tutorial uses), or ``"train"``,
            ``"valid"``, ``"test"`` (needs ``list_eval_partition.txt``).
        image_size: output side (64 for DCGAN).
        download: if the images are missing, try torchvision's downloader.
        limit: keep only the first ``limit`` images (sorted by name), for quick runs.

    Items are ``(image, 0)``: ``(3, image_size, image_size)`` float32 in [-1, 1] and a
    constant label 0 (one class, as torchvision's ``ImageFolder`` gives in the tutorial).

    Raises:
        ValueError: unknown split, or a split without the partition file.
        DatasetUnavailableError: the images are not on disk and could not be downloaded.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "all",
        image_size: int = 64,
        download: bool = True,
        limit: int | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}.")
        root = Path(root) if root is not None else data_dir()
        folder = root / "celeba"
        images = _image_folder(folder)
        if images is None and download:
            try:
                torchvision.datasets.CelebA(str(root), split="all", target_type=[], download=True)
            except (OSError, RuntimeError, ValueError, ImportError) as err:
                raise unavailable("CelebA", folder / "img_align_celeba", HOW.format(folder=folder), err) from err
            images = _image_folder(folder)
        if images is None:
            raise unavailable("CelebA", folder / "img_align_celeba", HOW.format(folder=folder))
        files = sorted(p.name for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if SPLITS[split] is not None:
            partition = folder / "list_eval_partition.txt"
            if not partition.exists():
                raise ValueError(
                    f"split={split!r} needs {partition} (CelebA's official split): download it, or use split='all'."
                )
            wanted = {
                name
                for name, part in (line.split() for line in partition.read_text().splitlines() if line.strip())
                if int(part) == SPLITS[split]
            }
            files = [f for f in files if f in wanted]
        self.files = [images / f for f in files[:limit]]
        self.transform = celeba_transform(image_size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        with Image.open(self.files[i]) as img:
            return self.transform(img.convert("RGB")), 0
