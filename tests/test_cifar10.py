"""CIFAR-10 for lesson 11's full profile (cvlib.data.cifar10), on tiny fakes in its real pickle format."""

import hashlib
import pickle
import urllib.error

import fullfixtures
import pytest
import torch

from cvlib.data import DatasetUnavailableError
from cvlib.data import cifar10 as c10
from cvlib.data.download import DatasetCorruptError

SERVED_PATH = ("www.cs.toronto.edu", "~kriz", "cifar-10-python.tar.gz")


@pytest.fixture
def root(tmp_path):
    """<tmp>/cifar-10-batches-py/ with 20 images per batch: 100 training, 20 test images."""
    fullfixtures.cifar10_folder(tmp_path, n_per_batch=20)
    return tmp_path


def _raw(root, name):
    with open(root / "cifar-10-batches-py" / name, "rb") as f:
        return pickle.load(f, encoding="latin1")


def test_tensors_hold_the_batches_rows_as_rgb_planes(root):
    images, labels = c10.cifar10_tensors("train", root=root, download=False)
    assert images.shape == (100, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.shape == (100,) and labels.dtype == torch.int64
    batch = _raw(root, "data_batch_2")
    row, label = batch["data"][7], batch["labels"][7]
    assert int(labels[20 + 7]) == label, "file order: batch 1's 20 images, then batch 2's"
    channel, y, x = 2, 5, 9  # blue plane, row 5, column 9
    assert int(images[27, channel, y, x]) == int(row[channel * 1024 + y * 32 + x])
    assert torch.equal(images[27], torch.from_numpy(row).reshape(3, 32, 32))
    assert labels.tolist() == [c for i in range(1, 6) for c in _raw(root, f"data_batch_{i}")["labels"]]
    for c, tint in enumerate(fullfixtures.CIFAR10_TINTS):  # class c is tinted (R, G, B): channel 0 is red
        mean = images[labels == c].float().mean(dim=(0, 2, 3))
        assert torch.allclose(mean, torch.tensor(tint, dtype=torch.float32), atol=6), (c, mean)
    test_images, test_labels = c10.cifar10_tensors("test", root=root, download=False)
    assert test_images.shape == (20, 3, 32, 32) and test_labels.tolist() == _raw(root, "test_batch")["labels"]
    assert torch.bincount(labels, minlength=10).tolist() == [10] * 10
    assert c10.CLASSES == tuple(_raw(root, "batches.meta")["label_names"]) and c10.CLASSES[3] == "cat"
    assert c10.verify_folder(root / "cifar-10-batches-py") == {"train": 100, "test": 20}


def test_fixture_batches_are_python2_pickles_like_the_real_ones(root):
    raw = (root / "cifar-10-batches-py" / "data_batch_1").read_bytes()
    assert raw[:2] == b"\x80\x02" and b"numpy.core.multiarray" in raw, "protocol 2, NumPy as Python 2 named it"
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(raw)  # the real batches need encoding="latin1" too
    assert set(pickle.loads(raw, encoding="bytes")) == {b"batch_label", b"labels", b"data", b"filenames"}


def test_bad_split_says_what_to_use(root):
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        c10.cifar10_tensors("val", root=root)


def test_missing_folder_offline_names_dataset_folder_and_remedy(tmp_path, monkeypatch):
    with pytest.raises(DatasetUnavailableError) as err:
        c10.cifar10_tensors("train", root=tmp_path, download=False)
    message = str(err.value)
    assert "CIFAR-10" in message and str(tmp_path / "cifar-10-batches-py") in message and c10.URL in message
    assert "CVLIB_PROFILE=quick" in message and "\n" not in message
    import cvlib.data.download as dl

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(dl.urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetUnavailableError, match="could not be downloaded.*no network"):
        c10.cifar10_tensors("test", root=tmp_path)


def test_folder_missing_a_batch_is_refused(root):
    (root / "cifar-10-batches-py" / "data_batch_4").unlink()
    for download in (False, True):  # a folder on disk is never silently re-downloaded over
        with pytest.raises(DatasetUnavailableError) as err:
            c10.cifar10_tensors("test", root=root, download=download)
        message = str(err.value)
        assert "incomplete (data_batch_4 missing)" in message and "delete that folder" in message
        assert "\n" not in message


def _rewrite(root, name, change):
    path = root / "cifar-10-batches-py" / name
    content = _raw(root, name)
    path.write_bytes(fullfixtures.py2_pickle(change(content)) if callable(change) else change)


MALFORMED = {
    "not a pickle": ("data_batch_3", b"not a pickle", "data_batch_3 is not a readable CIFAR-10 pickle"),
    "no labels": ("test_batch", lambda b: {"data": b["data"]}, "test_batch is not a CIFAR-10 batch"),
    "short rows": (
        "data_batch_1",
        lambda b: {**b, "data": b["data"][:, :-1]},
        r"data_batch_1: 'data' is uint8 \(20, 3071\), expected \(n, 3072\) uint8",
    ),
    "float pixels": ("data_batch_5", lambda b: {**b, "data": b["data"] / 255.0}, "'data' is float64"),
    "labels too few": ("data_batch_2", lambda b: {**b, "labels": b["labels"][:-1]}, "expected 20 integers"),
    "label 10": (
        "test_batch",
        lambda b: {**b, "labels": [10, *b["labels"][1:]]},
        r"test_batch: labels range 0\.\.10, expected 0\.\.9",
    ),
    "unequal batches": (
        "data_batch_5",
        lambda b: {**b, "data": b["data"][:19], "labels": b["labels"][:19]},
        "training batches differ in size.*data_batch_5 19 images",
    ),
    "wrong classes": ("batches.meta", lambda m: {**m, "label_names": m["label_names"][:9]}, "'label_names' is"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_file_is_refused_in_one_line(root, case):
    name, change, expected = MALFORMED[case]
    _rewrite(root, name, change)
    split = "test" if name == "test_batch" else "train"
    with pytest.raises(DatasetUnavailableError, match=expected) as err:
        c10.cifar10_tensors(split, root=root, download=False)
    message = str(err.value)
    assert "incomplete" in message and "delete that folder" in message and "\n" not in message
    with pytest.raises(ValueError, match=expected):
        c10.verify_folder(root / "cifar-10-batches-py")


def _labels(per_class=500, seed=0):
    return torch.arange(10).repeat_interleave(per_class)[
        torch.randperm(10 * per_class, generator=torch.Generator().manual_seed(seed))
    ]


@pytest.mark.parametrize("n_labelled", [250, 4000])
def test_labelled_split_is_balanced_disjoint_complete(n_labelled):
    labels = _labels()
    labelled, unlabelled = c10.labelled_split(labels, n_labelled, seed=3)
    assert labelled.dtype == unlabelled.dtype == torch.int64
    assert len(labelled) == n_labelled and len(unlabelled) == 5000 - n_labelled
    assert torch.bincount(labels[labelled], minlength=10).tolist() == [n_labelled // 10] * 10
    assert torch.equal(torch.sort(torch.cat([labelled, unlabelled])).values, torch.arange(5000))
    assert torch.equal(labelled, labelled.sort().values) and torch.equal(unlabelled, unlabelled.sort().values)


def test_labelled_split_is_deterministic_from_the_seed():
    labels = _labels()
    first, rest = c10.labelled_split(labels, 250, seed=1)
    again, rest_again = c10.labelled_split(labels.to(torch.int32), 250, 1)
    assert torch.equal(first, again) and torch.equal(rest, rest_again)
    assert not torch.equal(first, c10.labelled_split(labels, 250, seed=2)[0])
    assert torch.equal(labels, _labels()), "the labels are not changed"


def test_labelled_split_on_the_fixture(root):
    _, labels = c10.cifar10_tensors("train", root=root, download=False)
    labelled, unlabelled = c10.labelled_split(labels, 40)
    assert torch.bincount(labels[labelled], minlength=10).tolist() == [4] * 10 and len(unlabelled) == 60


def test_labelled_split_errors_say_what_to_do():
    labels = _labels(per_class=30)
    with pytest.raises(ValueError, match="n_labelled=255 is not divisible by the 10 classes.*250 or 4000"):
        c10.labelled_split(labels, 255)
    with pytest.raises(ValueError, match="n_labelled=0 is not allowed"):
        c10.labelled_split(labels, 0)
    with pytest.raises(ValueError, match=r"class 3 \(cat\) has 5 images, fewer than the 10 per class"):
        c10.labelled_split(torch.cat([labels[labels != 3], torch.full((5,), 3)]), 100)
    with pytest.raises(ValueError, match="labels all 300 images: leave some unlabelled"):
        c10.labelled_split(labels, 300)
    with pytest.raises(ValueError, match=r"labels range 0\.\.10"):
        c10.labelled_split(torch.cat([labels, torch.tensor([10])]), 10)
    for bad in (labels.float(), labels.reshape(10, 30), torch.zeros(0, dtype=torch.long), labels.tolist()):
        with pytest.raises(ValueError, match="labels must be a non-empty 1-D integer tensor"):
            c10.labelled_split(bad, 10)
    with pytest.raises(ValueError, match="seed=-1 is not allowed"):
        c10.labelled_split(labels, 10, seed=-1)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local HTTP server in the layout CVLIB_MIRROR expects, serving cifar-10-python.tar.gz in its real format."""
    archive = fullfixtures.cifar10_archive(tmp_path.joinpath("served", *SERVED_PATH), n_per_batch=10)
    with fullfixtures.LocalMirror(tmp_path / "served") as m:
        monkeypatch.setenv("CVLIB_MIRROR", m.url)
        m.archive = archive
        yield m


def _md5(path):
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def test_download_checks_md5_extracts_and_verifies(tmp_path, mirror, monkeypatch):
    assert c10.MD5 == "c58f30108f718f92721af3b95e74349a", "the published MD5, as torchvision pins it"
    assert c10.URL == "https://" + "/".join(SERVED_PATH)
    monkeypatch.setattr(c10, "MD5", _md5(mirror.archive))  # a fixture cannot have the real archive's MD5
    data = tmp_path / "data"
    images, labels = c10.cifar10_tensors("test", root=data)
    assert mirror.requests == ["/" + "/".join(SERVED_PATH)]
    assert images.shape == (10, 3, 32, 32) and labels.shape == (10,)
    assert (data / "cifar-10-python.tar.gz").is_file() and (data / "cifar-10-batches-py" / "readme.html").is_file()
    expected = fullfixtures.cifar10_folder(tmp_path / "direct", n_per_batch=10)
    assert torch.equal(images, c10.cifar10_tensors("test", root=expected.parent, download=False)[0])
    assert c10.cifar10_tensors("train", root=data)[0].shape == (50, 3, 32, 32)
    assert len(mirror.requests) == 1, "a complete folder is not downloaded again"


def test_wrong_md5_stops_the_download(tmp_path, mirror):
    data = tmp_path / "data"
    with pytest.raises(ValueError, match=f"checksum mismatch.*expected md5 {c10.MD5}, got {_md5(mirror.archive)}"):
        c10.cifar10_tensors("train", root=data)
    assert not (data / "cifar-10-batches-py").exists() and not list(data.glob("cifar-10-python.tar.gz*"))


def test_archive_failing_verification_is_removed(tmp_path, mirror, monkeypatch):
    files = [(n, b) for n, b in fullfixtures._cifar10_files(10, 0) if not n.endswith("test_batch")]
    fullfixtures.write_tar_gz(mirror.archive, files)
    monkeypatch.setattr(c10, "MD5", _md5(mirror.archive))
    data = tmp_path / "data"
    with pytest.raises(DatasetCorruptError, match="test_batch missing") as err:
        c10.cifar10_tensors("train", root=data)
    assert "removed" in str(err.value) and "\n" not in str(err.value)
    assert not (data / "cifar-10-batches-py").exists() and not (data / "cifar-10-python.tar.gz").exists()
