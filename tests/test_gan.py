"""DCGAN networks, losses and training step (cvlib.models.gan)."""

import math

import pytest
import torch
from torch import nn

from cvlib.models.gan import (
    ConditionalDiscriminator,
    ConditionalGenerator,
    Discriminator,
    Generator,
    discriminator_loss,
    from_unit,
    generator_loss,
    sample,
    slerp,
    to_unit,
    train_step,
    weights_init,
)
from cvlib.train import load_checkpoint, save_checkpoint


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 1), (64, 3)])
def test_generator_and_discriminator_shapes_and_ranges(size, channels):
    torch.manual_seed(0)
    G = Generator(nz=16, ngf=8, channels=channels, img_size=size)
    D = Discriminator(ndf=8, channels=channels, img_size=size)
    G.apply(weights_init)
    D.apply(weights_init)
    z = torch.randn(5, 16) * 10  # large z: tanh must still keep the output in [-1, 1]
    x = G(z)
    assert x.shape == (5, channels, size, size) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert torch.equal(G(z.view(5, 16, 1, 1)), x)  # (B, nz) and (B, nz, 1, 1) are the same input
    logits = D(x)
    assert logits.shape == (5,) and torch.isfinite(logits).all()


def test_dcgan_rules_in_the_architecture():
    G, D = Generator(nz=16, ngf=8, img_size=32), Discriminator(ndf=8, img_size=32)
    g_layers, d_layers = list(G.main), list(D.main)
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in G.modules() if m is not G)
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in D.modules() if m is not D)
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)  # no BN at G's output
    assert isinstance(d_layers[1], nn.LeakyReLU) and not isinstance(d_layers[1], nn.BatchNorm2d)  # no BN at D's input
    # strided convolutions do the down- and upsampling (the last D conv maps 4x4 to one logit)
    assert [m.stride for m in d_layers if isinstance(m, nn.Conv2d)] == [(2, 2)] * 3 + [(1, 1)]
    assert [m.stride for m in g_layers if isinstance(m, nn.ConvTranspose2d)] == [(1, 1)] + [(2, 2)] * 3
    assert any(isinstance(m, nn.ReLU) for m in g_layers) and any(isinstance(m, nn.LeakyReLU) for m in d_layers)


def test_weights_init_draws_from_n0_002():
    torch.manual_seed(0)
    G = Generator(nz=64, ngf=32, img_size=32)
    G.apply(weights_init)
    conv = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert abs(conv.mean().item()) < 0.002 and conv.std().item() == pytest.approx(0.02, rel=0.05)
    bn = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    assert bn.mean().item() == pytest.approx(1.0, abs=0.01) and bn.std().item() == pytest.approx(0.02, rel=0.3)
    assert all((m.bias == 0).all() for m in G.modules() if isinstance(m, nn.BatchNorm2d))


def test_bad_inputs_give_clear_errors():
    G, D = Generator(nz=16, ngf=8, img_size=32), Discriminator(ndf=8, img_size=32)
    with pytest.raises(ValueError, match=r"torch.randn\(B, 16\)"):
        G(torch.randn(2, 10))
    with pytest.raises(ValueError, match="img_size"):
        D(torch.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match="img_size must be one of"):
        Generator(img_size=48)


