"""CelebA 64x64 loader on a tiny fixture written in CelebA's real on-disk layout."""

import pytest
import torch
import torchvision
from PIL import Image

from cvlib.data import DatasetUnavailableError
from cvlib.data.celeba import CelebAFaces

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)]


def write_celeba(root, nested=False, partition=True):
    """5 aligned "faces" (178x218 JPEG, one flat colour each) + list_eval_partition.txt: 3 train, 1 valid, 1 test."""
    images = root / "celeba" / "img_align_celeba"
    if nested:  # the Kaggle archive extracts one level deeper
        images = images / "img_align_celeba"
    images.mkdir(parents=True)
    for i, colour in enumerate(COLOURS, start=1):
        Image.new("RGB", (178, 218), colour).save(images / f"{i:06d}.jpg", quality=95)
    (images / "notes.txt").write_text("not an image")
    if partition:
        lines = [f"{i:06d}.jpg {p}" for i, p in zip(range(1, 6), [0, 0, 0, 1, 2])]
        (root / "celeba" / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")


def test_celeba_items_are_64px_in_minus_one_one(tmp_path):
    write_celeba(tmp_path)
    ds = CelebAFaces(root=tmp_path, download=False)
    assert len(ds) == 5
    x, y = ds[0]
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32 and y == 0
    # pure red -> (1, -1, -1) after scaling to [-1, 1] (JPEG changes a few levels)
    assert torch.allclose(x.mean((1, 2)), torch.tensor([1.0, -1.0, -1.0]), atol=0.05)
    assert ds[4][0].max() <= -0.95 and ds[3][0].min() >= 0.95  # black and white
    assert CelebAFaces(root=tmp_path, download=False, image_size=32)[0][0].shape == (3, 32, 32)
    assert len(CelebAFaces(root=tmp_path, download=False, limit=2)) == 2


def test_celeba_official_splits(tmp_path):
    write_celeba(tmp_path)
    sizes = {s: len(CelebAFaces(root=tmp_path, split=s, download=False)) for s in ("train", "valid", "test", "all")}
    assert sizes == {"train": 3, "valid": 1, "test": 1, "all": 5}
    with pytest.raises(ValueError, match="split"):
        CelebAFaces(root=tmp_path, split="val", download=False)


def test_celeba_kaggle_nested_layout_without_partition(tmp_path):
    write_celeba(tmp_path, nested=True, partition=False)
    assert len(CelebAFaces(root=tmp_path, download=False)) == 5
    with pytest.raises(ValueError, match="list_eval_partition"):
        CelebAFaces(root=tmp_path, split="train", download=False)


def test_celeba_missing_offline_names_dataset_and_folder(tmp_path, monkeypatch):
    with pytest.raises(DatasetUnavailableError) as err:
        CelebAFaces(root=tmp_path, download=False)
    message = str(err.value)
    assert "CelebA" in message and str(tmp_path / "celeba") in message and "CVLIB_PROFILE=quick" in message
    assert "\n" not in message

    def no_gdown(*args, **kwargs):
        raise RuntimeError("To download files from GDrive, 'gdown' is required.")

    monkeypatch.setattr(torchvision.datasets, "CelebA", no_gdown)
    with pytest.raises(DatasetUnavailableError, match="gdown"):
        CelebAFaces(root=tmp_path, download=True)
