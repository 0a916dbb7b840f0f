"""The shared GAN initialiser and gradient switch of cvlib.models.utils (lessons 05 and 06).

These tests moved here from test_gan.py (``weights_init``) and test_cyclegan.py (``init_weights``,
``set_requires_grad``), whose module-level copies were deleted.
"""

import itertools

import pytest
import torch
from torch import nn

from cvlib.models.cyclegan import PatchDiscriminator, ResnetGenerator
from cvlib.models.gan import (
    ConditionalDiscriminator,
    ConditionalGenerator,
    Discriminator,
    Generator,
)
from cvlib.models.utils import init_weights, set_requires_grad


def _dcgan_recipe(module: nn.Module) -> None:
    """Lesson 05's former ``weights_init``, applied with ``model.apply``: the reference for equality."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def test_init_weights_draws_dcgan_weights_from_n0_002():
    torch.manual_seed(0)
    G = Generator(nz=64, ngf=32, img_size=32)
    assert init_weights(G) is G
    conv = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert abs(conv.mean().item()) < 0.002 and conv.std().item() == pytest.approx(0.02, rel=0.05)
    bn = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    assert bn.mean().item() == pytest.approx(1.0, abs=0.01) and bn.std().item() == pytest.approx(0.02, rel=0.3)
    assert all((m.bias == 0).all() for m in G.modules() if isinstance(m, nn.BatchNorm2d))
    D = init_weights(Discriminator(ndf=8, img_size=32))
    assert (D.main[0].bias == 0).all()  # the first conv's bias starts at 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: Generator(nz=64, ngf=32, channels=1, img_size=28),
        lambda: Discriminator(ndf=32, channels=1, img_size=28),
        lambda: ConditionalGenerator(num_classes=10, nz=64, ngf=32, img_size=28),
        lambda: ConditionalDiscriminator(num_classes=10, ndf=32, img_size=28),
        lambda: Generator(nz=100, ngf=64, channels=3, img_size=64),
        lambda: Discriminator(ndf=64, channels=3, img_size=64),
    ],
    ids=["G", "D", "cG", "cD", "G64", "D64"],
)
def test_init_weights_equals_lesson_05s_former_recipe(make):
    """Same seed, same draws in the same order: lesson 05's networks start from the same weights as before."""
    torch.manual_seed(0)
    a = init_weights(make())
    after_a = torch.rand(3)
    torch.manual_seed(0)
    b = make().apply(_dcgan_recipe)
    after_b = torch.rand(3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert torch.equal(after_a, after_b)  # and the global RNG is left in the same state


def test_init_weights_follows_the_cyclegan_paper():
    torch.manual_seed(0)
    gen = init_weights(ResnetGenerator(ngf=32, n_blocks=2))
    convs = [m for m in gen.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert abs(weights.std().item() - 0.02) < 0.002 and abs(weights.mean().item()) < 0.002
    norms = [m for m in gen.modules() if isinstance(m, nn.InstanceNorm2d)]
    scales = torch.cat([m.weight for m in norms])
    assert abs(scales.mean().item() - 1) < 0.01 and all((m.bias == 0).all() for m in norms)
    assert all((m.bias == 0).all() for m in convs if m.bias is not None)


def test_init_weights_bad_arguments():
    with pytest.raises(TypeError, match="net must be a torch.nn.Module"):
        init_weights(Generator.__init__)
    with pytest.raises(ValueError, match="std must be > 0"):
        init_weights(nn.Conv2d(1, 1, 3), std=0)


def test_set_requires_grad_freezes_and_unfreezes():
    nets = [PatchDiscriminator(ndf=4, n_layers=1), PatchDiscriminator(ndf=4, n_layers=1)]
    set_requires_grad(nets, False)
    assert not any(p.requires_grad for p in itertools.chain(*(n.parameters() for n in nets)))
    set_requires_grad(nets[0], True)
    assert all(p.requires_grad for p in nets[0].parameters())
    assert not any(p.requires_grad for p in nets[1].parameters())
