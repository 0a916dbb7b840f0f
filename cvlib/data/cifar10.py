"""CIFAR-10 for the semi-supervised benchmark: few labelled images, the rest unlabelled (lesson 11, ``full`` profile).

A :mod:`cvlib.data` module: one real dataset per file. Used by lesson 11 (full), learning with fewer
labels, in FixMatch's setting (Sohn et al., 2020): 250 or 4,000 labelled training images, the same
number per class (:func:`labelled_split`), the other training images as the unlabelled pool, and the
10,000 test images for evaluation.

CIFAR-10 (Krizhevsky, 2009; https://www.cs.toronto.edu/~kriz/cifar.html): 60,000 colour images of
32x32 px in 10 classes (:data:`CLASSES`), 50,000 for training in five batches of 10,000 and 10,000 for
testing. The "python version" archive extracts to::

    <data_dir>/cifar-10-batches-py/
        data_batch_1 ... data_batch_5   training batches
        test_batch                       test batch
        batches.meta                     {'label_names': [...], ...}
        readme.html

Each batch is a Python 2 pickle (protocol 2) of a dict whose ``'data'`` is an ``(n, 3072)`` uint8
array, one image per row: the 1,024 red values of the 32x32 image row by row, then the green, then the
blue plane; and whose ``'labels'`` is a list of ``n`` class indices 0..9. This is the same folder and
archive torchvision's ``CIFAR10`` uses (lessons 01, 04 and 05), so one download serves every lesson;
this module reads the batches itself, not through torchvision (which re-checks every file's MD5).

The archive is verified against its published MD5 (:data:`MD5`, the one torchvision pins) before it is
extracted; the batches are then read with :func:`pickle.load` (``encoding="latin1"``, as Python 2
wrote them). Unpickling runs code named in the file, which is safe here only because the archive's
checksum was verified: do not point this module at pickles from elsewhere. The extracted files are
checked structurally (every file present, class names, each batch ``(n, 3072)`` uint8 with ``n``
labels in 0..9, the five training batches the same size); the counts themselves (10,000 per batch)
are vouched for by the archive's MD5, not re-checked, so tiny test fixtures in the same format load too.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from cvlib.config import data_dir
from cvlib.data.download import find_or_download, incomplete
from cvlib.validate import check_int

__all__ = [
    "CLASSES",
    "MD5",
    "URL",
    "cifar10_folder",
    "cifar10_tensors",
    "labelled_split",
    "read_batch",
    "verify_folder",
]

NAME = "CIFAR-10"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: MD5 of cifar-10-python.tar.gz as published on the dataset page (and pinned by torchvision); a mismatch
#: stops the download and removes the file.
MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER_NAME = "cifar-10-batches-py"
SPLITS = ("train", "test")
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
#: Every file the folder must hold (the archive's readme.html is not needed).
FILES = (*TRAIN_BATCHES, TEST_BATCH, META)
#: The class names, in label order (``batches.meta``'s ``label_names``).
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SIDE = 32
ROW = 3 * SIDE * SIDE
#: Images per batch in the real archive (not re-checked: the archive's MD5 vouches for it).
IMAGES_PER_BATCH = 10_000
HOW = (
    f"Connect to the internet and run again, or download {URL} yourself and extract it into the data folder "
    f"(it creates {FOLDER_NAME}/ with data_batch_1 ... data_batch_5, test_batch and batches.meta)."
)


def _unpickle(path: Path) -> object:
    """The object in a CIFAR-10 pickle (Python 2 strings decoded as latin-1); ValueError if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")  # the archive's MD5 was checked on download
    except Exception as err:
        raise ValueError(f"{path.name} is not a readable CIFAR-10 pickle ({type(err).__name__})") from err


