import hashlib
import urllib.error
import zipfile

import fullfixtures
import numpy as np
import pytest
import torch
from PIL import Image

from cvlib.data import DatasetUnavailableError
from cvlib.data.download import DatasetCorruptError
from cvlib.data.pennfudan import PENNFUDAN_MD5, PennFudanDataset, pennfudan


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
    import cvlib.data.download as dl

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(dl.urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetUnavailableError) as err:
        pennfudan(tmp_path)
    message = str(err.value)
    assert "Penn-Fudan" in message and str(tmp_path / "PennFudanPed") in message and "CVLIB_PROFILE=quick" in message
    assert "\n" not in message
    with pytest.raises(DatasetUnavailableError, match="PennFudanPed.zip"):
        pennfudan(tmp_path, download=False)


def zip_folder(folder, archive):
    """``folder`` zipped with its own name as the top-level directory, like the official archive."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder.parent).as_posix())
    return archive


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """The official URL served by a local HTTP server (CVLIB_MIRROR) with a fixture archive in the real layout."""
    served = tmp_path / "served"
    archive = served / "www.cis.upenn.edu" / "~jshi" / "ped_html" / "PennFudanPed.zip"
    zip_folder(write_fixture(tmp_path / "src", [((40, 30), 2), ((36, 50), 1)]), archive)
    with fullfixtures.LocalMirror(served) as m:
        monkeypatch.setenv("CVLIB_MIRROR", m.url)
        m.archive = archive
        yield m


def md5_of(path):
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def test_download_checks_md5_extracts_and_loads_through_a_local_server(tmp_path, mirror):
    root = tmp_path / "data"
    ds = pennfudan(root, md5=md5_of(mirror.archive))
    assert mirror.requests == ["/www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip"]
    assert len(ds) == 2 and [len(ds[i][1]["labels"]) for i in range(2)] == [2, 1]
    assert (root / "PennFudanPed" / "Annotation").is_dir()
    pennfudan(root, md5=md5_of(mirror.archive))
    assert len(mirror.requests) == 1, "a dataset on disk is not downloaded again"


def test_md5_mismatch_removes_the_file(tmp_path, mirror):
    root = tmp_path / "data"
    with pytest.raises(ValueError, match="checksum mismatch.*expected md5"):
        pennfudan(root)  # the fixture is not the official archive: its MD5 differs from PENNFUDAN_MD5
    assert not list(root.glob("PennFudanPed*")) and not list(root.glob("*.part"))
    assert len(PENNFUDAN_MD5) == 32 and int(PENNFUDAN_MD5, 16) >= 0


def test_archive_without_masks_is_removed_and_the_next_run_downloads_again(tmp_path, mirror):
    good = mirror.archive.read_bytes()
    broken = tmp_path / "broken" / "PennFudanPed"
    (broken / "PNGImages").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(broken / "PNGImages" / "FudanPed00001.png")
    zip_folder(broken, mirror.archive)  # the host serves an archive without PedMasks/
    root = tmp_path / "data"
    with pytest.raises(DatasetCorruptError, match="PedMasks"):
        pennfudan(root, md5=md5_of(mirror.archive))
    assert not (root / "PennFudanPed").exists() and not (root / "PennFudanPed.zip").exists()
    mirror.archive.write_bytes(good)
    assert len(pennfudan(root, md5=md5_of(mirror.archive))) == 2
    assert len(mirror.requests) == 2
