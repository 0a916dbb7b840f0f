"""GAN training: the losses, training step, sampling and translation of lessons 05 (DCGAN) and 06 (CycleGAN).

The task module for GANs: the networks are in :mod:`cvlib.models.gan` (DCGAN, conditional DCGAN)
and :mod:`cvlib.models.cyclegan` (ResNet generator, PatchGAN); their initialisation and the
gradient switch are :func:`cvlib.models.utils.init_weights` and :func:`cvlib.models.utils.set_requires_grad`.
Dependencies flow data -> models -> task modules (this one) -> metrics -> viz; nothing here imports upwards.

- ranges: :func:`to_unit` ([-1, 1] -> [0, 1], clamped, for display and [0, 1] classifiers), :func:`from_unit`;
- lesson 05 (DCGAN, logits and binary cross-entropy): :func:`discriminator_loss`, :func:`generator_loss`,
  :func:`train_step` (one D update then one G update), :func:`sample` (seeded images from a generator),
  :func:`slerp` (spherical interpolation of latent vectors);
- lesson 06 (CycleGAN, least squares): :func:`lsgan_loss`, :func:`lsgan_discriminator_loss`,
  :class:`ImagePool` (a history of fakes for the discriminator), :func:`translate` (a generator over
  a tensor of images, in batches), :func:`gram_matrix` / :func:`style_loss` (perceptual style statistics).
  The CycleGAN training step itself is written out in lesson 06, where it is the idea being taught.

All images are ``(B, C, H, W)`` float in **[-1, 1]**, the range of the generators' tanh. :func:`sample`
and :func:`translate` run the generator in eval mode under ``torch.no_grad`` and restore every
module's mode afterwards, also when the generator raises (:func:`cvlib.models.utils.eval_mode`);
``device=None`` means the generator's own device (:func:`cvlib.models.utils.resolve_device`).
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterable, Mapping
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from cvlib.models.utils import eval_mode, model_device, resolve_device

# ---------------------------------------------------------------- ranges


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """GAN images in [-1, 1] -> [0, 1]: ``((x + 1) / 2).clamp(0, 1)``, any shape, same dtype.

    For plotting and for classifiers trained on [0, 1] images; the clamp keeps a display valid.
    """
    return ((images + 1) / 2).clamp(0, 1)


def from_unit(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] -> [-1, 1] (the range of the generator's tanh): ``x * 2 - 1``, any shape, same dtype."""
    return images * 2 - 1


# ---------------------------------------------------------------- lesson 05: DCGAN


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """``BCE(D(x), 1) + BCE(D(G(z)), 0)`` from logits: D learns to tell real from fake.

    ``d_real``: ``(B,)`` float logits of real images; ``d_fake``: ``(B',)`` logits of fakes. Returns a
    scalar. At the game's equilibrium D outputs 0.5 everywhere and this loss is 2 ln 2 = 1.386.
    """
    return F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy_with_logits(
        d_fake, torch.zeros_like(d_fake)
    )


def generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``BCE(D(G(z)), 1) = -log D(G(z))`` from ``(B,)`` float logits; a scalar.

    The minimax form ``log(1 - D(G(z)))`` has vanishing gradients when D wins
    early; this form has the same fixed point and strong gradients then.
    """
    return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))


def _check_real_batch(real: torch.Tensor) -> None:
    """One-line errors unless ``real`` is a float ``(B, C, H, W)`` batch in [-1, 1]; a warning if it looks like [0, 1]."""
    if not isinstance(real, torch.Tensor) or real.ndim != 4 or not real.is_floating_point() or not real.numel():
        what = f"{tuple(real.shape)} {real.dtype}" if isinstance(real, torch.Tensor) else type(real).__name__
        raise ValueError(
            f"train_step expects the real batch as a non-empty float tensor (B, C, H, W) in [-1, 1], got {what}."
        )
    lo, hi = torch.stack(torch.aminmax(real.detach())).tolist()
    if lo < -1 or hi > 1:
        raise ValueError(
            f"train_step expects real images in [-1, 1] (the generator's tanh range), got values in "
            f"[{lo:.3g}, {hi:.3g}]: map [0, 1] images with from_unit(x), uint8 images with x / 127.5 - 1."
        )
    if lo >= 0:
        warnings.warn(
            f"train_step: the real batch lies in [{lo:.3g}, {hi:.3g}], which looks like [0, 1]: "
            "map it to [-1, 1] with from_unit(x) unless that is intended.",
            stacklevel=3,
        )


def _check_optimizers(generator: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer) -> None:
    g_params = {id(p) for p in generator.parameters()}
    d_ids = [id(p) for group in opt_d.param_groups for p in group["params"]]
    g_ids = [id(p) for group in opt_g.param_groups for p in group["params"]]
    if any(i in g_params for i in d_ids) or (g_ids and not any(i in g_params for i in g_ids)):
        raise ValueError(
            "train_step: opt_g must hold the generator's parameters and opt_d the discriminator's: "
            "pass (generator, discriminator, opt_g, opt_d, real, z) in that order."
        )


def train_step(
    generator: nn.Module,
    discriminator: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    z: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
) -> Mapping[str, float]:
    """One DCGAN step: update D on a real and a fake batch, then G through D.

    Args:
        generator, discriminator: e.g. :class:`cvlib.models.gan.Generator` / ``Discriminator``
            (or the conditional pair), in the mode the caller wants (normally train).
        opt_g, opt_d: the optimisers of the generator's and of the discriminator's parameters.
        real: ``(B, C, H, W)`` float in [-1, 1] on the networks' device (a batch in [0, 1]
            is accepted with a warning: map it with :func:`from_unit`).
        z: ``(B, nz)`` float latent noise for the fake batch, same device.
        labels: ``(B,)`` int64 classes of ``real`` for the conditional networks
            (the fake batch is generated for the same classes); None for DCGAN.

    Returns:
        ``{"loss_d", "loss_g", "d_real", "d_fake"}`` floats: the two losses and the mean
        probability D gives to real and (before D's update) fake images, in [0, 1].

    Raises:
        ValueError: ``real`` is not a float 4-D batch in [-1, 1], or the optimisers are swapped.
    """
    _check_real_batch(real)
    _check_optimizers(generator, opt_g, opt_d)
    cond = () if labels is None else (labels,)
    # 1) discriminator: maximise log D(x) + log(1 - D(G(z))). detach(): no gradient into G here.
    fake = generator(z, *cond)
    d_real = discriminator(real, *cond)
    d_fake = discriminator(fake.detach(), *cond)
    loss_d = discriminator_loss(d_real, d_fake)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    # 2) generator: maximise log D(G(z)) with the just-updated D (non-saturating loss).
    loss_g = generator_loss(discriminator(fake, *cond))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {
        "loss_d": loss_d.item(),
        "loss_g": loss_g.item(),
        "d_real": torch.sigmoid(d_real).mean().item(),
        "d_fake": torch.sigmoid(d_fake).mean().item(),
    }


def sample(
    generator: nn.Module,
    n: int,
    *,
    labels: torch.Tensor | None = None,
    batch_size: int = 500,
    generator_seed: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``n`` images from ``generator`` in eval mode, from seeded N(0, 1) noise.

    Args:
        generator: a module with an ``nz`` attribute taking ``(B, nz)`` noise (and ``(B,)`` labels if conditional).
        n: how many images, a positive int. The noise is ``torch.randn(n, nz)`` from a private
            ``torch.Generator`` seeded with ``generator_seed`` (the global RNG is untouched).
        labels: ``(n,)`` int64 classes for a conditional generator, else None.
        batch_size: images per forward pass. device: where to compute; None = the generator's device.

    Returns:
        ``(n, C, H, W)`` float in [-1, 1] on the CPU. The generator's modes are restored, also if it raises.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"sample: n must be a positive int (the number of images), got {n!r}.")
    if not isinstance(getattr(generator, "nz", None), int):
        raise TypeError(
            f"sample needs a generator with an int nz attribute (its latent size), got {type(generator).__name__}."
        )
    if labels is not None and (not isinstance(labels, torch.Tensor) or labels.shape != (n,)):
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"sample: labels must be a tensor of shape ({n},), one class per image, got {shape}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"sample: batch_size must be a positive int, got {batch_size!r}.")
    device = resolve_device(generator, device)
    gen = torch.Generator().manual_seed(generator_seed)
    z = torch.randn(n, cast(int, generator.nz), generator=gen)
    out = []
    with eval_mode(generator), torch.no_grad():
        for s in range(0, n, batch_size):
            cond = () if labels is None else (labels[s : s + batch_size].to(device),)
            out.append(generator(z[s : s + batch_size].to(device), *cond).cpu())
    return torch.cat(out)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latent vectors ``z0``, ``z1`` of the same shape ``(..., nz)``.

    ``t`` in [0, 1]: a float, or a tensor broadcasting against ``(..., 1)`` (e.g. ``ts[:, None]`` for a
    path of ``len(ts)`` vectors). Returns float vectors ``(..., nz)`` (broadcast with ``t``).
    Gaussian latents live near a sphere of radius sqrt(nz); straight-line interpolation passes
    through its inside (vectors of smaller norm the generator rarely saw), slerp stays on it.
    """
    if not isinstance(z0, torch.Tensor) or not isinstance(z1, torch.Tensor) or z0.shape != z1.shape:
        shapes = [tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__ for z in (z0, z1)]
        raise ValueError(
            f"slerp needs two latent tensors of the same shape (..., nz), got {shapes[0]} and {shapes[1]}."
        )
    t = torch.as_tensor(t, dtype=z0.dtype)
    a, b = F.normalize(z0, dim=-1), F.normalize(z1, dim=-1)
    omega = torch.acos((a * b).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * z0 + (torch.sin(t * omega) / so) * z1


# ---------------------------------------------------------------- lesson 06: CycleGAN


def lsgan_loss(scores: torch.Tensor, *, real: bool) -> torch.Tensor:
    """Least-squares GAN loss (Mao et al., 2017): mean of ``(score - 1)^2`` if ``real`` else ``score^2``.

    ``scores``: float raw scores, any shape (e.g. the ``(B, 1, H', W')`` patch scores); returns a scalar.
    ``real`` is keyword-only: ``lsgan_loss(D(fake), real=True)`` is the generator's loss.
    """
    target = torch.ones_like(scores) if real else torch.zeros_like(scores)
    return F.mse_loss(scores, target)


def lsgan_discriminator_loss(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """CycleGAN's discriminator loss ``0.5 * (lsgan(D(real), real) + lsgan(D(fake), fake))``, a scalar.

    Takes the *network* and the images (unlike :func:`discriminator_loss`, which takes logits).
    ``real``, ``fake``: ``(B, C, H, W)`` float in [-1, 1]; ``fake`` is detached (the generator gets
    no gradient). The factor 1/2 slows the discriminator down relative to the generator, as in the paper.
    """
    return 0.5 * (lsgan_loss(disc(real), real=True) + lsgan_loss(disc(fake.detach()), real=False))


class ImagePool:
    """A buffer of up to ``size`` previously generated images (Shrivastava et al., 2017).

    :meth:`query` takes a batch of new fakes and returns a batch of the same shape for the
    discriminator: while the pool is filling, each new image is stored and returned; once
    it is full, each new image is, with probability 1/2, returned as is, or stored in place
    of a random old image which is returned instead. ``size=0`` returns the batch unchanged.

    Images are stored detached (no gradient reaches the generator through the pool).
    ``seed`` (keyword-only) makes the choices reproducible; the pool uses its own ``random.Random``.
    """

    def __init__(self, size: int = 50, *, seed: int | None = None) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"the pool size must be an int >= 0 (0 disables the pool), got {size!r}.")
        self.size = size
        self.images: list[torch.Tensor] = []
        self._rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` new fakes -> ``(B, C, H, W)`` a mix of new and older fakes (detached, same dtype)."""
        images = images.detach()
        if self.size == 0:
            return images
        out = []
        for image in images:
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self._rng.random() < 0.5:
                k = self._rng.randrange(self.size)
                out.append(self.images[k])
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)


def translate(generator: nn.Module, images: torch.Tensor, *, batch_size: int = 64) -> torch.Tensor:
    """Run ``generator`` in eval mode (no gradients) over ``(N, C, H, W)`` float images, in batches.

    The computation runs on the generator's device; returns ``(N, C', H', W')`` (the generator's
    output, e.g. the same shape in [-1, 1]) on the input's device. The generator's modes are
    restored afterwards, also if it raises.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        what = f"{tuple(images.shape)} {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(
            f"translate expects images as a float (B, C, H, W) batch in [-1, 1], got {what}: "
            "add a batch dimension with x.unsqueeze(0), convert uint8 with x / 127.5 - 1."
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"translate: batch_size must be a positive int, got {batch_size!r}.")
    device = model_device(generator)
    with eval_mode(generator), torch.no_grad():
        out = [
            generator(images[i : i + batch_size].to(device)).to(images.device)
            for i in range(0, len(images), batch_size)
        ]
    return torch.cat(out) if out else images.clone()


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of feature maps: ``(B, C, H, W)`` float -> ``(B, C, C)``, ``G[c, d] = mean over positions of F_c * F_d``.

    It keeps which channels fire *together* and forgets *where*: a description of style/texture
    (Gatys et al., 2016). Normalised by ``H * W`` so it does not grow with the image size.
    """
    if features.ndim != 4:
        raise ValueError(f"gram_matrix expects feature maps (B, C, H, W), got shape {tuple(features.shape)}.")
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def style_loss(features: Iterable[torch.Tensor], target_features: Iterable[torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the mean squared difference between Gram matrices, a scalar.

    Each pair: ``(B, C, H, W)`` features and ``(B, C, H', W')`` or ``(1, C, H', W')`` target features (sizes may differ).
    """
    total = None
    for f, t in zip(features, target_features, strict=True):
        term = F.mse_loss(gram_matrix(f), gram_matrix(t).expand(f.shape[0], -1, -1))
        total = term if total is None else total + term
    if total is None:
        raise ValueError("style_loss needs at least one pair of feature maps.")
    return total
