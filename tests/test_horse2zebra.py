"""horse2zebra, lesson 06's full-profile dataset (cvlib.data.horse2zebra), on tiny fakes in its real layout."""

import urllib.error
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

import cvlib.data.domains
from cvlib.data import DatasetUnavailableError
from cvlib.data.download import sha256sum
from cvlib.data.horse2zebra import (
    HORSE2ZEBRA_FOLDERS,
    HORSE2ZEBRA_SHA256,
    DomainFolder,
    gan_transform,
    horse2zebra,
)


def _write_horse2zebra(root, counts=(3, 2, 2, 1)):
    """A tiny horse2zebra in its real layout: horse2zebra/{trainA,trainB,testA,testB}/*.jpg."""
    folder = root / "horse2zebra"
    rng = np.random.default_rng(0)
    for name, n in zip(("trainA", "trainB", "testA", "testB"), counts):
        (folder / name).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
            img = Image.fromarray(pixels)
            if name == "trainA" and i == 0:
                img = img.convert("L")  # the real dataset has a few grayscale photos
            img.save(folder / name / f"n{i:04d}.jpg")
    (folder / "trainA" / "notes.txt").write_text("not an image")
    return folder


def test_horse2zebra_reads_the_real_folder_layout(tmp_path):
    _write_horse2zebra(tmp_path)
    train_a = horse2zebra("train", "A", size=32, root=tmp_path, download=False)
    test_b = horse2zebra("test", "B", size=32, root=tmp_path, download=False)
    assert len(train_a) == 3 and len(test_b) == 1
    assert [p.name for p in train_a.files] == ["n0000.jpg", "n0001.jpg", "n0002.jpg"]
    x, y = train_a[0]  # the grayscale one comes out as RGB
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y == 0
    assert -1 <= x.min() and x.max() <= 1 and x.min() < 0 < x.max()
    x, y = test_b[0]
    assert x.shape == (3, 32, 32) and y == 1
    with pytest.raises(ValueError, match="split"):
        horse2zebra("val", "A", root=tmp_path)
    with pytest.raises(ValueError, match="domain"):
        horse2zebra("train", "C", root=tmp_path)


def test_horse2zebra_downloads_verifies_and_extracts(tmp_path):
    src = _write_horse2zebra(tmp_path / "src")
    archive = tmp_path / "horse2zebra.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.rglob("*")):
            zf.write(path, path.relative_to(src.parent).as_posix())
    root = tmp_path / "data"
    ds = horse2zebra("train", "B", size=16, root=root, url=archive.as_uri(), sha256=sha256sum(archive))
    assert len(ds) == 2 and ds[1][0].shape == (3, 16, 16)
    assert (root / "horse2zebra" / "testA").is_dir()
    with pytest.raises(ValueError, match="checksum mismatch"):
        horse2zebra("train", "B", root=tmp_path / "other", url=archive.as_uri(), sha256="0" * 64)
    assert len(HORSE2ZEBRA_SHA256) == 64 and int(HORSE2ZEBRA_SHA256, 16) >= 0


def test_horse2zebra_offline_names_dataset_folder_and_remedy(tmp_path, monkeypatch):
    import cvlib.data.download as dl

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(dl.urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetUnavailableError) as err:
        horse2zebra("train", "A", root=tmp_path)
    message = str(err.value)
    assert "horse2zebra" in message and str(tmp_path / "horse2zebra") in message
    assert "trainA" in message and "CVLIB_PROFILE=quick" in message and "\n" not in message
    with pytest.raises(DatasetUnavailableError, match="horse2zebra"):
        horse2zebra("test", "B", root=tmp_path / "none", download=False)


def test_domain_folder_without_images_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no images"):
        DomainFolder(tmp_path, 0)


def test_gan_transform_maps_to_minus_one_one():
    img = Image.fromarray(np.array([[[0, 255, 128]] * 40] * 30, dtype=np.uint8))  # 30x40 RGB, one colour
    x = gan_transform(16, train=False)(img)
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32
    assert torch.allclose(x[:, 8, 8], torch.tensor([-1.0, 1.0, 128 / 127.5 - 1]), atol=1e-6)
    assert gan_transform(16, train=True)(img).shape == (3, 16, 16)


def test_horse2zebra_left_the_generated_domains_module():
    assert HORSE2ZEBRA_FOLDERS == ("trainA", "trainB", "testA", "testB")
    assert not any(hasattr(cvlib.data.domains, name) for name in ("horse2zebra", "DomainFolder", "gan_transform"))
