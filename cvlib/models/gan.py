"""DCGAN generator and discriminator (Radford et al., 2016), plain and class-conditional: the networks of lesson 05.

This module holds nn.Modules only (the rule of :mod:`cvlib.models`); the losses, the training
step, sampling and the range helpers live in the task module :mod:`cvlib.gan`, and the
N(0, 0.02) initialisation in :func:`cvlib.models.utils.init_weights`.

The DCGAN rules, each visible in the code below:

1. no pooling: the discriminator downsamples with strided convolutions, the
   generator upsamples with strided transposed convolutions;
2. batch norm in both networks, except the generator's output layer and the
   discriminator's input layer (which therefore keeps its bias, see :class:`Discriminator`);
3. no fully connected hidden layers: the latent vector is a ``(nz, 1, 1)``
   "image" that the first transposed convolution turns into a 4x4 (or 7x7) map;
4. ReLU in the generator, tanh at its output; LeakyReLU(0.2) in the discriminator;
5. weights drawn from N(0, 0.02) (batch-norm scales from N(1, 0.02)): ``init_weights(net)``
   from :mod:`cvlib.models.utils`.

Images are ``(B, C, H, W)`` float in **[-1, 1]** (the range of tanh). Map
[0, 1] images with ``x * 2 - 1`` (:func:`cvlib.gan.from_unit`) before showing them to the
discriminator and generated images back with ``(x + 1) / 2`` (:func:`cvlib.gan.to_unit`)
before plotting or classifying them.

The discriminator returns one **logit** per image (no sigmoid): the losses in :mod:`cvlib.gan`
use ``binary_cross_entropy_with_logits``, the numerically stable form of
sigmoid + BCE used by the PyTorch DCGAN tutorial.

Sizes: ``img_size`` 28 (MNIST: 7 -> 14 -> 28), 32 (4 -> 8 -> 16 -> 32) or
64 (4 -> ... -> 64, CelebA as in the PyTorch tutorial).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SIZES = (28, 32, 64)


def _plan(img_size: int) -> tuple[int, int]:
    """(side of the first feature map, number of x2 upsamplings) for an output side."""
    if img_size not in SIZES:
        raise ValueError(
            f"img_size must be one of {SIZES} (DCGAN doubles the side each layer), got {img_size}: resize the data."
        )
    start = 7 if img_size == 28 else 4
    n_up = {28: 2, 32: 3, 64: 4}[img_size]
    return start, n_up


class Generator(nn.Module):
    """DCGAN generator: latent ``z`` -> image in [-1, 1].

    Args:
        nz: latent size (100 in the paper and tutorial; 64 is plenty for digits).
        ngf: width of the last hidden layer; layer widths are ngf * 2**k.
        channels: output channels (1 for digits/MNIST, 3 for CelebA).
        img_size: 28, 32 or 64.
        extra_in: extra input channels concatenated to ``z`` (the conditional
            variant uses it for a class embedding); 0 for the plain DCGAN.

    ``forward(z)``: ``z`` ``(B, nz)`` or ``(B, nz, 1, 1)`` float (normally N(0, 1)) ->
    ``(B, channels, img_size, img_size)`` float in [-1, 1].
    """

    def __init__(self, nz: int = 100, ngf: int = 64, channels: int = 1, img_size: int = 32, extra_in: int = 0) -> None:
        super().__init__()
        start, n_up = _plan(img_size)
        self.nz, self.channels, self.img_size = nz, channels, img_size
        width = ngf * 2 ** (n_up - 1)
        layers: list[nn.Module] = [
            # (nz, 1, 1) -> (width, start, start): a "projection" done by a transposed convolution
            nn.ConvTranspose2d(nz + extra_in, width, start, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(n_up - 1):  # each block doubles H and W and halves the channels
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]  # no batch norm at the output
        self.main = nn.Sequential(*layers)

    def _latent(self, z: torch.Tensor) -> torch.Tensor:
        if (
            not isinstance(z, torch.Tensor)
            or z.ndim not in (2, 4)
            or z.shape[1] != self.nz
            or (z.ndim == 4 and z.shape[2:] != (1, 1))
        ):
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(
                f"the generator expects z of shape (B, {self.nz}) or (B, {self.nz}, 1, 1), got {shape}: "
                f"sample it with torch.randn(B, {self.nz})."
            )
        return z.reshape(z.shape[0], self.nz, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(self._latent(z))


class Discriminator(nn.Module):
    """DCGAN discriminator: image in [-1, 1] -> one real/fake logit per image.

    Args:
        ndf: width of the first layer; layer widths are ndf * 2**k.
        channels: input channels; img_size: 28, 32 or 64.
        extra_in: extra input channels (the conditional variant's class maps).

    ``forward(x)``: ``(B, channels, img_size, img_size)`` float in [-1, 1] ->
    ``(B,)`` float logits (> 0 means "real"; apply sigmoid for a probability).

    The first convolution has a bias (the PyTorch tutorial has none). Real and fake
    batches go through D separately, and batch norm normalises each with its own
    statistics; without a bias, LeakyReLU(c * a) = c * LeakyReLU(a) for c > 0 and the
    next batch norm divides c away (up to its eps), so D is nearly blind to the contrast of a fake
    batch and the generator's output can drift to a flat grey image (measured with
    28 px digits, width 32: one bias-free run in six). The bias breaks that invariance. Later layers
    are followed by batch norm, whose shift makes a bias redundant, so they have none.
    """

    def __init__(self, ndf: int = 64, channels: int = 1, img_size: int = 32, extra_in: int = 0) -> None:
        super().__init__()
        start, n_down = _plan(img_size)
        self.channels, self.img_size = channels, img_size
        layers: list[nn.Module] = [
            # No batch norm on the input layer, hence a bias here (see the class docstring).
            nn.Conv2d(channels + extra_in, ndf, 4, 2, 1, bias=True),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        width = ndf
        for _ in range(n_down - 1):  # strided convolutions halve H and W, no pooling
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width *= 2
        layers += [nn.Conv2d(width, 1, start, 1, 0, bias=False)]  # (width, start, start) -> one logit
        self.main = nn.Sequential(*layers)

    def _check(self, x: torch.Tensor) -> None:
        expected = (self.channels, self.img_size, self.img_size)
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != expected:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"the discriminator expects images of shape (B, {', '.join(map(str, expected))}) in [-1, 1], "
                f"got {shape}: resize the data or build it with channels=/img_size= to match."
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return self.main(x).flatten()


class ConditionalGenerator(Generator):
    """Class-conditional DCGAN generator (cGAN, Mirza & Osindero, 2014): ``G(z, y)``.

    The class ``y`` is embedded into ``embed_dim`` numbers and concatenated to ``z``;
    everything else is the DCGAN generator. ``forward(z, y)``: ``z`` ``(B, nz)``,
    ``y`` ``(B,)`` int64 in [0, num_classes) -> ``(B, channels, img_size, img_size)`` in [-1, 1].
    """

    def __init__(
        self,
        num_classes: int = 10,
        nz: int = 100,
        ngf: int = 64,
        channels: int = 1,
        img_size: int = 32,
        embed_dim: int = 16,
    ) -> None:
        super().__init__(nz, ngf, channels, img_size, extra_in=embed_dim)
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, embed_dim)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        z = self._latent(z)
        y = _check_labels(y, len(z), self.num_classes)
        return self.main(torch.cat([z, self.embed(y)[:, :, None, None]], 1))


class ConditionalDiscriminator(Discriminator):
    """Class-conditional DCGAN discriminator: ``D(x, y)`` judges "a real image *of class y*".

    The class is given as ``num_classes`` extra input channels (a one-hot map,
    constant over the image), so the first convolution sees image and label
    together. ``forward(x, y)``: ``x`` ``(B, channels, H, W)`` in [-1, 1], ``y`` ``(B,)``
    int64 -> ``(B,)`` logits.
    """

    def __init__(self, num_classes: int = 10, ndf: int = 64, channels: int = 1, img_size: int = 32) -> None:
        super().__init__(ndf, channels, img_size, extra_in=num_classes)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        self._check(x)
        y = _check_labels(y, len(x), self.num_classes)
        maps = F.one_hot(y, self.num_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.main(torch.cat([x, maps], 1)).flatten()


def _check_labels(y: torch.Tensor, batch: int, num_classes: int) -> torch.Tensor:
    if not isinstance(y, torch.Tensor) or y.shape != (batch,) or y.is_floating_point():
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"expected class labels y of shape ({batch},) int64, got {shape}: one class index per image.")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"class labels must lie in [0, {num_classes}), got [{int(y.min())}, {int(y.max())}].")
    return y.long()
