import itertools

import pytest
import torch
from torch import nn

from cvlib.models.cyclegan import (
    ImagePool,
    PatchDiscriminator,
    ResnetGenerator,
    discriminator_loss,
    gram_matrix,
    init_weights,
    lsgan_loss,
    patch_size,
    set_requires_grad,
    style_loss,
    translate,
)


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


def test_init_weights_follows_the_paper():
    torch.manual_seed(0)
    gen = init_weights(ResnetGenerator(ngf=32, n_blocks=2))
    convs = [m for m in gen.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert abs(weights.std().item() - 0.02) < 0.002 and abs(weights.mean().item()) < 0.002
    norms = [m for m in gen.modules() if isinstance(m, nn.InstanceNorm2d)]
    scales = torch.cat([m.weight for m in norms])
    assert abs(scales.mean().item() - 1) < 0.01 and all((m.bias == 0).all() for m in norms)


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
    with pytest.raises(ValueError, match="pool size"):
        ImagePool(-1)


def test_lsgan_loss_known_values():
    scores = torch.tensor([0.0, 1.0, 2.0, 0.5])
    assert lsgan_loss(scores, True).item() == pytest.approx((1 + 0 + 1 + 0.25) / 4)
    assert lsgan_loss(scores, False).item() == pytest.approx((0 + 1 + 4 + 0.25) / 4)


def test_one_step_lowers_the_discriminator_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    gen = init_weights(ResnetGenerator(ngf=8, n_blocks=1))
    disc = init_weights(PatchDiscriminator(ndf=8, n_layers=1))
    real = torch.rand(8, 3, 32, 32) * 2 - 1
    fake = gen(torch.rand(8, 3, 32, 32) * 2 - 1)
    opt = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    before = discriminator_loss(disc, real, fake)
    opt.zero_grad()
    before.backward()
    opt.step()
    assert all(p.grad is None for p in gen.parameters())  # the fake was detached: the generator is untouched
    after = discriminator_loss(disc, real, fake)
    assert after.item() < before.item()


def test_set_requires_grad_freezes_and_unfreezes():
    nets = [PatchDiscriminator(ndf=4, n_layers=1), PatchDiscriminator(ndf=4, n_layers=1)]
    set_requires_grad(nets, False)
    assert not any(p.requires_grad for p in itertools.chain(*(n.parameters() for n in nets)))
    set_requires_grad(nets[0], True)
    assert all(p.requires_grad for p in nets[0].parameters())


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
