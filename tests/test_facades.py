"""CMP Facades, lesson 10's full-profile pix2pix dataset (cvlib.data.facades), on tiny fakes in its real format."""

import urllib.error

import fullfixtures
import numpy as np
import pytest
import torch
from PIL import Image

from cvlib.data import DatasetUnavailableError
from cvlib.data import facades as fac
from cvlib.data.download import DatasetCorruptError, sha256sum

SERVED_PATH = ("efrosgans.eecs.berkeley.edu", "pix2pix", "datasets", "facades.tar.gz")


@pytest.fixture
def root(tmp_path):
    """<tmp>/facades/{train,val,test}/N.jpg with the real counts, 64x32 pairs (photo left, label map right)."""
    fullfixtures.facades_folder(tmp_path, size=32)
    return tmp_path


def _halves(path):
    pixels = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float() / 255
    return pixels[..., :32], pixels[..., 32:]  # photo, label map


def test_items_are_label_map_then_photo_in_0_1(root):
    val = fac.facades("val", size=32, root=root, download=False)
    assert len(val) == 100 and not val.jitter
    assert [p.name for p in val.files[8:11]] == ["9.jpg", "10.jpg", "11.jpg"], "numeric file order"
    source, target = val[9]
    assert source.shape == target.shape == (3, 32, 32)
    assert source.dtype == target.dtype == torch.float32 and type(source) is torch.Tensor
    assert 0 <= float(source.min()) and float(target.max()) <= 1
    photo, label = _halves(val.files[9])
    assert torch.allclose(source, label, atol=1e-6) and torch.allclose(target, photo, atol=1e-6)
    assert source[2].mean() > source[0].mean() + 0.3, "source = the right half, the blue-ish label map"
    assert target[0].mean() > target[2].mean() + 0.2, "target = the left half, the red-ish photograph"
    small_source, small_target = fac.facades("test", size=16, root=root, download=False)[0]
    assert small_source.shape == small_target.shape == (3, 16, 16)
    assert torch.equal(val[3][0], val[3][0]), "no randomness without jitter"


def test_splits_sizes_and_default_jitter(root):
    train = fac.facades("train", size=24, root=root, download=False)
    assert len(train) == 400 and train.jitter
    assert not fac.facades("train", size=24, train=False, root=root, download=False).jitter
    assert fac.facades("test", size=24, train=True, root=root, download=False).jitter
    assert len(fac.facades("test", root=root, download=False)) == 106


def test_jitter_crops_and_flips_both_halves_alike():
    torch.manual_seed(0)
    half = torch.randint(0, 256, (3, 20, 20), dtype=torch.uint8)
    pair = torch.stack([half, half])
    jitter, plain = fac.pair_transform(16, jitter=True), fac.pair_transform(16, jitter=False)
    outs = [jitter(pair) for _ in range(12)]
    assert all(o.shape == (2, 3, 16, 16) and o.dtype == torch.float32 for o in outs)
    assert all(torch.equal(o[0], o[1]) for o in outs), "one crop and one flip for both halves"
    assert len({o[0].sum().item() for o in outs}) > 1, "the jitter is random"
    assert not any(torch.equal(o[0], plain(pair)[0]) for o in outs), "jitter resizes to 286/256 first"


def test_jittered_pairs_stay_aligned(root):
    torch.manual_seed(1)
    train = fac.facades("train", size=32, root=root, download=False)
    for i in range(8):
        source, target = train[i]
        window = (source[1] > 0.5) & (source[0] < 0.2)  # label colour (0, 170, 255)
        wall = (source[2] > 0.7) & (source[1] < 0.25) & (source[0] < 0.15)  # label colour (10, 30, 220)
        assert window.sum() >= 4 and wall.sum() >= 100
        assert target[0][window].mean() < 0.45, "the photo's dark window lies under the label's window"
        assert target[0][wall].mean() > 0.6, "the photo's red brick lies under the label's wall"


def test_bad_arguments_say_what_to_do(root):
    with pytest.raises(ValueError, match="split must be one of 'train', 'val', 'test', got 'valid'"):
        fac.facades("valid", root=root)
    with pytest.raises(ValueError, match="size=0 is not allowed"):
        fac.facades("train", size=0, root=root)
    with pytest.raises(ValueError, match="train must be True, False or None"):
        fac.facades("train", train="yes", root=root)


def test_missing_folder_offline_names_dataset_folder_and_remedy(tmp_path, monkeypatch):
    with pytest.raises(DatasetUnavailableError) as err:
        fac.facades("train", root=tmp_path, download=False)
    message = str(err.value)
    assert "CMP Facades" in message and str(tmp_path / "facades") in message and fac.URL in message
    assert "CVLIB_PROFILE=quick" in message and "\n" not in message
    import cvlib.data.download as dl

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(dl.urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetUnavailableError, match="could not be downloaded.*no network"):
        fac.facades("val", root=tmp_path)


def test_folder_with_a_missing_image_is_refused(root):
    (root / "facades" / "train" / "7.jpg").unlink()
    for download in (False, True):  # a folder on disk is never silently re-downloaded over
        with pytest.raises(DatasetUnavailableError) as err:
            fac.facades("val", root=root, download=download)
        message = str(err.value)
        assert "incomplete" in message and "train has 399 images, expected 400" in message
        assert "delete that folder" in message and "\n" not in message


def test_pair_that_is_not_two_halves_is_refused(root):
    path = root / "facades" / "val" / "1.jpg"
    Image.new("RGB", (32, 32), (0, 0, 255)).save(path)
    with pytest.raises(ValueError, match="1.jpg is 32x32 px.*width = 2 x height"):
        fac.facades("val", root=root, download=False)[0]
    with pytest.raises(ValueError, match="1.jpg is 32x32 px, expected two square halves"):
        fac.verify_folder(root / "facades")
    path.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="1.jpg is not a readable image"):
        fac.verify_folder(root / "facades")


def test_empty_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no images"):
        fac.FacadesPairs(tmp_path)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local HTTP server in the layout CVLIB_MIRROR expects, serving facades.tar.gz in its real format."""
    archive = fullfixtures.facades_archive(tmp_path.joinpath("served", *SERVED_PATH), size=16)
    with fullfixtures.LocalMirror(tmp_path / "served") as m:
        monkeypatch.setenv("CVLIB_MIRROR", m.url)
        m.archive = archive
        yield m


def test_download_verify_extract_through_a_local_server(tmp_path, mirror, capsys):
    data = tmp_path / "data"
    test = fac.facades("test", size=16, root=data)
    assert mirror.requests == ["/" + "/".join(SERVED_PATH)]
    assert "sha256 " + sha256sum(mirror.archive) in capsys.readouterr().out, "the archive's SHA-256 is printed"
    assert len(test) == 106 and test[105][0].shape == (3, 16, 16)
    assert fac.facades_folder(data) == data / "facades"
    assert len(fac.facades("train", size=16, root=data)) == 400
    assert len(mirror.requests) == 1, "a complete folder is not downloaded again"


def test_archive_with_wrong_counts_is_removed(tmp_path, mirror):
    fullfixtures.facades_archive(mirror.archive, n_val=99, size=16)
    data = tmp_path / "data"
    with pytest.raises(DatasetCorruptError, match="val has 99 images, expected 100") as err:
        fac.facades("train", root=data)
    assert "removed" in str(err.value) and "\n" not in str(err.value)
    assert not (data / "facades").exists() and not (data / "facades.tar.gz").exists()
