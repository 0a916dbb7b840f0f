"""BSDS300 crops, lesson 10's full-profile super-resolution photographs (cvlib.data.srphotos), on tiny fakes."""

import urllib.error

import fullfixtures
import numpy as np
import pytest
import torch
from PIL import Image

from cvlib.data import DatasetUnavailableError
from cvlib.data import srphotos as srp
from cvlib.data.download import DatasetCorruptError, sha256sum

SERVED_PATH = ("www2.eecs.berkeley.edu", "Research", "Projects", "CS", "vision", "bsds", "BSDS300-images.tgz")


@pytest.fixture
def small_root(tmp_path, monkeypatch):
    """6 train and 3 test photographs (40x28 and 28x40) in the real layout; the count check expects these."""
    monkeypatch.setattr(srp, "COUNTS", {"train": 6, "test": 3})
    fullfixtures.bsds_folder(tmp_path, n_train=6, n_test=3, size=(40, 28))
    return tmp_path


def _photos(root, split):
    folder = root / "BSDS300" / "images" / split
    return {p.name: np.array(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.jpg"))}


def _source(crop, photos):
    """The (photo, y, x) where ``crop`` ((3, s, s) float in [0, 1]) is cut from, exactly, or None."""
    pixels = (crop.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    s = pixels.shape[0]
    for name, photo in photos.items():
        windows = np.lib.stride_tricks.sliding_window_view(photo, (s, s, 3))[..., 0, :, :, :]
        hits = np.argwhere((windows == pixels).all(axis=(-3, -2, -1)))
        if len(hits):
            return name, *hits[0]
    return None


def test_crops_are_full_resolution_pixels_of_their_split(small_root):
    train = srp.sr_crops("train", 12, size=16, seed=1, root=small_root, download=False)
    assert train.shape == (12, 3, 16, 16) and train.dtype == torch.float32
    assert 0 <= float(train.min()) and float(train.max()) <= 1
    assert torch.equal(train, (train * 255).round() / 255), "uint8 pixels / 255, as photo_crops"
    train_photos, test_photos = _photos(small_root, "train"), _photos(small_root, "test")
    assert not set(train_photos) & set(test_photos), "train and test are different photographs"
    sources = [_source(c, train_photos) for c in train]
    assert all(s is not None for s in sources), "every crop is the photograph's own pixels, not resized"
    used = [s[0] for s in sources]
    assert sorted(used) == sorted(list(train_photos) * 2), "dealt in turn: each photograph twice"
    assert used[:6] == used[6:], "round-robin over one shuffled order"
    assert len({(y, x) for _, y, x in sources}) > 6, "positions vary"
    test = srp.sr_crops("test", 6, size=16, seed=1, root=small_root, download=False)
    assert all(_source(c, test_photos) is not None and _source(c, train_photos) is None for c in test)


def test_crops_are_deterministic_from_the_seed(small_root):
    a = srp.sr_crops("train", 9, size=12, seed=3, root=small_root, download=False)
    assert torch.equal(a, srp.sr_crops("train", 9, size=12, seed=3, root=small_root, download=False))
    assert torch.equal(a[:4], srp.sr_crops("train", 4, size=12, seed=3, root=small_root, download=False))
    assert not torch.equal(a, srp.sr_crops("train", 9, size=12, seed=4, root=small_root, download=False))


def test_bad_arguments_say_what_to_do(small_root):
    with pytest.raises(ValueError, match="split must be one of 'train', 'test', got 'val'"):
        srp.sr_crops("val", 4, root=small_root)
    with pytest.raises(ValueError, match="n=0 is not allowed"):
        srp.sr_crops("train", 0, root=small_root)
    with pytest.raises(ValueError, match=r"is (40x28|28x40) px, smaller than size=32: use a smaller size"):
        srp.sr_crops("train", 2, size=32, root=small_root, download=False)


def test_missing_folder_offline_names_dataset_folder_and_remedy(tmp_path, monkeypatch):
    with pytest.raises(DatasetUnavailableError) as err:
        srp.sr_crops("train", 2, root=tmp_path, download=False)
    message = str(err.value)
    assert "BSDS300" in message and str(tmp_path / "BSDS300") in message and srp.URL in message
    assert "CVLIB_PROFILE=quick" in message and "\n" not in message
    import cvlib.data.download as dl

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(dl.urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetUnavailableError, match="could not be downloaded.*no network"):
        srp.sr_crops("test", 2, root=tmp_path)


def test_folder_with_a_missing_photograph_is_refused(tmp_path):
    fullfixtures.bsds_folder(tmp_path, size=(40, 28))
    next((tmp_path / "BSDS300" / "images" / "test").glob("*.jpg")).unlink()
    for download in (False, True):
        with pytest.raises(DatasetUnavailableError) as err:
            srp.sr_crops("train", 2, size=16, root=tmp_path, download=download)
        message = str(err.value)
        assert "incomplete" in message and "test has 99 images, expected 100" in message
        assert "delete that folder" in message and "\n" not in message


def test_undecodable_photograph_fails_verification(tmp_path):
    folder = fullfixtures.bsds_folder(tmp_path, size=(40, 28))
    assert {k: len(v) for k, v in srp.verify_folder(folder).items()} == {"train": 200, "test": 100}
    (folder / "images" / "train" / "100003.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="100003.jpg is not a readable image"):
        srp.verify_folder(folder)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local HTTP server in the layout CVLIB_MIRROR expects, serving BSDS300-images.tgz in its real format."""
    archive = fullfixtures.bsds_archive(tmp_path.joinpath("served", *SERVED_PATH), size=(40, 28))
    with fullfixtures.LocalMirror(tmp_path / "served") as m:
        monkeypatch.setenv("CVLIB_MIRROR", m.url)
        m.archive = archive
        yield m


def test_download_verify_extract_through_a_local_server(tmp_path, mirror, capsys):
    data = tmp_path / "data"
    crops = srp.sr_crops("test", 5, size=16, root=data)
    assert crops.shape == (5, 3, 16, 16)
    assert mirror.requests == ["/" + "/".join(SERVED_PATH)]
    assert "sha256 " + sha256sum(mirror.archive) in capsys.readouterr().out, "the archive's SHA-256 is printed"
    assert srp.bsds_folder(data) == data / "BSDS300"
    assert srp.sr_crops("train", 3, size=16, root=data).shape == (3, 3, 16, 16)
    assert len(mirror.requests) == 1, "a complete folder is not downloaded again"


def test_archive_with_wrong_counts_is_removed(tmp_path, mirror):
    fullfixtures.bsds_archive(mirror.archive, n_train=150, size=(40, 28))
    data = tmp_path / "data"
    with pytest.raises(DatasetCorruptError, match="train has 150 images, expected 200") as err:
        srp.sr_crops("train", 2, root=data)
    assert "removed" in str(err.value) and "\n" not in str(err.value)
    assert not (data / "BSDS300").exists() and not (data / "BSDS300-images.tgz").exists()
