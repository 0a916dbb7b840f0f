"""Penn-Fudan pedestrians (170 images, 345 people): lesson 03's ``full``-profile dataset (detection fine-tuning).

On-disk layout (the official archive ``PennFudanPed.zip``, as in the TorchVision tutorial)::

    PennFudanPed/
        PNGImages/FudanPed00001.png      RGB photographs of various sizes
        PedMasks/FudanPed00001_mask.png  one channel: 0 = background, 1, 2, ... = one id per person
        Annotation/FudanPed00001.txt     (text boxes; not needed: boxes come from the masks)

Each mask value ``k > 0`` is one instance; its box is the tight box of its pixels
(:func:`cvlib.data.coco.masks_to_boxes_exclusive`: ``x2``/``y2`` exclusive).
Every instance is a person, label ``1`` (``0`` is the background).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from cvlib.config import data_dir
from cvlib.data.coco import instance_sample
from cvlib.data.download import download_and_extract, unavailable

PENNFUDAN_URL = "https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip"
# MD5 of the official archive (the checksum published with other loaders of this archive, e.g.
# torchvision-based tutorials' download_and_extract_archive calls). A mismatch stops the download.
PENNFUDAN_MD5 = "5aaa3dee905cef73325923716e38fc6d"
PENNFUDAN_CLASSES: tuple[str, ...] = ("person",)


class PennFudanDataset(Dataset):
    """Penn-Fudan from its folder, as ``(image, target)`` pairs for torchvision detectors.

    Args:
        root: the ``PennFudanPed`` folder (holding ``PNGImages/`` and ``PedMasks/``).
        transforms: a ``torchvision.transforms.v2`` transform called as ``transforms(image, target)``.

    Items: image ``tv_tensors.Image (3, H, W)`` uint8; target ``{"boxes": (N, 4) XYXY (x2, y2 exclusive),
    "masks": (N, H, W) uint8, "labels": (N,) ones, "image_id": index}``.

    Raises:
        FileNotFoundError: a folder is missing, or an image has no mask file.
        ValueError: a mask's size differs from its image's.
    """

    classes = PENNFUDAN_CLASSES

    def __init__(self, root: str | Path, transforms: Callable | None = None) -> None:
        self.root = Path(root)
        for sub in ("PNGImages", "PedMasks"):
            if not (self.root / sub).is_dir():
                raise FileNotFoundError(
                    f"{self.root / sub} is missing: {self.root} must hold PNGImages/ and PedMasks/."
                )
        self.images = sorted((self.root / "PNGImages").glob("*.png"))
        if not self.images:
            raise FileNotFoundError(f"no .png images in {self.root / 'PNGImages'}.")
        self.masks = [self.root / "PedMasks" / f"{p.stem}_mask.png" for p in self.images]
        missing = [m.name for m in self.masks if not m.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} image(s) have no mask in {self.root / 'PedMasks'} (e.g. {missing[0]})."
            )
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.images)

    def aspect_ratios(self) -> list[float]:
        """``width / height`` of every image (read from the PNG headers), for :class:`cvlib.detection.AspectRatioBatchSampler`."""
        ratios = []
        for p in self.images:
            with Image.open(p) as im:
                ratios.append(im.width / im.height)
        return ratios

    def load(self, idx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Image ``(H, W, 3)`` uint8, instance masks ``(N, H, W)`` bool, labels ``(N,)`` int64 (all 1)."""
        image = np.asarray(Image.open(self.images[idx]).convert("RGB"))
        ids = np.asarray(Image.open(self.masks[idx]))
        if ids.ndim == 3:  # a mask saved as RGB: the instance id is in every channel
            ids = ids[..., 0]
        if ids.shape != image.shape[:2]:
            raise ValueError(
                f"{self.masks[idx].name} is {ids.shape[0]}x{ids.shape[1]} but {self.images[idx].name} is "
                f"{image.shape[0]}x{image.shape[1]}: a mask must have its image's size."
            )
        instance_ids = np.unique(ids)
        instance_ids = instance_ids[instance_ids != 0]
        masks = ids[None] == instance_ids[:, None, None]
        return image, masks, np.ones(len(instance_ids), dtype=np.int64)

    def __getitem__(self, idx: int) -> tuple[Any, dict]:
        image, target = instance_sample(*self.load(idx), idx)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target


def _verify_layout(folder: Path) -> None:
    """Raise unless ``folder`` holds ``PNGImages/`` and, for every image, its mask in ``PedMasks/``."""
    PennFudanDataset(folder)


def pennfudan(
    root: str | Path | None = None,
    download: bool = True,
    transforms: Callable | None = None,
    url: str = PENNFUDAN_URL,
    md5: str = PENNFUDAN_MD5,
) -> PennFudanDataset:
    """Penn-Fudan from ``<root>/PennFudanPed`` (``root`` defaults to ``cvlib.config.data_dir()``).

    When the folder is missing and ``download`` is true, the archive is downloaded from ``url``
    (through ``CVLIB_MIRROR`` if set), checked against ``md5``, extracted next to the folder, and
    the extracted layout is verified (every image in ``PNGImages/`` has its mask in ``PedMasks/``).

    Raises:
        DatasetUnavailableError: not on disk and not downloadable (names the folder and what to do).
        DatasetCorruptError: the archive was damaged or its layout is wrong; it was removed.
        ValueError: the download does not match ``md5`` (the file was removed).
    """
    root = Path(root) if root is not None else data_dir()
    folder = root / "PennFudanPed"
    how = f"Download {PENNFUDAN_URL} and unzip it into {root} (it creates PennFudanPed/PNGImages and PedMasks)."
    if not ((folder / "PNGImages").is_dir() and (folder / "PedMasks").is_dir()):
        if not download:
            raise unavailable("Penn-Fudan", folder, how)
        download_and_extract(
            url,
            folder,
            None,
            md5=md5,
            name="Penn-Fudan",
            how=how,
            archive_name="PennFudanPed.zip",
            verify=_verify_layout,
        )
    return PennFudanDataset(folder, transforms=transforms)
