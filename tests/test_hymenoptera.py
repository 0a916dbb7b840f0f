"""Hymenoptera loader on a fixture folder in the real ImageFolder layout (no download)."""

import numpy as np
import pytest
import torch
from PIL import Image

from cvlib.data import DatasetUnavailableError
from cvlib.data import hymenoptera as hym


@pytest.fixture
def fixture_root(tmp_path):
    """<tmp>/hymenoptera_data/{train,val}/{ants,bees}/ with tiny JPEG and PNG files of different sizes."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "hymenoptera_data"
    counts = {"train": {"ants": 3, "bees": 2}, "val": {"ants": 1, "bees": 2}}
    for split, classes in counts.items():
        for name, n in classes.items():
            (folder / split / name).mkdir(parents=True)
            for i in range(n):
                size = (40 + 7 * i, 30 + 5 * i)  # (width, height): not square, not equal
                pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
                if name == "ants":
                    pixels[..., 0] = 250  # ants are red in the fixture, bees are not
                image = Image.fromarray(pixels)
                if i % 2:
                    image.convert("L").save(folder / split / name / f"{i}.png")  # a grayscale PNG
                else:
                    image.save(folder / split / name / f"{i}.jpg", quality=95)
    return tmp_path


def test_loader_reads_the_imagefolder_layout(fixture_root):
    train = hym.hymenoptera("train", root=fixture_root, download=False)
    val = hym.hymenoptera("val", root=fixture_root, download=False)
    assert train.classes == ["ants", "bees"] and train.class_to_idx == {"ants": 0, "bees": 1}
    assert len(train) == 5 and len(val) == 3
    assert [label for _, label in train.samples] == [0, 0, 0, 1, 1]
    image, label = train[0]
    assert image.mode == "RGB" and label == 0
    gray, _ = train[1]  # the grayscale PNG comes back as RGB
    assert gray.mode == "RGB"


def test_load_images_gives_one_tensor(fixture_root):
    train = hym.hymenoptera("train", root=fixture_root, download=False)
    images, labels = hym.load_images(train, size=24, progress=False)
    assert images.shape == (5, 3, 24, 24) and images.dtype == torch.float32
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    assert labels.tolist() == [0, 0, 0, 1, 1] and labels.dtype == torch.int64
    assert float(images[0, 0].mean()) > 0.9  # the red ant


def test_eval_transform_resizes_then_crops_centre():
    t = hym.eval_transform(224)
    out = t(Image.new("RGB", (500, 300), (10, 20, 30)))
    assert out.shape == (3, 224, 224) and out.dtype == torch.float32
    assert torch.allclose(out[:, 0, 0], torch.tensor([10, 20, 30]) / 255.0, atol=1e-6)


def test_missing_data_offline_names_dataset_folder_and_what_to_do(tmp_path):
    with pytest.raises(DatasetUnavailableError) as err:
        hym.hymenoptera("train", root=tmp_path, download=False)
    message = str(err.value)
    assert "hymenoptera" in message and str(tmp_path / "hymenoptera_data") in message
    assert hym.URL in message and "CVLIB_PROFILE=quick" in message


def test_incomplete_folder_is_not_accepted(fixture_root):
    (fixture_root / "hymenoptera_data" / "val" / "bees").rename(fixture_root / "elsewhere")
    with pytest.raises(DatasetUnavailableError):
        hym.hymenoptera_folder(fixture_root, download=False)


def test_download_goes_through_the_checksummed_helper(tmp_path, monkeypatch):
    calls = {}

    def fake_download_and_extract(url, folder, sha256, *, name, how, archive_name=None):
        calls.update(url=url, folder=folder, sha256=sha256, name=name)
        for split in hym.SPLITS:
            for cls in hym.CLASSES:
                (folder / split / cls).mkdir(parents=True)
        return folder

    monkeypatch.setattr(hym, "download_and_extract", fake_download_and_extract)
    monkeypatch.setattr(hym, "SHA256", "0" * 64)
    folder = hym.hymenoptera_folder(tmp_path)
    assert folder == tmp_path / "hymenoptera_data"
    assert calls == {"url": hym.URL, "folder": folder, "sha256": "0" * 64, "name": "hymenoptera"}


def test_no_unchecked_download_without_a_recorded_checksum(tmp_path, monkeypatch):
    monkeypatch.setattr(hym, "SHA256", None)
    monkeypatch.setattr(hym, "download_and_extract", lambda *a, **k: pytest.fail("must not download unchecked"))
    with pytest.raises(DatasetUnavailableError, match="checksum"):
        hym.hymenoptera_folder(tmp_path)


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        hym.hymenoptera("test")
