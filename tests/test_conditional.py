"""cvlib.conditional and cvlib.models.pix2pix: the pix2pix generator and step, sharpness and fidelity measures."""

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from cvlib.conditional import bicubic_resize, gradient_energy, pix2pix_step, psnr, ssim
from cvlib.models.cyclegan import PatchDiscriminator
from cvlib.models.pix2pix import UNetGenerator


def test_unet_generator_shapes_range_and_depth():
    g = UNetGenerator(1, 3, ngf=8, depth=4).eval()
    x = torch.rand(2, 1, 32, 48) * 2 - 1
    with torch.no_grad():
        y = g(x)
    assert y.shape == (2, 3, 32, 48)
    assert y.min() >= -1 and y.max() <= 1
    convs = [m for m in g.down if isinstance(m[0], torch.nn.Conv2d)]
    assert len(convs) == 4  # 32 -> 16 -> 8 -> 4 -> 2


def test_unet_generator_skips_carry_fine_detail():
    """The output at a pixel depends on the input pixel through the skip: a one-pixel change moves it."""
    torch.manual_seed(0)
    g = UNetGenerator(1, 1, ngf=8, depth=3, dropout=0.0).eval()
    x = torch.zeros(1, 1, 16, 16, requires_grad=True)
    g(x)[0, 0, 5, 5].backward()
    grad = x.grad[0, 0].abs()
    # the outermost skip gives each output pixel a short, local path from its own neighbourhood (the 2 x 2
    # bottleneck sees everything, weakly): the gradient is strongest near the pixel itself
    assert grad[4:7, 4:7].mean() > 3 * grad.mean()


def test_unet_generator_dropout_only_in_the_innermost_decoder_blocks():
    g = UNetGenerator(3, 3, ngf=8, depth=8)
    with_dropout = [i for i, block in enumerate(g.up) if any(isinstance(m, torch.nn.Dropout) for m in block)]
    assert with_dropout == [0, 1, 2]


def test_unet_generator_errors():
    with pytest.raises(ValueError, match="depth"):
        UNetGenerator(depth=1)
    with pytest.raises(ValueError, match="divisible"):
        UNetGenerator(3, 3, ngf=4, depth=3)(torch.zeros(1, 3, 20, 16))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        UNetGenerator(3, 3, ngf=4, depth=3)(torch.zeros(1, 1, 16, 16))


def _pair(seed=0):
    g = torch.Generator().manual_seed(seed)
    source = torch.rand(4, 1, 16, 16, generator=g) * 2 - 1
    return source, source.repeat(1, 3, 1, 1).clone()  # target: the source, in three channels


def test_pix2pix_step_l1_only_learns_and_leaves_the_discriminator_alone():
    torch.manual_seed(0)
    gen = UNetGenerator(1, 3, ngf=8, depth=3, dropout=0.0)
    disc = PatchDiscriminator(4, ndf=8, n_layers=1)
    before = [p.clone() for p in disc.parameters()]
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-3)
    source, target = _pair()
    losses = [pix2pix_step(gen, disc, opt_g, None, source, target, gan=False)["loss_l1"] for _ in range(100)]
    assert losses[-1] < 0.5 * losses[0]
    assert all(torch.equal(a, b) for a, b in zip(before, disc.parameters()))
    out = pix2pix_step(gen, disc, opt_g, None, source, target, gan=False)
    assert math.isnan(out["loss_d"]) and math.isnan(out["loss_g_gan"])


