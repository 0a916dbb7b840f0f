"""Oxford-IIIT Pet as a two-class semantic segmentation dataset: background vs pet (lesson 08, ``full``).

Used by lesson 08 (full profile): fine-tuning a pretrained torchvision segmenter against the same
architecture trained from scratch.

The Oxford-IIIT Pet dataset (Parkhi et al., 2012; https://www.robots.ox.ac.uk/~vgg/data/pets/) holds
7,349 photographs of cats and dogs of 37 breeds (about 200 per breed), split into 3,680 ``trainval``
and 3,669 ``test`` images, each with a pixel trimap: 1 = pet, 2 = background, 3 = border / not
classified (the uncertain band along the pet's outline). Licence: CC BY-SA 4.0 (images and
annotations). About 770 MB of archives (``images.tar.gz``, ``annotations.tar.gz``).

On-disk layout (what ``torchvision.datasets.OxfordIIITPet`` downloads and reads)::

    <data_dir>/oxford-iiit-pet/
        images/Abyssinian_1.jpg ...             RGB photographs of various sizes
        annotations/trimaps/Abyssinian_1.png    one channel, values 1 (pet), 2 (background), 3 (border)
        annotations/trainval.txt, test.txt      "Abyssinian_1 1 1 1": image id, breed 1..37,
                                                species 1 cat / 2 dog, breed id within the species

:class:`PetSegmentation` reads one split through torchvision's ``OxfordIIITPet`` and turns each
``(photo, trimap)`` into ``(image, mask)`` tensors of one square size: labels 0 = background,
1 = pet and :attr:`PetSegmentation.ignore_index` (255) on the border band, which losses and
metrics skip (``F.cross_entropy(..., ignore_index=255)``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.datasets import OxfordIIITPet
from torchvision.transforms import InterpolationMode, v2
from tqdm.auto import tqdm

from cvlib.config import data_dir
from cvlib.data.download import DatasetCorruptError, DatasetUnavailableError, unavailable
from cvlib.validate import check_int

NAME = "Oxford-IIIT Pet"
FOLDER_NAME = "oxford-iiit-pet"  # what torchvision's OxfordIIITPet creates inside root
SPLITS = ("trainval", "test")
IGNORE_INDEX = 255
URLS = (
    "https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",
    "https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",
)
HOW = (
    f"Connect to the internet and run again (torchvision downloads it), or download {URLS[0]} and "
    f"{URLS[1]} yourself and extract both into {{folder}} (it then holds images/ and annotations/trimaps/)."
)

# trimap value -> label: 1 pet -> 1, 2 background -> 0, 3 border -> IGNORE_INDEX; -1 marks values a trimap never has
_TRIMAP_TO_LABEL = torch.full((256,), -1, dtype=torch.int64)
_TRIMAP_TO_LABEL[1], _TRIMAP_TO_LABEL[2], _TRIMAP_TO_LABEL[3] = 1, 0, IGNORE_INDEX


def _on_disk(folder: Path) -> bool:
    """torchvision's own test: ``images/`` and ``annotations/`` exist (it downloads otherwise)."""
    return (folder / "images").is_dir() and (folder / "annotations").is_dir()


def verify_folder(folder: Path, split: str) -> list[str]:
    """Check ``folder`` (``.../oxford-iiit-pet``) for one split and return its image ids in file order.

    Checks that ``images/``, ``annotations/trimaps/`` and ``annotations/<split>.txt`` exist, that
    every line of the split file has the four fields ``"<id> <breed> <species> <breed id>"``, and
    that every listed image has its ``images/<id>.jpg`` and ``annotations/trimaps/<id>.png``.

    Raises:
        FileNotFoundError: naming the missing folder or file (and how many are missing).
        ValueError: a malformed or empty split file.
    """
    folder = Path(folder)
    images, trimaps, listing = folder / "images", folder / "annotations" / "trimaps", folder / "annotations"
    for sub in (images, trimaps):
        if not sub.is_dir():
            raise FileNotFoundError(f"{sub} is missing")
    split_file = listing / f"{split}.txt"
    if not split_file.is_file():
        raise FileNotFoundError(f"{split_file} (the list of the {split!r} images) is missing")
    ids = []
    for number, line in enumerate(split_file.read_text().splitlines(), start=1):
        fields = line.split()
        if len(fields) != 4 or not all(f.isdigit() for f in fields[1:]):
            raise ValueError(
                f"{split_file.name} line {number} is {line!r}, expected '<image id> <breed> <species> <id>'"
            )
        ids.append(fields[0])
    if not ids:
        raise ValueError(f"{split_file} lists no images")
    for sub, suffix, what in ((images, ".jpg", "image"), (trimaps, ".png", "trimap")):
        missing = [i for i in ids if not (sub / f"{i}{suffix}").is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of the {len(ids)} {split!r} images have no {what} in {sub} (e.g. {missing[0]}{suffix})"
            )
    return ids


