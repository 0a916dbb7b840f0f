"""The generated day/night domains of lesson 06's quick profile (cvlib.data.domains)."""

import pytest
import torch

from cvlib.data.domains import (
    DomainImages,
    render_scenes,
    sample_layouts,
    scene_domains,
    shape_masks,
)


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
    assert day.mean() > 0.5 and night.mean() < 0.25  # day is bright, night is dark
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
