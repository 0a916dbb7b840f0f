"""cvlib.data.pets: Oxford-IIIT Pet segmentation read from a fixture in the real on-disk layout."""

import urllib.error

import fullfixtures
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from cvlib.data import DatasetUnavailableError, pets
from cvlib.data.download import DatasetCorruptError
from cvlib.data.pets import PetSegmentation


@pytest.fixture
def root(tmp_path):
    fullfixtures.pets_folder(tmp_path)  # 12 trainval + 8 test images, 40x32
    return tmp_path


def test_items_have_the_documented_shapes_dtypes_and_values(root):
    ds = PetSegmentation(root=root, size=48, download=False)
    assert len(ds) == 12 and ds.split == "trainval"
    labels = set()
    for image, mask in ds:
        assert image.shape == (3, 48, 48) and image.dtype == torch.float32
        assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
        assert mask.shape == (48, 48) and mask.dtype == torch.int64
        labels |= set(mask.unique().tolist())
    assert labels == {0, 1, 255}
    assert (ds.classes, ds.stuff_classes, ds.thing_classes, ds.ignore_index) == (("background", "pet"), (0,), (1,), 255)


def test_trimap_codes_map_to_labels_exactly_at_native_size(tmp_path):
    folder = fullfixtures.pets_folder(tmp_path, size=(32, 32))
    ds = PetSegmentation(root=tmp_path, size=32, download=False)
    image, mask = ds[3]
    trimap = np.asarray(Image.open(folder / "annotations" / "trimaps" / f"{ds.ids[3]}.png"))
    expected = np.select([trimap == 1, trimap == 2, trimap == 3], [1, 0, 255], -1)
    assert torch.equal(mask, torch.from_numpy(expected))
    photo = np.array(Image.open(folder / "images" / f"{ds.ids[3]}.jpg"))
    assert torch.allclose(image, torch.from_numpy(photo).permute(2, 0, 1).float() / 255)


def test_image_and_mask_stay_aligned_when_resized(root):
    for size in (16, 96):  # down and up from 40x32
        image, mask = PetSegmentation(root=root, size=size, download=False)[0]
        red_pet = image[0][mask == 1].mean()  # the fixture's pet is an orange blob on dark noise
        red_background = image[0][mask == 0].mean()
        assert red_pet > 0.7 and red_background < 0.35


def test_mask_is_resized_with_nearest_neighbour(root):
    # 40 wide x 32 high: columns 0-9 border, then the top half pet and the bottom half background
    codes = np.full((32, 40), 2, dtype=np.uint8)
    codes[:16] = 1
    codes[:, :10] = 3
    ds = PetSegmentation(root=root, size=16, download=False)
    Image.fromarray(codes).save(ds.folder / "annotations" / "trimaps" / f"{ds.ids[0]}.png")
    mask = ds[0][1]
    assert set(mask.unique().tolist()) == {0, 1, 255}  # nothing interpolated in between
    assert (mask[:, :4] == 255).all() and (mask[:8, 4:] == 1).all() and (mask[8:, 4:] == 0).all()


def test_splits_and_limit_take_the_first_items_in_file_order(root):
    test = PetSegmentation("test", size=24, root=root, download=False)
    full = PetSegmentation("trainval", size=24, root=root, download=False)
    assert len(test) == 8 and not set(test.ids) & set(full.ids)
    listed = (root / "oxford-iiit-pet" / "annotations" / "test.txt").read_text().split()[::4]
    assert test.ids == listed
    five = PetSegmentation(size=24, root=root, download=False, limit=5)
    assert five.ids == full.ids[:5] and len(five) == 5
    for i in (0, 4, -1):
        assert all(torch.equal(a, b) for a, b in zip(five[i], full[i % 5]))
    assert len(PetSegmentation(size=24, root=root, download=False, limit=100)) == 12
    with pytest.raises(IndexError):
        five[5]


