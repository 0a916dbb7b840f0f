"""scikit-learn's bundled handwritten digits (1,797 images, 8x8, 10 classes) as torch data.

Used by lessons 01, 04 and 05 (quick).

Ships with scikit-learn: no download, so the ``quick`` profile uses it.
Images are upsampled to ``size`` x ``size`` so the same models serve MNIST-sized input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset

CLASSES = [str(i) for i in range(10)]


def digits_tensors(size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as ``(N, 1, size, size)`` float32 in [0, 1] and ``(N,)`` int64 labels."""
    bunch = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    if size != 8:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return images.clamp_(0.0, 1.0), torch.from_numpy(bunch.target.astype(np.int64))


class DigitsDataset(Dataset):
    """Bundled digits, split into train/test by a fixed stratified split.

    Args:
        split: ``"train"`` or ``"test"`` (held out; never used for training).
        size: output side length in pixels (8 = original, 28 = MNIST-like).
        test_fraction: share of the 1,797 images held out.
        seed: seed of the split (the same seed always gives the same split).
        transform: optional callable on the ``(1, size, size)`` image tensor
            (e.g. torchvision.transforms.v2 augmentation).

    Items are ``(image, label)``: ``(1, size, size)`` float32 in [0, 1], int.
    """

    classes = CLASSES

    def __init__(
        self,
        split: str = "train",
        size: int = 28,
        test_fraction: float = 0.25,
        seed: int = 0,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
        images, labels = digits_tensors(size)
        idx_train, idx_test = train_test_split(
            np.arange(len(labels)), test_size=test_fraction, random_state=seed, stratify=labels.numpy()
        )
        idx = torch.from_numpy(idx_train if split == "train" else idx_test)
        self.images, self.targets = images[idx], labels[idx]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = self.images[i]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[i])