def read_batch(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 batch file: ``(data, labels)``, ``(n, 3072)`` uint8 rows (R, G, B planes of 32x32) and
    ``(n,)`` int64 labels in 0..9.

    Raises:
        ValueError: naming the file and what is wrong (not a pickle of a dict with ``'data'`` and ``'labels'``,
            ``data`` not ``(n, 3072)`` uint8, not ``n`` labels, a label outside 0..9, no images).
    """
    path = Path(path)
    batch = _unpickle(path)
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise ValueError(f"{path.name} is not a CIFAR-10 batch (a dict with 'data' and 'labels')")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != ROW:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{path.name}: 'data' is {found}, expected (n, {ROW}) uint8")
    if len(data) == 0:
        raise ValueError(f"{path.name} holds no images")
    labels = np.asarray(batch["labels"])
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu":
        raise ValueError(f"{path.name}: 'labels' is {labels.dtype} {labels.shape}, expected {len(data)} integers")
    if labels.min() < 0 or labels.max() >= len(CLASSES):
        raise ValueError(f"{path.name}: labels range {labels.min()}..{labels.max()}, expected 0..{len(CLASSES) - 1}")
    return data, labels.astype(np.int64)


def _check_meta(path: Path) -> None:
    meta = _unpickle(path)
    names = meta.get("label_names") if isinstance(meta, dict) else None
    if names is None or tuple(names) != CLASSES:
        raise ValueError(f"{path.name}: 'label_names' is {names!r}, expected the 10 CIFAR-10 classes")


def _read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The split's batches, concatenated: ``(N, 3072)`` uint8 and ``(N,)`` int64 (new arrays)."""
    names = TRAIN_BATCHES if split == "train" else (TEST_BATCH,)
    batches = [read_batch(folder / name) for name in names]
    sizes = [len(labels) for _, labels in batches]
    if len(set(sizes)) > 1:
        listing = ", ".join(f"{name} {n}" for name, n in zip(names, sizes))
        raise ValueError(f"the {len(names)} training batches differ in size ({listing} images)")
    return np.concatenate([data for data, _ in batches]), np.concatenate([labels for _, labels in batches])


def _check_files(folder: Path) -> None:
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"{', '.join(missing)} missing")


def verify_folder(folder: Path) -> dict[str, int]:
    """Check an extracted ``cifar-10-batches-py`` folder structurally and return ``{"train": N, "test": N}``.

    Checks: every file of :data:`FILES` is there; ``batches.meta`` names :data:`CLASSES`; every batch is
    ``(n, 3072)`` uint8 with ``n`` labels in 0..9; the five training batches hold the same number of images.
    The real counts (10,000 per batch) are not checked: the archive's MD5 vouches for them.

    Raises:
        ValueError: naming the first file that is missing or wrong.
    """
    folder = Path(folder)
    _check_files(folder)
    _check_meta(folder / META)
    return {split: len(_read_split(folder, split)[1]) for split in SPLITS}


def cifar10_folder(root: Path | str | None = None, download: bool = True) -> Path:
    """The extracted folder ``<root>/cifar-10-batches-py``, downloaded (MD5-checked) and verified if missing.

    Args:
        root: parent folder (default :func:`cvlib.config.data_dir`).
        download: download when the folder is missing.

    Raises:
        DatasetUnavailableError: the folder is missing and cannot be downloaded (offline, or ``download=False``),
            or a folder on disk lacks one of :data:`FILES`; the message names the folder and what to do.
        ValueError: the downloaded archive does not match :data:`MD5` (it was removed).
        DatasetCorruptError: the archive could not be extracted or failed :func:`verify_folder` (removed).
    """
    folder = Path(root if root is not None else data_dir()) / FOLDER_NAME
    return find_or_download(
        folder,
        [""],
        _check_files,
        download=download,
        url=URL,
        name=NAME,
        how=HOW,
        archive_name=ARCHIVE_NAME,
        verify=verify_folder,
        md5=MD5,
    )


