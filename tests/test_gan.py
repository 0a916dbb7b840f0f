"""DCGAN networks (cvlib.models.gan) and the DCGAN half of the GAN task module (cvlib.gan): lesson 05."""

import math
import warnings

import pytest
import torch
from torch import nn

from cvlib.gan import (
    discriminator_loss,
    from_unit,
    generator_loss,
    sample,
    slerp,
    to_unit,
    train_step,
)
from cvlib.models.gan import (
    ConditionalDiscriminator,
    ConditionalGenerator,
    Discriminator,
    Generator,
)
from cvlib.models.utils import init_weights
from cvlib.train import load_checkpoint, save_checkpoint


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 1), (64, 3)])
def test_generator_and_discriminator_shapes_and_ranges(size, channels):
    torch.manual_seed(0)
    G = Generator(nz=16, ngf=8, channels=channels, img_size=size)
    D = Discriminator(ndf=8, channels=channels, img_size=size)
    init_weights(G)
    init_weights(D)
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
    init_weights(G)
    init_weights(D)
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
    init_weights(G)
    init_weights(D)
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
    out = train_step(G, D, opt_g, opt_d, real, z, labels=labels)
    with torch.no_grad():
        after = discriminator_loss(D(real, *cond), D(fake, *cond)).item()
    assert out["loss_d"] == pytest.approx(before, rel=1e-5)  # the step reports the loss before its update
    assert after < before
    assert set(out) == {"loss_d", "loss_g", "d_real", "d_fake"} and 0 <= out["d_fake"] <= 1
    assert any(not torch.equal(a, b) for a, b in zip(g_before, G.parameters())), "the generator was updated too"


def test_generator_checkpoint_roundtrip_weights_only(tmp_path):
    torch.manual_seed(0)
    G = Generator(nz=16, ngf=8, img_size=28)
    init_weights(G)
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


def _tiny_gan():
    torch.manual_seed(0)
    G, D = init_weights(Generator(nz=8, ngf=4, img_size=28)), init_weights(Discriminator(ndf=4, img_size=28))
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    return G, D, opt_g, opt_d


def test_train_step_checks_the_real_batch_in_one_line():
    G, D, opt_g, opt_d = _tiny_gan()
    z = torch.randn(4, 8)
    bad = {
        r"non-empty float tensor \(B, C, H, W\)": torch.zeros(4, 28, 28),  # no channel dimension
        r"float tensor.*torch.uint8": torch.zeros(4, 1, 28, 28, dtype=torch.uint8),
        r"in \[-1, 1\].*, 255\]: map \[0, 1\] images with from_unit": torch.rand(4, 1, 28, 28) * 255,
        r"got values in \[-1.5": torch.full((4, 1, 28, 28), -1.5),
        r"non-empty": torch.zeros(0, 1, 28, 28),
    }
    before = [p.clone() for p in G.parameters()]
    for pattern, real in bad.items():
        with pytest.raises(ValueError, match=pattern) as err:
            train_step(G, D, opt_g, opt_d, real, z)
        assert "\n" not in str(err.value)
    assert all(torch.equal(a, b) for a, b in zip(before, G.parameters()))  # nothing was updated
    with pytest.raises(ValueError, match="opt_g must hold the generator's parameters"):
        train_step(G, D, opt_d, opt_g, from_unit(torch.rand(4, 1, 28, 28)), z)  # optimisers swapped
    with pytest.raises(TypeError):
        train_step(G, D, opt_g, opt_d, from_unit(torch.rand(4, 1, 28, 28)), z, None)  # labels is keyword-only


def test_train_step_accepts_but_flags_a_batch_that_looks_like_0_1():
    G, D, opt_g, opt_d = _tiny_gan()
    z = torch.randn(4, 8)
    with pytest.warns(UserWarning, match=r"looks like \[0, 1\].*from_unit"):
        out = train_step(G, D, opt_g, opt_d, torch.rand(4, 1, 28, 28), z)  # in range: not an error
    assert math.isfinite(out["loss_d"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a batch in [-1, 1] with negative values: no warning
        train_step(G, D, opt_g, opt_d, from_unit(torch.rand(4, 1, 28, 28)), z)
        train_step(G, D, opt_g, opt_d, torch.full((4, 1, 28, 28), -1.0), z)  # the bounds are allowed


@pytest.mark.parametrize("n", [0, -3, 2.0, True, "4"])
def test_sample_wants_a_positive_int(n):
    G = Generator(nz=8, ngf=4, img_size=28)
    with pytest.raises(ValueError, match="n must be a positive int") as err:
        sample(G, n)
    assert "\n" not in str(err.value)


def test_sample_checks_labels_and_generator():
    cg = ConditionalGenerator(nz=8, ngf=4, img_size=28)
    with pytest.raises(ValueError, match=r"labels must be a tensor of shape \(5,\)"):
        sample(cg, 5, labels=torch.arange(4))
    with pytest.raises(TypeError, match="nz attribute"):
        sample(nn.Linear(2, 2), 3)
    with pytest.raises(ValueError, match="batch_size"):
        sample(cg, 5, labels=torch.arange(5), batch_size=0)


def test_sample_restores_train_mode_also_when_the_generator_raises():
    cg = ConditionalGenerator(num_classes=10, nz=8, ngf=4, img_size=28).train()
    cg.main[1].eval()  # a deliberately mixed state must come back exactly too
    modes = [m.training for m in cg.modules()]
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        sample(cg, 4, labels=torch.tensor([0, 1, 2, 99]))  # raises inside the forward pass
    assert [m.training for m in cg.modules()] == modes
    sample(cg, 4, labels=torch.arange(4))
    assert [m.training for m in cg.modules()] == modes and cg.training


def test_sample_runs_in_eval_mode_without_gradients():
    G = Generator(nz=8, ngf=4, img_size=28).train()
    seen = []
    G.register_forward_hook(lambda m, i, o: seen.append((m.training, torch.is_grad_enabled())))
    sample(G, 3, batch_size=2)
    assert seen == [(False, False), (False, False)] and G.training


def test_slerp_needs_matching_shapes_and_broadcasts_t():
    with pytest.raises(ValueError, match=r"same shape.*\(16,\) and \(8,\)") as err:
        slerp(torch.randn(16), torch.randn(8), 0.5)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="same shape"):
        slerp(torch.randn(2, 16), torch.randn(16), 0.5)
    z0, z1 = torch.randn(16), torch.randn(16)
    path = slerp(z0, z1, torch.linspace(0, 1, 5)[:, None])  # the lesson's call: one vector per t
    assert path.shape == (5, 16) and torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)


def test_to_unit_clamps_for_display():
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 3.0])
    assert torch.equal(to_unit(x), torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0]))
