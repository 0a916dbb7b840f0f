"""horse2zebra, the CycleGAN paper's unpaired dataset (lesson 06, ``full`` profile).

A :mod:`cvlib.data` module: one real dataset per file (the ``quick`` profile's generated
day/night scenes are :mod:`cvlib.data.domains`).

1,067 horse and 1,334 zebra training photos, 120 / 140 test photos, 256x256 JPEG, read from the
archive's ``trainA/ trainB/ testA/ testB/`` folders and downloaded with a checksum when missing
(:func:`horse2zebra`). Every item is ``(image, domain)``: ``(3, size, size)`` float32 in **[-1, 1]**
(the range of the generator's tanh; :func:`gan_transform`) and the domain label, 0 for A (horses)
and 1 for B (zebras), the convention of :class:`cvlib.data.domains.DomainImages`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import v2

from cvlib.config import data_dir
from cvlib.data.download import IMAGE_SUFFIXES, download_and_extract, unavailable
from cvlib.data.transforms import center_square

HORSE2ZEBRA_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip"
# SHA-256 of horse2zebra.zip (116,867,962 bytes) as recorded by TensorFlow Datasets
# (tensorflow_datasets/url_checksums/cycle_gan.txt) for the same archive at the authors'
# earlier address, https://people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/horse2zebra.zip.
# A mismatch stops the download (the file is removed); if the authors re-pack the archive,
# check the new file and update this constant.
HORSE2ZEBRA_SHA256 = "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1"
HORSE2ZEBRA_FOLDERS = ("trainA", "trainB", "testA", "testB")


def gan_transform(size: int, train: bool) -> v2.Compose:
    """PIL image -> ``(3, size, size)`` float32 in [-1, 1]; for training, the paper's jitter
    (resize to 1.12x, random crop, horizontal flip)."""
    if not train:
        return center_square(size, minus_one_one=True)
    return v2.Compose(
        [
            v2.ToImage(),
            v2.RGB(),
            v2.Resize(round(size * 1.12), antialias=True),
            v2.RandomCrop(size),
            v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([0.5] * 3, [0.5] * 3),
        ]
    )


class DomainFolder(Dataset):
    """The images of one folder (sorted ``*.jpg / *.jpeg / *.png``) as one domain.

    Items ``(image, domain)``: ``transform(PIL RGB image)`` (default: ``gan_transform(256, False)``,
    ``(3, 256, 256)`` float32 in [-1, 1]) and the domain label 0 (A) or 1 (B).

    Raises:
        FileNotFoundError: the folder is missing or holds no images.
    """

    def __init__(self, folder: str | Path, domain: int, transform: Callable | None = None) -> None:
        self.folder = Path(folder)
        if domain not in (0, 1):
            raise ValueError(f"domain must be 0 (A) or 1 (B), got {domain!r}.")
        files = (
            sorted(p for p in self.folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if self.folder.is_dir()
            else []
        )
        if not files:
            raise FileNotFoundError(
                f"no images (*.jpg, *.png) in {self.folder}: check the dataset folder or download it again."
            )
        self.files, self.domain = files, domain
        self.transform = transform or gan_transform(256, train=False)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        with Image.open(self.files[i]) as img:
            image = img.convert("RGB")  # a few horse2zebra photos are grayscale
        return self.transform(image), self.domain


def horse2zebra(
    split: str = "train",
    domain: str = "A",
    size: int = 256,
    root: str | Path | None = None,
    download: bool = True,
    transform: Callable | None = None,
    url: str = HORSE2ZEBRA_URL,
    sha256: str = HORSE2ZEBRA_SHA256,
) -> DomainFolder:
    """One domain of horse2zebra: ``split`` ``"train"``/``"test"``, ``domain`` ``"A"`` (horses) or ``"B"`` (zebras).

    Reads ``<root>/horse2zebra/{trainA,trainB,testA,testB}``; ``root`` defaults to
    ``cvlib.config.data_dir()``. When the folder is missing and ``download`` is true, the
    archive is downloaded from ``url``, verified against ``sha256`` and extracted.
    Images come as ``(3, size, size)`` float32 in [-1, 1] (training split: random crop and flip).

    Raises:
        ValueError: unknown split or domain.
        DatasetUnavailableError: not on disk and not downloadable (names the folder and what to do).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    if domain not in ("A", "B"):
        raise ValueError(f"domain must be 'A' (horses) or 'B' (zebras), got {domain!r}.")
    folder = Path(root if root is not None else data_dir()) / "horse2zebra"
    how = (
        f"Connect to the internet and run again, or download {HORSE2ZEBRA_URL} yourself and unzip it so that "
        f"{folder} holds trainA/, trainB/, testA/ and testB/."
    )
    if not all((folder / f).is_dir() for f in HORSE2ZEBRA_FOLDERS):
        if not download:
            raise unavailable("horse2zebra", folder, how)
        download_and_extract(url, folder, sha256, name="horse2zebra", how=how, archive_name="horse2zebra.zip")
        missing = [f for f in HORSE2ZEBRA_FOLDERS if not (folder / f).is_dir()]
        if missing:
            raise unavailable(
                "horse2zebra", folder, how, FileNotFoundError(f"the archive has no {', '.join(missing)} folder")
            )
    return DomainFolder(
        folder / f"{split}{domain}", 0 if domain == "A" else 1, transform or gan_transform(size, train=split == "train")
    )