def cifar10_tensors(
    split: str = "train", root: Path | str | None = None, download: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """One split of CIFAR-10 as tensors: images ``(N, 3, 32, 32)`` uint8 in 0..255 (RGB) and labels ``(N,)`` int64
    in 0..9 (indices into :data:`CLASSES`), in file order (batch 1 first).

    N is 50,000 for ``"train"`` and 10,000 for ``"test"`` on the real data. The batches are checked
    structurally as they are read (see :func:`verify_folder`); the counts are vouched for by the archive's MD5.

    Args:
        split: ``"train"`` (the five training batches) or ``"test"``.
        root: parent folder of ``cifar-10-batches-py/`` (default :func:`cvlib.config.data_dir`).
        download: download (MD5-checked) and extract the archive when the folder is missing.

    Raises:
        ValueError: an unknown split; a download that does not match :data:`MD5` (the file was removed).
        DatasetUnavailableError: not on disk and not downloadable, or the folder on disk is incomplete or
            holds a malformed batch (names the folder, the file and what to do).
        DatasetCorruptError: the downloaded archive failed extraction or verification (removed; run again).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    folder = cifar10_folder(root, download)
    try:
        _check_meta(folder / META)
        data, labels = _read_split(folder, split)
    except ValueError as err:
        raise incomplete(NAME, folder, err, HOW) from err
    return torch.from_numpy(data.reshape(-1, 3, SIDE, SIDE)), torch.from_numpy(labels)


def labelled_split(labels: torch.Tensor, n_labelled: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose ``n_labelled`` images, ``n_labelled / 10`` of each class, as the labelled set; the rest are unlabelled.

    The semi-supervised CIFAR-10 benchmark's split (FixMatch: 250 or 4,000 labelled images). FixMatch's
    reference code also feeds the labelled images, without labels, to the unlabelled stream; here the two
    sets are disjoint: concatenate them for that.

    Args:
        labels: ``(N,)`` integer class labels in 0..9 (e.g. from :func:`cifar10_tensors`), any device.
        n_labelled: a multiple of 10, at most 10x the smallest class's count, less than N.
        seed: integer >= 0; the same seed gives the same split (on a given torch version).

    Returns:
        ``(labelled, unlabelled)``: sorted int64 CPU index tensors into ``labels``, disjoint, together
        ``0..N-1``; ``labelled`` holds ``n_labelled / 10`` indices of each class.

    Raises:
        ValueError: ``labels`` is not a 1-D integer tensor with values 0..9; ``n_labelled`` is not a positive
            multiple of 10, needs more images of a class than there are, or leaves nothing unlabelled; a bad seed.
    """
    num_classes = len(CLASSES)
    if (
        not isinstance(labels, torch.Tensor)
        or labels.ndim != 1
        or labels.dtype == torch.bool
        or labels.dtype.is_floating_point
        or labels.dtype.is_complex
        or labels.numel() == 0
    ):
        found = f"{labels.dtype} {tuple(labels.shape)}" if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be a non-empty 1-D integer tensor of class indices (N,), got {found}.")
    flat = labels.detach().cpu().long()
    if int(flat.min()) < 0 or int(flat.max()) >= num_classes:
        raise ValueError(
            f"labels range {int(flat.min())}..{int(flat.max())}: CIFAR-10 labels are 0..{num_classes - 1}."
        )
    check_int("n_labelled", n_labelled, 1)
    n = int(n_labelled)
    if n % num_classes:
        raise ValueError(
            f"n_labelled={n} is not divisible by the {num_classes} classes (the labelled set is balanced): "
            "use a multiple of 10, e.g. 250 or 4000."
        )
    check_int("seed", seed, 0)
    per_class = n // num_classes
    counts = torch.bincount(flat, minlength=num_classes)
    for c in range(num_classes):
        if int(counts[c]) < per_class:
            raise ValueError(
                f"class {c} ({CLASSES[c]}) has {int(counts[c])} images, fewer than the {per_class} per class that "
                f"n_labelled={n} needs: use a smaller n_labelled."
            )
    if n >= len(flat):
        raise ValueError(f"n_labelled={n} labels all {len(flat)} images: leave some unlabelled (use fewer).")
    generator = torch.Generator().manual_seed(int(seed))
    chosen = []
    for c in range(num_classes):
        members = torch.nonzero(flat == c).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    labelled = torch.cat(chosen).sort().values
    is_unlabelled = torch.ones(len(flat), dtype=torch.bool)
    is_unlabelled[labelled] = False
    return labelled, torch.nonzero(is_unlabelled).flatten()