def test_pix2pix_step_with_gan_updates_both_and_reports_finite_losses():
    torch.manual_seed(0)
    gen = UNetGenerator(1, 3, ngf=8, depth=3)
    disc = PatchDiscriminator(4, ndf=8, n_layers=1)
    d_before = [p.clone() for p in disc.parameters()]
    g_before = [p.clone() for p in gen.parameters()]
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    source, target = _pair()
    out = pix2pix_step(gen, disc, opt_g, opt_d, source, target)
    assert all(math.isfinite(v) for v in out.values())
    # a fresh D is near chance: BCE about ln 2 on each half
    assert abs(out["loss_d"] - math.log(2)) < 0.3
    assert any(not torch.equal(a, b) for a, b in zip(d_before, disc.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(g_before, gen.parameters()))


def test_pix2pix_step_errors():
    gen, disc = UNetGenerator(1, 3, ngf=4, depth=2), PatchDiscriminator(4, ndf=4, n_layers=1)
    opt = torch.optim.Adam(gen.parameters())
    source, target = _pair()
    with pytest.raises(ValueError, match="opt_d"):
        pix2pix_step(gen, disc, opt, None, source, target)
    with pytest.raises(ValueError, match="l1_weight"):
        pix2pix_step(gen, disc, opt, None, source, target, l1_weight=-1, gan=False)
    with pytest.raises(ValueError, match="pairs"):
        pix2pix_step(gen, disc, opt, None, source, target[:2], gan=False)


def test_gradient_energy_known_values_and_blur():
    step = torch.zeros(1, 1, 8, 10)
    step[..., 5:] = 0.5  # a vertical edge of height 0.5
    assert gradient_energy(step).item() == pytest.approx(0.5 / 9)
    assert gradient_energy(torch.ones(2, 3, 5, 5)).tolist() == [0.0, 0.0]
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    blurred = torch.nn.functional.avg_pool2d(noise, 3, stride=1, padding=1, count_include_pad=False)
    assert gradient_energy(blurred) < 0.5 * gradient_energy(noise)
    with pytest.raises(ValueError, match="2 x 2"):
        gradient_energy(torch.zeros(1, 1, 1, 5))


def test_psnr_equals_skimage_and_a_hand_computation():
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(3, 3, 16, 16, generator=g), torch.rand(3, 3, 16, 16, generator=g)
    ours = psnr(a, b)
    for i in range(3):
        ref = peak_signal_noise_ratio(a[i].numpy().astype(np.float64), b[i].numpy().astype(np.float64), data_range=1.0)
        assert ours[i].item() == pytest.approx(ref, rel=1e-5)
    flat = torch.zeros(1, 1, 4, 4)
    assert psnr(flat + 0.1, flat).item() == pytest.approx(20.0, rel=1e-5)  # MSE 0.01 -> 10 log10(100)
    assert math.isinf(psnr(flat, flat).item())
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, b[:, :1])


def test_ssim_equals_skimage_and_is_one_for_identical_images():
    g = torch.Generator().manual_seed(2)
    a = torch.rand(2, 3, 20, 20, generator=g)
    b = (a + 0.1 * torch.randn(2, 3, 20, 20, generator=g)).clamp(0, 1)
    ours = ssim(a, b)
    ref = structural_similarity(
        a[1].permute(1, 2, 0).double().numpy(), b[1].permute(1, 2, 0).double().numpy(), data_range=1.0, channel_axis=-1
    )
    assert ours[1].item() == pytest.approx(ref, rel=1e-5)
    assert ssim(a, a).tolist() == pytest.approx([1.0, 1.0])
    assert ours.max() < 1
    with pytest.raises(ValueError, match="7 x 7"):
        ssim(torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 5, 5))


def test_bicubic_resize_shapes_range_and_constant_images():
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    small = bicubic_resize(x, 8)
    assert small.shape == (2, 3, 8, 8) and small.min() >= 0 and small.max() <= 1
    assert bicubic_resize(small, (32, 16)).shape == (2, 3, 32, 16)
    constant = torch.full((1, 1, 16, 16), 0.25)
    assert torch.allclose(bicubic_resize(constant, 4), constant[..., :4, :4], atol=1e-6)
    with pytest.raises(ValueError, match="size"):
        bicubic_resize(x, 0)


class _Boom(torch.nn.Module):
    def forward(self, x):
        raise AssertionError("layers after the deepest tap must not run")


def _toy_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, stride=2, padding=1),
        torch.nn.ReLU(),
        _Boom(),
    )


def test_feature_taps_return_the_layers_outputs_and_stop_early():
    from cvlib.models.perceptual import FeatureTaps

    net = _toy_net()
    taps = FeatureTaps(net, ["1", "3"])
    x = torch.rand(2, 3, 8, 8)
    out = taps(x)
    assert list(out) == ["1", "3"]
    assert torch.allclose(out["1"], net[1](net[0](x)))
    assert out["3"].shape == (2, 16, 4, 4)
    assert not any(p.requires_grad for p in net.parameters())
    other = FeatureTaps(net, ["1"])  # a second extractor on the same network
    assert torch.allclose(other(x)["1"], out["1"]) and torch.allclose(taps(x)["3"], out["3"])
    with pytest.raises(ValueError, match="not a submodule"):
        FeatureTaps(net, ["7"])
    with pytest.raises(ValueError, match="at least one"):
        FeatureTaps(net, [])


def test_content_loss_and_perceptual_distance_known_values():
    from cvlib.conditional import content_loss, perceptual_distance
    from cvlib.models.perceptual import FeatureTaps

    a = {"x": torch.zeros(1, 2, 2, 2), "y": torch.ones(1, 1, 2, 2)}
    b = {"x": torch.ones(1, 2, 2, 2), "y": torch.ones(1, 1, 2, 2)}
    assert content_loss(a, b, ["x", "y"]).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="missing"):
        content_loss(a, b, ["z"])
    taps = FeatureTaps(_toy_net(), ["1", "3"])
    img = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    assert perceptual_distance(taps, img, img).tolist() == [0.0, 0.0, 0.0]
    noisy = (img + 0.3 * torch.rand(3, 3, 8, 8)).clamp(0, 1)
    assert (perceptual_distance(taps, img, noisy) > 0).all()


