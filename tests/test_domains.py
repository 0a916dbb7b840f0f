import urllib.error
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from cvlib.data import DatasetUnavailableError
from cvlib.data.domains import (
    HORSE2ZEBRA_SHA256,
    DomainFolder,
    DomainImages,
    horse2zebra,
    render_scenes,
    sample_layouts,
    scene_domains,
    shape_masks,
)
from cvlib.data.download import sha256sum


def test_layouts_are_deterministic_from_the_seed():
    a, b, c = sample_layouts(20, seed=3), sample_layouts(20, seed=3), sample_layouts(20, seed=4)
    assert torch.equal(a.center, b.center) and torch.equal(a.kind, b.kind)
    assert not torch.equal(a.center, c.center)
    counts = (a.kind >= 0).sum(1)
    assert counts.min() >= 1 and counts.max() <= 3
    assert len(a[5:8]) == 3 and torch.equal(a[5:8].hue, a.hue[5:8])


def test_day_and_night_render_the_same_scene_differently():
    layouts = sample_layouts(8, seed=0)
    day, night = render_scenes(layouts, "day", size=32), render_scenes(layouts, "night", size=32)
    for img in (day, night):
        assert img.shape == (8, 3, 32, 32) and img.dtype == torch.float32
        assert img.min() >= 0 and img.max() <= 1
    assert day.mean() > 0.5 > 0.25 > night.mean()  # day is bright, night is dark
    # chunked rendering (large N) gives the same pixels as rendering one at a time
    many = sample_layouts(70, seed=1)
    assert torch.allclose(render_scenes(many, "night")[65:], render_scenes(many[65:70], "night"))
    with pytest.raises(ValueError, match="style"):
        render_scenes(layouts, "dusk")


def test_night_shapes_have_a_bright_rim():
    layouts = sample_layouts(1, seed=0)
    layouts.kind[:] = -1
    layouts.kind[0, 0] = 1  # one square in the middle
    layouts.center[0, 0] = torch.tensor([0.5, 0.4])
    layouts.radius[0, 0] = 0.2
    night = render_scenes(layouts, "night", size=32, supersample=1)[0]
    brightness = night.mean(0)
    row = brightness[12]  # a row through the square (columns 11 to 20): rim, dimmed fill, rim
    assert row[11] > 2 * row[13:19].mean() and row[20] > 2 * row[13:19].mean()  # the rim is much brighter than the fill
    assert row[11] > 2 * row[10] and row[20] > 2 * row[21]  # and than the sky beside it
    assert brightness[0, 0] < 0.1  # dark sky
    mask = shape_masks(layouts, 32)[0, 0]  # the square covers columns 11-20 and rows 7-17
    assert mask.sum() == 10 * 11 and mask[7:18, 11:21].all() and not shape_masks(layouts, 32)[0, 1:].any()


def test_scene_domains_shapes_range_pairs_and_determinism():
    d = scene_domains(n_train=40, n_test=12, size=32, seed=0)
    assert d.train_a.shape == d.train_b.shape == (40, 3, 32, 32)
    assert d.test_a.shape == d.test_b.shape == (12, 3, 32, 32)
    for x in (d.train_a, d.train_b, d.test_a, d.test_b):
        assert x.min() >= -1 and x.max() <= 1
    # the test sets are true pairs (same scenes), the training sets are different scenes
    assert torch.allclose(d.test_b, render_scenes(d.layouts[2], "night") * 2 - 1)
    assert torch.allclose(d.test_a, render_scenes(d.layouts[2], "day") * 2 - 1)
    assert not torch.allclose(d.layouts[0].center, d.layouts[1].center)
    # copying the input is far from the true translation
    assert (d.test_a - d.test_b).abs().mean() > 0.5
    again = scene_domains(n_train=40, n_test=12, size=32, seed=0)
    assert torch.equal(again.train_b, d.train_b)
    assert not torch.equal(scene_domains(n_train=40, n_test=12, seed=1).train_a, d.train_a)
    with pytest.raises(ValueError, match="multiple of 4"):
        scene_domains(size=30)


def test_domain_images_items_and_errors():
    ds = DomainImages(torch.zeros(5, 3, 8, 8), domain=1, transform=lambda t: t + 1)
    x, y = ds[2]
    assert len(ds) == 5 and y == 1 and x.shape == (3, 8, 8) and x.max() == 1
    with pytest.raises(ValueError, match="domain"):
        DomainImages(torch.zeros(5, 3, 8, 8), domain=2)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        DomainImages(torch.zeros(5, 8, 8), domain=0)


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
