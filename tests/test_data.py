import io
import tarfile
import urllib.error
import zipfile

import numpy as np
import pytest
import torch

from cvlib.data import DatasetUnavailableError
from cvlib.data.digits import DigitsDataset
from cvlib.data.download import download, download_and_extract, extract, sha256sum
from cvlib.data.real import torchvision_dataset


def test_digits_split_shapes_ranges_and_disjoint():
    train, test = DigitsDataset("train"), DigitsDataset("test")
    assert len(train) + len(test) == 1797 and len(test) == 450
    x, y = train[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and isinstance(y, int)
    assert 0.0 <= train.images.min() and train.images.max() <= 1.0
    # the held-out split shares no image with the training split
    flat_train = {tuple(t.flatten().tolist()) for t in train.images}
    assert not any(tuple(t.flatten().tolist()) in flat_train for t in test.images)
    assert set(test.targets.tolist()) == set(range(10))


def test_digits_native_size_and_transform():
    ds = DigitsDataset("test", size=8, transform=lambda t: t * 0)
    x, _ = ds[3]
    assert x.shape == (1, 8, 8) and x.abs().sum() == 0
    with pytest.raises(ValueError, match="split"):
        DigitsDataset("validation")


def test_full_dataset_offline_error_names_dataset_and_folder(monkeypatch, tmp_path):
    import torchvision.datasets.mnist as tv_mnist

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", no_network)
    with pytest.raises(DatasetUnavailableError) as err:
        torchvision_dataset("mnist", root=tmp_path)
    message = str(err.value)
    assert "MNIST" in message and str(tmp_path) in message and "CVLIB_PROFILE=quick" in message
    assert "\n" not in message
    with pytest.raises(DatasetUnavailableError, match="CIFAR10"):
        torchvision_dataset("cifar10", root=tmp_path, download=False)
    with pytest.raises(ValueError, match="mnist"):
        torchvision_dataset("imagenet", root=tmp_path)


def test_download_verifies_checksum(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello course")
    good = sha256sum(src)
    dest = download(src.as_uri(), tmp_path / "out" / "file.bin", good)
    assert dest.read_bytes() == b"hello course"
    with pytest.raises(ValueError, match="checksum mismatch"):
        download(src.as_uri(), tmp_path / "out" / "other.bin", "0" * 64)
    assert not (tmp_path / "out" / "other.bin").exists()
    assert not (tmp_path / "out" / "other.bin.part").exists()


def test_download_and_extract_zip_and_offline_error(tmp_path):
    archive = tmp_path / "pkg.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pkg/a.txt", "A")
    target = tmp_path / "data" / "pkg"
    download_and_extract(archive.as_uri(), target, sha256sum(archive), name="pkg", how="Get it.")
    assert (target / "a.txt").read_text() == "A"
    with pytest.raises(DatasetUnavailableError, match="'pkg'"):
        download_and_extract(
            (tmp_path / "missing.zip").as_uri(), tmp_path / "x" / "pkg", "0" * 64, name="pkg", how="Get it."
        )


def test_extract_refuses_path_escape(tmp_path):
    bad_zip = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad_zip, "w") as zf:
        zf.writestr("../evil.txt", "x")
    with pytest.raises(ValueError, match="outside"):
        extract(bad_zip, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()

    bad_tar = tmp_path / "bad.tar.gz"
    with tarfile.open(bad_tar, "w:gz") as tf:
        info = tarfile.TarInfo("link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(ValueError, match="link"):
        extract(bad_tar, tmp_path / "out2")

    good_tar = tmp_path / "good.tar.gz"
    with tarfile.open(good_tar, "w:gz") as tf:
        data = b"fine"
        info = tarfile.TarInfo("d/f.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    extract(good_tar, tmp_path / "out3")
    assert (tmp_path / "out3" / "d" / "f.txt").read_bytes() == b"fine"


def _write_idx(path, array, magic_type=0x08):
    """Write an uncompressed IDX file (the MNIST on-disk format): magic, dims, big-endian data."""
    import struct

    import numpy as np

    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, magic_type, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def test_mnist_fixture_in_the_real_layout_loads(tmp_path):
    import numpy as np

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 5), ("t10k", 3)):
        images = rng.integers(0, 256, size=(n, 28, 28))
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    train = torchvision_dataset("mnist", "train", root=tmp_path, download=False)
    test = torchvision_dataset("mnist", "test", root=tmp_path, download=False)
    assert len(train) == 5 and len(test) == 3
    x, y = train[2]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and y == 2
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_cifar10_fixture_in_the_real_layout_loads(tmp_path, monkeypatch):
    import pickle

    import numpy as np

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)

    def batch(n):
        return {"data": rng.integers(0, 256, size=(n, 3 * 32 * 32), dtype=np.uint8), "labels": list(range(n))}

    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch(2)))
    (folder / "test_batch").write_bytes(pickle.dumps(batch(4)))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    # torchvision verifies each file's MD5 against the official archive; our fixture has other bytes.
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda path, md5=None: True)
    train = torchvision_dataset("cifar10", "train", root=tmp_path, download=False)
    test = torchvision_dataset("cifar10", "test", root=tmp_path, download=False)
    assert len(train) == 10 and len(test) == 4 and train.classes[3] == "cat"
    x, y = test[3]
    assert x.shape == (3, 32, 32) and y == 3 and float(x.max()) <= 1.0


def test_center_square_resizes_the_shorter_side_then_crops_the_centre():
    from PIL import Image

    from cvlib.data.transforms import center_square

    pixels = np.zeros((30, 60), dtype=np.uint8)
    pixels[:, 20:40] = 255  # a white band in the middle third, on a grey-scale photo
    x = center_square(10)(Image.fromarray(pixels))
    assert x.shape == (3, 10, 10) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert x[:, :, 5].mean() > 0.9, "the centre of the band is kept"
    assert x[:, :, 0].mean() < 0.5, (
        "60x30 -> 20x10, centre 10 columns = original columns 15-45: column 0 is outside the band"
    )
    y = center_square(10, minus_one_one=True)(Image.fromarray(pixels))
    assert torch.allclose(y, x * 2 - 1)
    with pytest.raises(ValueError, match="resize an int >= size"):
        center_square(10, resize=8)