def _remove_download(folder: Path) -> None:
    """Remove what torchvision's download writes into ``folder``: both archives and what they extract to."""
    for sub in ("images", "annotations"):
        shutil.rmtree(folder / sub, ignore_errors=True)
    for url in URLS:
        (folder / url.rsplit("/", 1)[-1]).unlink(missing_ok=True)


class PetSegmentation(Dataset):
    """One split of Oxford-IIIT Pet as ``(image, mask)`` pairs for background-vs-pet segmentation.

    Args:
        split: ``"trainval"`` (3,680 images) or ``"test"`` (3,669 images).
        size: side of the square outputs in pixels, an integer >= 1. Photos and trimaps are resized
            to ``size x size`` (the aspect ratio is not kept, so no part of the pet is cropped away).
        root: the folder holding ``oxford-iiit-pet/`` (default :func:`cvlib.config.data_dir`).
        download: when ``oxford-iiit-pet/images`` or ``annotations`` is missing, download both
            archives through ``torchvision.datasets.OxfordIIITPet`` (checked against their MD5).
        limit: keep only the first ``limit`` images of the split file (deterministic), an integer
            >= 1, or None for all.

    Items ``(image, mask)``:
        image: ``(3, size, size)`` float32 in [0, 1], resized bilinearly with antialiasing.
        mask: ``(size, size)`` int64 with values in {0, 1, 255}: 0 = background (trimap 2),
            1 = pet (trimap 1), 255 = :attr:`ignore_index`, the trimap's border band (3);
            resized with nearest-neighbour sampling, so no other value appears.

    Attributes:
        ids: the image ids of the items, e.g. ``"Abyssinian_1"``, in split-file order.
        folder: the ``oxford-iiit-pet`` folder read.
        split, size: as given.
        pets: the ``torchvision.datasets.OxfordIIITPet`` the items are read from (the whole split,
            ``(PIL photo, PIL trimap)`` items).

    Raises:
        ValueError: a bad ``split``, ``size`` or ``limit``.
        DatasetUnavailableError: the dataset is not on disk and could not be downloaded (offline, or
            ``download=False``), or the folder on disk is incomplete (a missing trimap, split file, ...);
            the message names the folder and what to do.
        DatasetCorruptError: the download finished but the extracted files are incomplete; they were
            removed, so running again downloads afresh.
    """

    classes: tuple[str, ...] = ("background", "pet")
    stuff_classes: tuple[int, ...] = (0,)
    thing_classes: tuple[int, ...] = (1,)
    ignore_index: int = IGNORE_INDEX

    def __init__(
        self,
        split: str = "trainval",
        size: int = 128,
        root: Path | str | None = None,
        download: bool = True,
        limit: int | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}, got {split!r}.")
        check_int("size", size, 1)
        check_int("limit", limit, 1, allow_none=True)
        root = Path(root) if root is not None else data_dir()
        self.folder = root / FOLDER_NAME
        how = HOW.format(folder=self.folder)
        downloaded = False
        if not _on_disk(self.folder):
            if not download:
                raise unavailable(NAME, self.folder, how)
            try:
                OxfordIIITPet(root, split=split, target_types="segmentation", download=True)
            except (OSError, RuntimeError, ValueError) as err:  # urllib's URLError is an OSError
                if not _on_disk(self.folder):
                    raise unavailable(NAME, self.folder, how, err) from err
                # downloaded and extracted, but torchvision could not read it: verify_folder says what is wrong
            downloaded = True
        try:
            ids = verify_folder(self.folder, split)
        except (FileNotFoundError, ValueError) as err:
            if downloaded:
                _remove_download(self.folder)
                raise DatasetCorruptError(
                    f"dataset {NAME!r}: the downloaded files are incomplete ({err}). The archives and the "
                    f"extracted images/ and annotations/ in {self.folder} were removed: run again to download "
                    f"them afresh. {how}"
                ) from err
            raise DatasetUnavailableError(
                f"dataset {NAME!r} in {self.folder} is incomplete ({err}): delete that folder and run again "
                f"to download it afresh, or extract {URLS[0]} and {URLS[1]} into it again. "
                "Or run the lesson with the offline profile: CVLIB_PROFILE=quick."
            ) from err
        self.pets = OxfordIIITPet(root, split=split, target_types="segmentation", download=False)
        self.ids = ids[:limit]
        self.split = split
        self.size = int(size)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.ids)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {n} images.")
        idx %= n
        photo, trimap = self.pets[idx]
        image = v2.functional.pil_to_tensor(photo)  # (3, H, W) uint8
        codes = torch.from_numpy(np.array(trimap, dtype=np.uint8))
        if codes.ndim == 3:  # a trimap saved as RGB: the code is in every channel
            codes = codes[..., 0]
        name = f"{self.ids[idx]}.png"
        if tuple(codes.shape) != tuple(image.shape[-2:]):
            raise ValueError(
                f"trimap {name} is {codes.shape[0]}x{codes.shape[1]} but its photo is "
                f"{image.shape[1]}x{image.shape[2]}: a trimap must have its photo's size (replace the file)."
            )
        unknown = _TRIMAP_TO_LABEL[codes.long()] < 0
        if bool(unknown.any()):
            bad = codes[unknown].unique().tolist()
            raise ValueError(f"trimap {name} holds values {bad}: expected only 1 (pet), 2 (background), 3 (border).")
        side = [self.size, self.size]
        image = v2.functional.resize(image, side, interpolation=InterpolationMode.BILINEAR, antialias=True)
        # nearest on the uint8 codes (pixel-centre aligned, as the bilinear image), then codes -> labels
        codes = v2.functional.resize(codes[None], side, interpolation=InterpolationMode.NEAREST_EXACT)[0]
        return v2.functional.to_dtype(image, torch.float32, scale=True), _TRIMAP_TO_LABEL[codes.long()]

    def tensors(self, progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Every item decoded once, stacked: ``(images, masks)``, ``(N, 3, size, size)`` uint8 (0..255)
        and ``(N, size, size)`` int64 in {0, 1, 255}. About 0.2 GB for the 3,680 trainval images at 128 px.
        """
        images = torch.empty(len(self), 3, self.size, self.size, dtype=torch.uint8)
        masks = torch.empty(len(self), self.size, self.size, dtype=torch.long)
        for i in tqdm(range(len(self)), desc=f"decoding {self.split}", disable=not progress):
            image, masks[i] = self[i]
            images[i] = (image * 255).round().to(torch.uint8)
        return images, masks

    def panoptic(self, idx: int) -> tuple[torch.Tensor, dict[int, int]]:
        """Panoptic truth of item ``idx``: segment 1 = the pet (a thing: one animal per photo in this
        dataset), segment 2 = the background (stuff), 0 = void (the trimap's border band).

        Returns ``(ids, categories)``: ``(size, size)`` int64 and ``{segment id: class}`` for the present
        segments, the truth argument of :func:`cvlib.segmentation.panoptic_quality`.
        """
        mask = self[idx][1]
        ids = torch.zeros_like(mask)
        ids[mask == 1] = 1
        ids[mask == 0] = 2
        return ids, {i: c for i, c in ((1, 1), (2, 0)) if bool((ids == i).any())}
