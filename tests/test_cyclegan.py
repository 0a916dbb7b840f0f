"""CycleGAN networks (cvlib.models.cyclegan) and the CycleGAN half of the GAN task module (cvlib.gan): lesson 06."""

import pytest
import torch
from torch import nn

from cvlib.gan import (
    ImagePool,
    gram_matrix,
    lsgan_discriminator_loss,
    lsgan_loss,
    style_loss,
    to_unit,
    translate,
)
from cvlib.models.cyclegan import PatchDiscriminator, ResnetGenerator, patch_size
from cvlib.models.utils import init_weights


@pytest.mark.parametrize("size,n_down", [(32, 2), (48, 2), (64, 3), (20, 1)])
def test_generator_keeps_shape_and_stays_in_tanh_range(size, n_down):
    torch.manual_seed(0)
    gen = init_weights(ResnetGenerator(ngf=8, n_blocks=2, n_down=n_down))
    x = torch.randn(2, 3, size, size) * 50  # far outside [-1, 1]: the output must still be in range
    y = gen(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert y.min() >= -1 and y.max() <= 1
    assert y.std() > 0  # not a constant image


def test_generator_channels_and_clear_errors():
    gen = ResnetGenerator(in_channels=1, out_channels=3, ngf=4, n_blocks=1)
    assert gen(torch.rand(1, 1, 16, 16)).shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="divisible by 4") as err:
        gen(torch.rand(1, 1, 18, 18))
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        gen(torch.rand(1, 16, 16))
    with pytest.raises(ValueError, match="in_channels=3"):
        gen(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="float"):
        gen(torch.zeros(1, 1, 16, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match="n_blocks"):
        ResnetGenerator(n_blocks=-1)


@pytest.mark.parametrize("n_layers,size,out", [(1, 32, 14), (2, 32, 6), (3, 256, 30)])
def test_patch_discriminator_output_shape(n_layers, size, out):
    disc = PatchDiscriminator(ndf=8, n_layers=n_layers)
    scores = disc(torch.rand(2, 3, size, size) * 2 - 1)
    assert scores.shape == (2, 1, out, out)  # 30x30 patches of 70x70 pixels for the paper's 256 px setting


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_patch_size_matches_the_measured_receptive_field(n_layers):
    disc = PatchDiscriminator(in_channels=1, ndf=4, n_layers=n_layers)
    for m in disc.modules():  # positive weights, no normalisation effects: every input in the field contributes
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 0.1)
    disc = nn.Sequential(*[m for m in disc.net if not isinstance(m, nn.InstanceNorm2d)])
    x = torch.zeros(1, 1, 160, 160, requires_grad=True)
    scores = disc(x)
    scores[0, 0, scores.shape[2] // 2, scores.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1))
    assert int(rows.max() - rows.min() + 1) == patch_size(n_layers)
    assert patch_size(3) == 70


def test_image_pool_fills_then_mixes_old_and_new():
    pool = ImagePool(size=4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1).requires_grad_()
    out = pool.query(first)
    assert torch.equal(out, first.detach()) and len(pool) == 4 and not out.requires_grad  # filling: returned as is
    seen_old = seen_new = 0
    stored_before = {float(t) for t in pool.images}
    for k in range(1, 51):
        batch = torch.full((4, 1, 1, 1), 100.0 + k)
        out = pool.query(batch)
        assert out.shape == batch.shape and len(pool) == 4  # never grows past its size
        for v in out.flatten().tolist():
            if v == 100.0 + k:
                seen_new += 1
            else:
                assert v in stored_before  # an old image, stored earlier
                seen_old += 1
        stored_before = {float(t) for t in pool.images} | stored_before
    assert 0.35 < seen_old / (seen_old + seen_new) < 0.65  # about half are swapped for old fakes


def test_image_pool_size_zero_and_determinism():
    x = torch.rand(3, 3, 8, 8)
    assert torch.equal(ImagePool(0).query(x), x)
    runs = []
    for _ in range(2):
        pool = ImagePool(size=2, seed=7)
        runs.append(torch.cat([pool.query(torch.full((2, 1, 1, 1), float(i))) for i in range(10)]))
    assert torch.equal(runs[0], runs[1])
    for size in (-1, 2.5, True):
        with pytest.raises(ValueError, match="pool size must be an int >= 0") as err:
            ImagePool(size)
        assert "\n" not in str(err.value)
    with pytest.raises(TypeError):
        ImagePool(2, 7)  # seed is keyword-only


def test_lsgan_loss_known_values():
    scores = torch.tensor([0.0, 1.0, 2.0, 0.5])
    assert lsgan_loss(scores, real=True).item() == pytest.approx((1 + 0 + 1 + 0.25) / 4)
    assert lsgan_loss(scores, real=False).item() == pytest.approx((0 + 1 + 4 + 0.25) / 4)
    with pytest.raises(TypeError):
        lsgan_loss(scores, True)  # real is keyword-only


def test_one_step_lowers_the_discriminator_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    gen = init_weights(ResnetGenerator(ngf=8, n_blocks=1))
    disc = init_weights(PatchDiscriminator(ndf=8, n_layers=1))
    real = torch.rand(8, 3, 32, 32) * 2 - 1
    fake = gen(torch.rand(8, 3, 32, 32) * 2 - 1)
    opt = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    before = lsgan_discriminator_loss(disc, real, fake)
    opt.zero_grad()
    before.backward()
    opt.step()
    assert all(p.grad is None for p in gen.parameters())  # the fake was detached: the generator is untouched
    after = lsgan_discriminator_loss(disc, real, fake)
    assert after.item() < before.item()


def test_translate_in_batches_equals_one_pass():
    torch.manual_seed(0)
    gen = ResnetGenerator(ngf=4, n_blocks=1)
    x = torch.rand(10, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        gen.eval()
        whole = gen(x)
    assert torch.allclose(translate(gen, x, batch_size=3), whole, atol=1e-6)


def test_gram_matrix_and_style_loss_known_values():
    f = torch.zeros(1, 2, 2, 2)
    f[0, 0] = 1.0  # channel 0 fires everywhere
    f[0, 1, 0, 0] = 2.0  # channel 1 fires at one of four positions
    g = gram_matrix(f)
    assert torch.allclose(g, torch.tensor([[[1.0, 0.5], [0.5, 1.0]]]))  # [[4/4, 2/4], [2/4, 4/4]]
    # the Gram matrix forgets where: shifting the features does not change it
    assert torch.allclose(gram_matrix(torch.roll(f, 1, dims=3)), g)
    assert style_loss([f], [f]).item() == 0 and style_loss([f], [f * 2]).item() > 0
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        gram_matrix(torch.rand(2, 3))


def test_lsgan_discriminator_loss_known_value():
    disc = nn.Identity()  # scores = images: real images of 1 and fakes of 0 are perfect, loss 0
    ones, zeros = torch.ones(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    assert lsgan_discriminator_loss(disc, ones, zeros).item() == 0
    assert lsgan_discriminator_loss(disc, zeros, ones).item() == pytest.approx(1.0)  # 0.5 * (1 + 1)


def test_translate_restores_train_mode_also_when_the_generator_raises():
    gen = ResnetGenerator(ngf=4, n_blocks=1).train()
    gen.net[2].eval()  # a deliberately mixed state must come back exactly too
    modes = [m.training for m in gen.modules()]
    with pytest.raises(ValueError, match="divisible by 4"):
        translate(gen, torch.rand(2, 3, 18, 18))  # the generator raises inside the batch loop
    assert [m.training for m in gen.modules()] == modes
    seen = []
    gen.register_forward_hook(lambda m, i, o: seen.append((m.training, torch.is_grad_enabled())))
    out = translate(gen, torch.rand(5, 3, 16, 16) * 2 - 1, batch_size=2)
    assert out.shape == (5, 3, 16, 16) and not out.requires_grad
    assert seen == [(False, False)] * 3 and [m.training for m in gen.modules()] == modes


@pytest.mark.parametrize(
    "images, pattern",
    [
        (torch.rand(3, 16, 16), r"float \(B, C, H, W\) batch.*\(3, 16, 16\).*unsqueeze\(0\)"),
        (torch.zeros(1, 3, 16, 16, dtype=torch.uint8), r"float \(B, C, H, W\) batch.*torch.uint8"),
        ([[0.0]], r"float \(B, C, H, W\) batch.*got list"),
    ],
)
def test_translate_checks_its_images_in_one_line(images, pattern):
    gen = ResnetGenerator(ngf=4, n_blocks=1).train()
    with pytest.raises(ValueError, match=pattern) as err:
        translate(gen, images)
    assert "\n" not in str(err.value) and gen.training
    with pytest.raises(TypeError):
        translate(gen, torch.rand(2, 3, 16, 16), 1)  # batch_size is keyword-only


def test_to_unit_matches_the_lessons_display_mapping():
    x = torch.linspace(-1.5, 1.5, 31)
    assert torch.equal(to_unit(x), ((x + 1) / 2).clamp(0, 1))