def test_style_transfer_reduces_the_style_loss_tenfold_and_keeps_content():
    from cvlib.conditional import style_transfer
    from cvlib.models.perceptual import FeatureTaps

    taps = FeatureTaps(_toy_net(), ["1", "3"])
    g = torch.Generator().manual_seed(5)
    content = torch.rand(1, 3, 16, 16, generator=g) * 0.2 + 0.4  # a dull grey image
    style = (torch.arange(16.0)[None, :].expand(16, 16) % 4 < 2).float().expand(1, 3, 16, 16).clone()  # stripes
    image, history = style_transfer(
        taps,
        content,
        style,
        content_layers=["3"],
        style_layers=["1", "3"],
        style_weight=10.0,
        steps=150,
        lr=0.05,
        progress=False,
    )
    assert image.shape == content.shape and image.min() >= 0 and image.max() <= 1
    assert history["style"][-1] < 0.1 * history["style"][0]
    assert history["content"][0] == 0.0
    from cvlib.conditional import content_loss

    with torch.no_grad():  # the result keeps more of the content than the style image itself does
        style_as_result = content_loss(taps(style), taps(content), ["3"]).item()
    assert history["content"][-1] < 0.5 * style_as_result
    with pytest.raises(ValueError, match="one RGB image"):
        style_transfer(taps, content.repeat(2, 1, 1, 1), style, content_layers=["3"], style_layers=["1"])


def test_style_transfer_callback_sees_every_step_and_the_final_image():
    from cvlib.conditional import style_transfer
    from cvlib.models.perceptual import FeatureTaps

    taps = FeatureTaps(_toy_net(), ["1", "3"])
    g = torch.Generator().manual_seed(6)
    content, style = torch.rand(1, 3, 8, 8, generator=g), torch.rand(1, 3, 8, 8, generator=g)
    seen: list[tuple[int, torch.Tensor]] = []
    image, history = style_transfer(
        taps,
        content,
        style,
        content_layers=["3"],
        style_layers=["1"],
        steps=5,
        progress=False,
        callback=lambda step, img: seen.append((step, img)),
    )
    assert [s for s, _ in seen] == [1, 2, 3, 4, 5] and len(history["style"]) == 5
    assert torch.equal(seen[-1][1], image) and not seen[0][1].requires_grad
    assert not torch.equal(seen[0][1], seen[-1][1])  # snapshots are copies, not the live tensor


def test_perceptual_taps_roles_and_errors():
    from cvlib.models.perceptual import LAYERS, perceptual_taps

    taps = perceptual_taps("efficientnet_lite0", role="all")
    lite = LAYERS["efficientnet_lite0"]
    assert set(taps.layers) == {*lite["content"], *lite["style"]}
    out = taps(torch.rand(1, 3, 64, 64))
    assert [tuple(v.shape[-2:]) for v in out.values()] == [(32, 32), (16, 16), (8, 8), (4, 4)]  # strides 2..16
    assert perceptual_taps(role="sr").layers == list(lite["sr"])
    with pytest.raises(ValueError, match="unknown perceptual network"):
        perceptual_taps("alexnet")
    with pytest.raises(ValueError, match="unknown role"):
        perceptual_taps(role="texture")


def test_vgg16_features_read_the_official_file_from_the_hub_cache(tmp_path, monkeypatch):
    """The full profile's VGG-16: the file torchvision would download, found in the torch hub cache (here
    random weights under the official name, as the rehearsal does), ``features.*`` tensors loaded exactly."""
    from torchvision.models import VGG16_Weights, vgg16

    from cvlib.models.perceptual import perceptual_taps, vgg16_features
    from cvlib.models.pretrained import PretrainedUnavailableError

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    url = VGG16_Weights.IMAGENET1K_V1.url
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(PretrainedUnavailableError, match="VGG-16"):
        vgg16_features()
    torch.manual_seed(0)
    reference = vgg16(weights=None).features
    state = {f"features.{k}": v for k, v in reference.state_dict().items()}
    (tmp_path / "checkpoints").mkdir(exist_ok=True)
    torch.save(state, tmp_path / "checkpoints" / url.rsplit("/", 1)[-1])
    features = vgg16_features()
    assert torch.equal(features[0].weight, reference[0].weight) and torch.equal(features[28].bias, reference[28].bias)
    out = perceptual_taps("vgg16", role="style")(torch.rand(1, 3, 32, 32))
    assert [v.shape[1] for v in out.values()] == [64, 128, 256, 512]
