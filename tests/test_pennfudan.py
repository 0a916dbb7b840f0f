import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image

from cvlib.data import DatasetUnavailableError
from cvlib.data.pennfudan import PennFudanDataset, pennfudan


def write_fixture(root, sizes_and_people):
    """A tiny PennFudanPed folder in the real layout: RGB PNGs + palette masks with ids 1..k."""
    folder = root / "PennFudanPed"
    (folder / "PNGImages").mkdir(parents=True)
    (folder / "PedMasks").mkdir()
    (folder / "Annotation").mkdir()
    rng = np.random.default_rng(0)
    for i, ((h, w), people) in enumerate(sizes_and_people, start=1):
        name = f"FudanPed{i:05d}"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(folder / "PNGImages" / f"{name}.png")
        ids = np.zeros((h, w), dtype=np.uint8)
        for k in range(1, people + 1):
            ids[5 : 5 + 10 * k, 4 * k : 4 * k + 3] = k  # person k: a 3-px wide, 10k-px tall stripe
        mask = Image.fromarray(ids)  # putpalette turns the "L" image into a palette ("P") PNG, like the originals
        mask.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
        mask.save(folder / "PedMasks" / f"{name}_mask.png")
        (folder / "Annotation" / f"{name}.txt").write_text("# PASCAL Annotation Version 1.00\n")
    return folder


def test_fixture_loads_with_right_instances(tmp_path):
    folder = write_fixture(tmp_path, [((40, 30), 2), ((36, 50), 1), ((45, 45), 3)])
    ds = pennfudan(tmp_path, download=False)
    assert isinstance(ds, PennFudanDataset) and len(ds) == 3 and ds.classes == ("person",)
    counts = [len(ds[i][1]["labels"]) for i in range(3)]
    assert counts == [2, 1, 3]
    image, target = ds[2]
    assert image.shape == (3, 45, 45) and target["masks"].shape == (3, 45, 45)
    assert target["labels"].tolist() == [1, 1, 1] and target["image_id"] == 2
    # person k: columns 4k..4k+2, rows 5..5+10k-1 -> box (4k, 5, 4k+3, 5+10k)
    assert target["boxes"].tolist() == [[4.0 * k, 5.0, 4.0 * k + 3, 5.0 + 10 * k] for k in (1, 2, 3)]
    assert torch.equal(target["masks"].sum(dim=(1, 2)), torch.tensor([30, 60, 90]))
    assert ds.aspect_ratios() == pytest.approx([30 / 40, 50 / 36, 1.0])
    assert PennFudanDataset(folder).images[0].name == "FudanPed00001.png"


def test_bad_fixtures_give_clear_errors(tmp_path):
    folder = write_fixture(tmp_path, [((40, 30), 1), ((20, 20), 1)])
    Image.fromarray(np.zeros((10, 10), dtype=np.uint8)).save(folder / "PedMasks" / "FudanPed00002_mask.png")
    with pytest.raises(ValueError, match="must have its image's size"):
        PennFudanDataset(folder)[1]
    (folder / "PedMasks" / "FudanPed00002_mask.png").unlink()
    with pytest.raises(FileNotFoundError, match="no mask"):
        PennFudanDataset(folder)
    with pytest.raises(FileNotFoundError, match="PNGImages"):
        PennFudanDataset(tmp_path)


def test_offline_error_names_dataset_and_folder(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", no_network)
    with pytest.raises(DatasetUnavailableError) as err:
        pennfudan(tmp_path)
    message = str(err.value)
    assert "Penn-Fudan" in message and str(tmp_path / "PennFudanPed") in message and "CVLIB_PROFILE=quick" in message
    assert "\n" not in message
    with pytest.raises(DatasetUnavailableError, match="PennFudanPed.zip"):
        pennfudan(tmp_path, download=False)