def test_conditional_networks_use_the_label():
    torch.manual_seed(0)
    G = ConditionalGenerator(num_classes=10, nz=16, ngf=8, img_size=28)
    D = ConditionalDiscriminator(num_classes=10, ndf=8, img_size=28)
    G.apply(weights_init)
    D.apply(weights_init)
    G.eval()
    D.eval()
    z = torch.randn(4, 16).repeat(2, 1)
    y = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    x = G(z, y)
    assert x.shape == (8, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert not torch.allclose(x[:4], x[4:])  # same noise, other class -> other image
    logits = D(x, y)
    assert logits.shape == (8,)
    assert not torch.allclose(D(x, y), D(x, (y + 1) % 10))
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        G(z, y + 5)
    with pytest.raises(ValueError, match="int64"):
        D(x, y.float())


def test_losses_at_the_equilibrium():
    zero = torch.zeros(6)  # logit 0 = D says 0.5
    assert discriminator_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert generator_loss(zero).item() == pytest.approx(math.log(2))
    # a perfect discriminator has ~0 loss, and then the generator's loss is large
    assert discriminator_loss(torch.full((6,), 20.0), torch.full((6,), -20.0)).item() < 1e-6
    assert generator_loss(torch.full((6,), -20.0)).item() > 19


@pytest.mark.parametrize("conditional", [False, True])
def test_one_training_step_lowers_the_discriminator_loss_on_a_fixed_batch(conditional):
    torch.manual_seed(0)
    if conditional:
        G, D = ConditionalGenerator(nz=16, ngf=8, img_size=32), ConditionalDiscriminator(ndf=8, img_size=32)
    else:
        G, D = Generator(nz=16, ngf=8, img_size=32), Discriminator(ndf=8, img_size=32)
    G.apply(weights_init)
    D.apply(weights_init)
    real = from_unit(torch.rand(32, 1, 32, 32))
    z = torch.randn(32, 16)
    labels = torch.arange(32) % 10 if conditional else None
    cond = () if labels is None else (labels,)
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    with torch.no_grad():
        fake = G(z, *cond)
        before = discriminator_loss(D(real, *cond), D(fake, *cond)).item()
    g_before = [p.clone() for p in G.parameters()]
    out = train_step(G, D, opt_g, opt_d, real, z, labels)
    with torch.no_grad():
        after = discriminator_loss(D(real, *cond), D(fake, *cond)).item()
    assert out["loss_d"] == pytest.approx(before, rel=1e-5)  # the step reports the loss before its update
    assert after < before
    assert set(out) == {"loss_d", "loss_g", "d_real", "d_fake"} and 0 <= out["d_fake"] <= 1
    assert any(not torch.equal(a, b) for a, b in zip(g_before, G.parameters())), "the generator was updated too"


def test_generator_checkpoint_roundtrip_weights_only(tmp_path):
    torch.manual_seed(0)
    G = Generator(nz=16, ngf=8, img_size=28)
    G.apply(weights_init)
    path = save_checkpoint(G, tmp_path / "g.pt", step=3)
    G2 = Generator(nz=16, ngf=8, img_size=28)
    assert load_checkpoint(G2, path) == {"step": 3}  # torch.load(..., weights_only=True) inside
    payload = torch.load(path, weights_only=True)
    assert set(payload) == {"state_dict", "extra"}
    assert torch.equal(sample(G, 6), sample(G2, 6))


def test_sample_is_seeded_and_restores_mode():
    G = Generator(nz=16, ngf=8, img_size=28)
    G.train()
    a, b = sample(G, 7, batch_size=3), sample(G, 7)
    assert a.shape == (7, 1, 28, 28) and torch.allclose(a, b, atol=1e-6) and G.training
    assert not torch.equal(a, sample(G, 7, generator_seed=1))
    cg = ConditionalGenerator(nz=16, ngf=8, img_size=28)
    assert sample(cg, 5, labels=torch.arange(5)).shape == (5, 1, 28, 28)


def test_slerp_and_range_helpers():
    z0, z1 = torch.randn(16), torch.randn(16)
    assert torch.allclose(slerp(z0, z1, 0.0), z0, atol=1e-5) and torch.allclose(slerp(z0, z1, 1.0), z1, atol=1e-5)
    mid = slerp(z0 / z0.norm(), z1 / z1.norm(), 0.5)
    assert mid.norm().item() == pytest.approx(1.0, abs=1e-5)  # stays on the sphere
    x = torch.rand(3, 1, 4, 4)
    assert torch.allclose(to_unit(from_unit(x)), x, atol=1e-6)
    assert from_unit(torch.zeros(1)).item() == -1 and to_unit(torch.ones(1)).item() == 1


def test_first_discriminator_conv_bias_breaks_batchnorm_scale_invariance():
    # In train mode a batch of only fakes is normalised by its own statistics. Without a bias in
    # the first conv, D(c * fake) == D(fake) for any c > 0: D cannot see the batch's contrast.
    # (PyTorch's default init, not N(0, 0.02): with tiny weights batch norm's eps hides the effect.)
    torch.manual_seed(0)
    D = Discriminator(ndf=8, img_size=28)
    assert D.main[0].bias is not None
    D.train()
    fake = torch.rand(16, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        D.main[0].bias.zero_()
        assert torch.allclose(D(fake), D(0.5 * fake), atol=1e-3)
        D.main[0].bias.normal_(0, 0.5)
        assert (D(fake) - D(0.5 * fake)).abs().mean() > 0.05