def test_batches_from_a_dataloader(root):
    images, masks = next(iter(DataLoader(PetSegmentation(root=root, size=32, download=False), batch_size=4)))
    assert images.shape == (4, 3, 32, 32) and masks.shape == (4, 32, 32) and masks.dtype == torch.int64


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "train"}, "split must be one of 'trainval', 'test'"),
        ({"size": 0}, "size=0"),
        ({"size": 64.0}, "size=64.0"),
        ({"size": True}, "size=True"),
        ({"limit": 0}, "limit=0"),
        ({"limit": 2.5}, "limit=2.5"),
    ],
)
def test_bad_arguments_are_one_clear_line(root, kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        PetSegmentation(root=root, download=False, **kwargs)
    assert "\n" not in str(err.value)


def test_missing_dataset_offline_names_folder_and_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(DatasetUnavailableError) as err:
        PetSegmentation(root=tmp_path, download=False)
    message = str(err.value)
    assert str(tmp_path / "oxford-iiit-pet") in message and "images.tar.gz" in message
    assert "CVLIB_PROFILE=quick" in message and "\n" not in message

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("torchvision.datasets.oxford_iiit_pet.download_and_extract_archive", no_network)
    with pytest.raises(DatasetUnavailableError, match="URLError: <urlopen error no network>"):
        PetSegmentation(root=tmp_path, download=True)


def test_download_goes_through_torchvision(tmp_path, monkeypatch):
    calls = []

    def fake_download(url, download_root, md5=None, **kwargs):
        calls.append(url.rsplit("/", 1)[-1])
        if len(calls) == 2:  # both archives "extracted": the fixture's layout
            fullfixtures.pets_folder(tmp_path)

    monkeypatch.setattr("torchvision.datasets.oxford_iiit_pet.download_and_extract_archive", fake_download)
    ds = PetSegmentation(root=tmp_path, size=16)
    assert calls == ["images.tar.gz", "annotations.tar.gz"] and len(ds) == 12 and ds[0][1].shape == (16, 16)
    PetSegmentation(root=tmp_path, size=16)  # on disk now: nothing downloaded again
    assert len(calls) == 2


def test_incomplete_download_is_removed(tmp_path, monkeypatch):
    folder = tmp_path / "oxford-iiit-pet"

    def half_download(url, download_root, md5=None, **kwargs):
        (folder / "images").mkdir(parents=True, exist_ok=True)
        (folder / "annotations").mkdir(exist_ok=True)  # no trimaps/
        (folder / url.rsplit("/", 1)[-1]).write_bytes(b"archive")

    monkeypatch.setattr("torchvision.datasets.oxford_iiit_pet.download_and_extract_archive", half_download)
    with pytest.raises(DatasetCorruptError, match="trimaps is missing.*were removed") as err:
        PetSegmentation(root=tmp_path)
    assert "\n" not in str(err.value)
    assert not any(folder.iterdir())


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (
            lambda f: (f / "annotations" / "trimaps" / "Bengal_3.png").unlink(),
            r"1 of the 12 .* no trimap .*Bengal_3.png",
        ),
        (lambda f: (f / "images" / "beagle_4.jpg").unlink(), r"no image .*beagle_4.jpg"),
        (lambda f: (f / "annotations" / "trainval.txt").unlink(), r"trainval.txt .* is missing"),
        (
            lambda f: (f / "annotations" / "trainval.txt").write_text("Abyssinian_1 1 1\n"),
            "line 1 is 'Abyssinian_1 1 1'",
        ),
        (lambda f: (f / "annotations" / "trainval.txt").write_text("Abyssinian_1 1 cat 1\n"), "line 1 is"),
        (lambda f: (f / "annotations" / "trainval.txt").write_text(""), "lists no images"),
    ],
    ids=["trimap", "image", "split-file", "three-fields", "not-a-number", "empty-split"],
)
def test_incomplete_folder_on_disk_says_what_is_missing_and_what_to_do(root, damage, match):
    folder = root / "oxford-iiit-pet"
    damage(folder)
    with pytest.raises(DatasetUnavailableError, match=match) as err:
        PetSegmentation(root=root, download=True)  # on disk: never downloads, never deletes
    assert "delete that folder" in str(err.value) and "\n" not in str(err.value)
    assert (folder / "images").is_dir() and (folder / "annotations").is_dir()


def test_missing_trimaps_folder_is_named(root):
    import shutil

    shutil.rmtree(root / "oxford-iiit-pet" / "annotations" / "trimaps")
    with pytest.raises(DatasetUnavailableError, match="trimaps is missing"):
        PetSegmentation(root=root, download=False)


def test_bad_trimap_files_give_clear_errors(root):
    ds = PetSegmentation(root=root, size=16, download=False)
    trimap = ds.folder / "annotations" / "trimaps" / f"{ds.ids[1]}.png"
    Image.fromarray(np.zeros((32, 40), dtype=np.uint8)).save(trimap)
    with pytest.raises(ValueError, match=rf"trimap {ds.ids[1]}.png holds values \[0\]"):
        ds[1]
    Image.fromarray(np.full((10, 10), 2, dtype=np.uint8)).save(trimap)
    with pytest.raises(ValueError, match="must have its photo's size"):
        ds[1]


def test_default_root_is_the_data_folder(root, monkeypatch):
    monkeypatch.setenv("CVLIB_DATA", str(root))
    assert PetSegmentation(download=False).folder == root / pets.FOLDER_NAME


def test_fixture_is_what_torchvision_reads(root):
    from torchvision.datasets import OxfordIIITPet

    raw = OxfordIIITPet(root, split="test", target_types="segmentation", download=False)
    photo, trimap = raw[0]
    assert len(raw) == 8 and photo.size == trimap.size == (40, 32)
    assert set(np.unique(np.asarray(trimap)).tolist()) == {1, 2, 3}
