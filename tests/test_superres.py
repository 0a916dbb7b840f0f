"""cvlib.data.photocrops and cvlib.models.superres: disjoint full-resolution crops, and the SR network."""

import pytest
import torch
import torch.nn.functional as F

from cvlib.data.natural import box_overlap, load_source
from cvlib.data.photocrops import photo_crops
from cvlib.models.superres import SRNet


def test_photo_crops_are_the_photographs_pixels_and_deterministic():
    images, where = photo_crops("train", 6, size=32, seed=1, photos=("cat", "brick"))
    assert images.shape == (6, 3, 32, 32) and images.dtype == torch.float32
    assert 0 <= images.min() and images.max() <= 1
    name, (top, left, bottom, right) = where[1]
    assert name == "brick" and (bottom - top, right - left) == (32, 32)
    expected = torch.from_numpy(load_source("brick")[top:bottom, left:right]).permute(2, 0, 1).float() / 255
    assert torch.equal(images[1], expected)
    again, _ = photo_crops("train", 6, size=32, seed=1, photos=("cat", "brick"))
    assert torch.equal(images, again)


def test_train_and_test_crops_never_share_a_pixel():
    _, train = photo_crops("train", 40, size=24, seed=0, photos=("cat", "coffee"))
    _, test = photo_crops("test", 40, size=24, seed=0, photos=("cat", "coffee"))
    shared = sum(box_overlap(a, b) for na, a in train for nb, b in test if na == nb)
    assert shared == 0


def test_photo_crops_errors():
    with pytest.raises(ValueError, match="split"):
        photo_crops("val", 2)
    with pytest.raises(ValueError, match="coarser grid"):
        photo_crops("train", 1, size=200, photos=("cat",), grid=(8, 8))
    with pytest.raises(ValueError, match="unknown source"):
        photo_crops("train", 1, photos=("nothing",))


def test_untrained_srnet_is_exactly_bicubic_and_learns():
    torch.manual_seed(0)
    net = SRNet(scale=4, channels=8, blocks=1)
    hr = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    lr_images = F.interpolate(hr, size=(8, 8), mode="area")
    out = net(lr_images)
    assert out.shape == (4, 3, 32, 32)
    assert torch.allclose(out, F.interpolate(lr_images, scale_factor=4, mode="bicubic", align_corners=False))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    first = F.mse_loss(net(lr_images), hr).item()
    for _ in range(30):
        loss = F.mse_loss(net(lr_images), hr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first


def test_srnet_errors():
    with pytest.raises(ValueError, match="scale"):
        SRNet(scale=3)
    with pytest.raises(ValueError, match="RGB"):
        SRNet(scale=2, channels=4, blocks=0)(torch.zeros(1, 1, 8, 8))
