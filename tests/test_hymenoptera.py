"""Hymenoptera loader on a fixture folder in the real ImageFolder layout (no download)."""

import fullfixtures
import numpy as np
import pytest
import torch
from PIL import Image

from cvlib.data import DatasetUnavailableError
from cvlib.data import hymenoptera as hym
from cvlib.data.download import DatasetCorruptError, extract, sha256sum


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


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local HTTP server in the layout CVLIB_MIRROR expects, serving the real archive format."""
    served = tmp_path / "served"
    archive = served / "download.pytorch.org" / "tutorial" / "hymenoptera_data.zip"
    fullfixtures.hymenoptera_zip(archive)
    with fullfixtures.LocalMirror(served) as m:
        monkeypatch.setenv("CVLIB_MIRROR", m.url)
        m.archive = archive
        yield m


def test_download_verify_extract_through_a_local_server(tmp_path, mirror, capsys):
    root = tmp_path / "data"
    folder = hym.hymenoptera_folder(root)
    assert folder == root / "hymenoptera_data"
    assert mirror.requests == ["/download.pytorch.org/tutorial/hymenoptera_data.zip"]
    assert "sha256 " + sha256sum(mirror.archive) in capsys.readouterr().out, "the archive's SHA-256 is printed"
    train = hym.hymenoptera("train", root=root)
    assert len(train) == 200 and train.classes == ["ants", "bees"]
    hym.hymenoptera_folder(root)
    assert len(mirror.requests) == 1, "a complete folder is not downloaded again"


def test_truncated_archive_is_removed_and_the_next_run_downloads_again(tmp_path, mirror):
    good = mirror.archive.read_bytes()
    mirror.archive.write_bytes(good[: len(good) // 2])  # the host serves a damaged file
    root = tmp_path / "data"
    with pytest.raises(DatasetCorruptError) as err:
        hym.hymenoptera_folder(root)
    message = str(err.value)
    assert "hymenoptera" in message and "removed" in message and "run again" in message
    assert not (root / "hymenoptera_data").exists() and not (root / "hymenoptera_data.zip").exists()
    assert not list(root.glob("*.part")), "no partial download is left behind"
    mirror.archive.write_bytes(good)  # fixed on the host
    assert hym.hymenoptera_folder(root) == root / "hymenoptera_data"
    assert len(mirror.requests) == 2


def test_archive_with_too_few_images_fails_verification(tmp_path, mirror):
    fullfixtures.hymenoptera_zip(mirror.archive, counts={"train": 100, "val": 5})
    root = tmp_path / "data"
    with pytest.raises(DatasetCorruptError, match="val/ants has 5 images, expected at least 60"):
        hym.hymenoptera_folder(root)
    assert not (root / "hymenoptera_data").exists()


def test_undecodable_image_fails_verification(tmp_path):
    folder = tmp_path / "hymenoptera_data"
    fullfixtures.hymenoptera_zip(tmp_path / "h.zip")
    extract(tmp_path / "h.zip", tmp_path)
    (folder / "train" / "bees" / "0003_bees.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="0003_bees.jpg is not a readable image"):
        hym.verify_folder(folder)


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        hym.hymenoptera("test")
