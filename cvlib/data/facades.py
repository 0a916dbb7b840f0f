"""CMP Facades as pix2pix ships it: paired label maps and photographs (lesson 10, ``full`` profile).

A :mod:`cvlib.data` module: one real dataset per file. Used by lesson 10 (full): pix2pix translates a
facade's coloured label map into a photograph ("BtoA" in the pix2pix code).

The CMP Facade Database (Tyleček and Šára, 2013; https://cmp.felk.cvut.cz/~tylecr1/facade/) as packed
by the pix2pix authors (Isola et al., 2017): 606 JPEG pairs, 400 train, 100 val, 106 test. Each JPEG is
512x256 px, two 256x256 halves side by side: the **left half is the photograph**, the **right half the
coloured label map** (wall, window, door, balcony, ... one colour each). On-disk layout after extraction::

    <data_dir>/facades/
        train/1.jpg ... train/400.jpg
        val/1.jpg ...   val/100.jpg
        test/1.jpg ...  test/106.jpg

No checksum is published for ``facades.tar.gz``, so none is pinned: the download prints the archive's
SHA-256 and the extracted folder is verified instead (the three split folders, exactly 400 / 100 / 106
images, every image decodes and is twice as wide as high); a folder already on disk is checked for its
layout and counts on every call. :func:`facades` returns one split as :class:`FacadesPairs`, whose items
are ``(source, target)`` = ``(label map, photograph)``, both ``(3, size, size)`` float32 in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from cvlib.config import data_dir
from cvlib.data.download import (
    check_image_counts,
    check_images_decode,
    find_or_download,
    image_files,
)
from cvlib.validate import check_int

__all__ = ["COUNTS", "URL", "FacadesPairs", "facades", "facades_folder", "pair_transform", "verify_folder"]

NAME = "CMP Facades"
URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"
# No checksum is published for this archive: the extracted folder is verified (verify_folder).
SHA256: str | None = None
FOLDER_NAME = "facades"
SPLITS = ("train", "val", "test")
#: Images per split in the pix2pix archive; the verification requires exactly these counts.
COUNTS: dict[str, int] = {"train": 400, "val": 100, "test": 106}
#: pix2pix's jitter: resize 256 -> 286, then a random 256 crop.
JITTER_SCALE = 286 / 256
HOW = (
    f"Connect to the internet and run again, or download {URL} yourself and extract it into the data folder "
    "(it creates facades/train, facades/val and facades/test)."
)


def verify_folder(folder: Path, decode: bool = True) -> dict[str, list[Path]]:
    """Check an extracted ``facades`` folder: ``train/``, ``val/``, ``test/`` with exactly :data:`COUNTS`
    images; with ``decode``, also that every image decodes and is twice as wide as high (two halves).

    Returns ``{split: image files}`` (numeric file names in numeric order).

    Raises:
        ValueError: naming the first sub-folder or file that is wrong.
    """
    found = check_image_counts(folder, COUNTS)
    if decode:
        for files in found.values():
            check_images_decode(files, lambda w, h: w == 2 * h, "two square halves side by side (width = 2 x height)")
    return found


def facades_folder(root: Path | str | None = None, download: bool = True) -> Path:
    """The extracted dataset folder ``<root>/facades``, downloaded (and verified) if missing.

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
        SPLITS,
        lambda f: verify_folder(f, decode=False),
        download=download,
        url=URL,
        name=NAME,
        how=HOW,
        sha256=SHA256,
        verify=verify_folder,
    )


def pair_transform(size: int, jitter: bool) -> v2.Compose:
    """``(2, 3, H, W)`` uint8 pair (both halves stacked) -> ``(2, 3, size, size)`` float32 in [0, 1].

    Both halves are resized bilinearly with antialiasing to ``size x size``; with ``jitter``, as
    pix2pix trains: to ``round(size * 286 / 256)`` square, then one random ``size`` crop and one random
    horizontal flip, **the same for both halves** (they are one tensor), so the pair stays aligned.
    """
    if not jitter:
        steps: list = [v2.Resize([size, size], antialias=True)]
    else:
        big = round(size * JITTER_SCALE)
        steps = [v2.Resize([big, big], antialias=True), v2.RandomCrop(size), v2.RandomHorizontalFlip()]
    return v2.Compose([*steps, v2.ToDtype(torch.float32, scale=True)])


class FacadesPairs(Dataset):
    """The pix2pix JPEGs of one folder as ``(source, target)`` pairs: label map -> photograph.

    Args:
        folder: a folder of side-by-side pairs (``facades/train`` etc.), read in file-name order.
        size: side of the square outputs in pixels, an integer >= 1.
        jitter: pix2pix's training jitter (:func:`pair_transform`), the same crop and flip on both halves.

    Items ``(source, target)``: the right half (label map) and the left half (photograph) of the JPEG,
    each ``(3, size, size)`` float32 in [0, 1].

    Attributes:
        files: the JPEG files, in item order.

    Raises:
        FileNotFoundError: the folder is missing or holds no images.
        ValueError: a bad ``size``; an image that is not twice as wide as high (when read).
    """

    def __init__(self, folder: Path | str, size: int = 256, jitter: bool = False) -> None:
        check_int("size", size, 1)
        self.folder = Path(folder)
        self.files = image_files(self.folder)
        if not self.files:
            raise FileNotFoundError(
                f"no images (*.jpg, *.png) in {self.folder}: check the dataset folder or download it again."
            )
        self.size, self.jitter = int(size), bool(jitter)
        self.transform = pair_transform(self.size, self.jitter)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        path = self.files[i]
        with Image.open(path) as img:
            pixels = v2.functional.pil_to_tensor(img.convert("RGB"))  # (3, H, 2H) uint8
        height, width = pixels.shape[-2:]
        if width != 2 * height:
            raise ValueError(
                f"{path} is {width}x{height} px: a facades pair is two square halves side by side "
                "(width = 2 x height); replace the file or download the dataset again."
            )
        photo, label = pixels[..., :height], pixels[..., height:]
        source, target = self.transform(tv_tensors.Image(torch.stack([label, photo])))
        return source.as_subclass(torch.Tensor), target.as_subclass(torch.Tensor)


def facades(
    split: str = "train",
    size: int = 256,
    train: bool | None = None,
    root: Path | str | None = None,
    download: bool = True,
) -> FacadesPairs:
    """One split of CMP Facades as :class:`FacadesPairs`: ``(label map, photo)``, ``(3, size, size)`` float32 in [0, 1].

    Args:
        split: ``"train"`` (400 pairs), ``"val"`` (100) or ``"test"`` (106).
        size: side of the square outputs in pixels (the JPEG halves are 256 px).
        train: apply pix2pix's training jitter (random crop after resizing to 286/256 x size, horizontal
            flip, the same on both halves); ``None``: only for the ``"train"`` split.
        root: parent folder of ``facades/`` (default :func:`cvlib.config.data_dir`).
        download: download and verify the archive when the folder is missing.

    Raises:
        ValueError: an unknown split, a bad size or train flag.
        DatasetUnavailableError: not on disk and not downloadable, or the folder on disk is incomplete
            (names the folder and what to do).
        DatasetCorruptError: the download failed verification (the files were removed; run again).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}, got {split!r}.")
    check_int("size", size, 1)
    if train is not None and not isinstance(train, bool):
        raise ValueError(f"train must be True, False or None (jitter only for the train split), got {train!r}.")
    folder = facades_folder(root, download)
    return FacadesPairs(folder / split, size, jitter=split == "train" if train is None else train)
