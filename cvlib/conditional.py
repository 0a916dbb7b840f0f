"""Conditional generation (lesson 10): pix2pix's training step, and measures of sharpness and fidelity.

The task module of lesson 10 (pix2pix, super-resolution, perceptual loss); the networks are in
:mod:`cvlib.models.pix2pix` (U-Net generator) and :mod:`cvlib.models.cyclegan` (PatchGAN); the Gram matrix
and style loss are shared with lesson 06 in :mod:`cvlib.gan`.

- :func:`pix2pix_step` -- one pix2pix step: the conditional PatchGAN sees (source, image) pairs; the
  generator minimises ``GAN + l1_weight * L1`` (Isola et al. use 100); ``gan=False`` trains on L1 alone,
  the regression baseline whose blur the lesson measures;
- :func:`gradient_energy` -- mean gradient magnitude per image: the high-frequency energy a blurred
  prediction lacks;
- :func:`psnr` and :func:`ssim` -- the distortion measures of super-resolution (PSNR in torch; SSIM
  with ``skimage.metrics.structural_similarity``);
- :func:`bicubic_resize` -- bicubic up- or down-sampling (antialiased when shrinking), the baseline of
  super-resolution and the way its low-resolution inputs are made;
- :func:`content_loss`, :func:`perceptual_distance` and :func:`style_transfer` -- losses on the feature maps of a
  pretrained network (:class:`cvlib.models.perceptual.FeatureTaps`): feature reconstruction (Johnson et al.,
  2016), a per-image perceptual distance, and Gatys et al.'s optimisation of an image's pixels towards one
  image's content and another's Gram-matrix style.

Images are float tensors ``(B, C, H, W)``: in [-1, 1] for the generator (tanh), in [0, 1] for the measures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from cvlib.gan import style_loss

__all__ = [
    "bicubic_resize",
    "content_loss",
    "gradient_energy",
    "perceptual_distance",
    "pix2pix_step",
    "psnr",
    "ssim",
    "style_transfer",
]


def _check_batch(x: object, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{what} must be a float image batch (B, C, H, W), got {got}.")
    return x


def _check_pair(pred: object, target: object) -> tuple[torch.Tensor, torch.Tensor]:
    p, t = _check_batch(pred, "pred"), _check_batch(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred {tuple(p.shape)} and target {tuple(t.shape)} must have the same shape.")
    return p, t


def pix2pix_step(
    generator: nn.Module,
    discriminator: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer | None,
    source: torch.Tensor,
    target: torch.Tensor,
    *,
    l1_weight: float = 100.0,
    gan: bool = True,
) -> Mapping[str, float]:
    """One pix2pix training step on a batch of (source, target) pairs; returns the losses.

    With ``gan``: the discriminator (a PatchGAN taking ``source`` and an image stacked on the channel
    axis) is updated to call ``(source, target)`` real and ``(source, G(source))`` fake, with the binary
    cross-entropy on every patch score; then the generator is updated on the non-saturating GAN loss
    (make D call its output real) plus ``l1_weight`` times the mean absolute error to the target.
    Without ``gan``: only the generator is updated, on the L1 term alone (``opt_d`` may be None).

    Args:
        generator: ``(B, Cs, H, W)`` -> ``(B, Ct, H, W)`` in [-1, 1] (:class:`cvlib.models.pix2pix.UNetGenerator`).
        discriminator: ``(B, Cs + Ct, H, W)`` -> patch logits (:class:`cvlib.models.cyclegan.PatchDiscriminator`).
        source, target: float batches in [-1, 1] on the networks' device.
        l1_weight: lambda of the L1 term, >= 0.

    Returns:
        ``{"loss_d", "loss_g_gan", "loss_l1"}`` floats; ``loss_d`` and ``loss_g_gan`` are NaN without ``gan``.

    Raises:
        ValueError: bad batches, a negative ``l1_weight``, or ``gan`` without ``opt_d``.
    """
    source, target = _check_batch(source, "source"), _check_batch(target, "target")
    if source.shape[0] != target.shape[0] or source.shape[-2:] != target.shape[-2:]:
        raise ValueError(f"source {tuple(source.shape)} and target {tuple(target.shape)} must be pairs (same B, H, W).")
    if l1_weight < 0:
        raise ValueError(f"l1_weight must be >= 0, got {l1_weight}.")
    if gan and opt_d is None:
        raise ValueError("pix2pix_step with gan=True needs the discriminator's optimiser opt_d.")
    fake = generator(source)
    loss_d = loss_g_gan = torch.tensor(float("nan"))
    if gan:
        assert opt_d is not None
        d_real = discriminator(torch.cat([source, target], dim=1))
        d_fake = discriminator(torch.cat([source, fake.detach()], dim=1))
        loss_d = 0.5 * (
            F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        )  # halved, as pix2pix does, so D learns more slowly than G
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        d_fake_g = discriminator(torch.cat([source, fake], dim=1))
        loss_g_gan = F.binary_cross_entropy_with_logits(d_fake_g, torch.ones_like(d_fake_g))
    loss_l1 = F.l1_loss(fake, target)
    loss_g = l1_weight * loss_l1 + (loss_g_gan if gan else 0.0)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g_gan": loss_g_gan.item(), "loss_l1": loss_l1.item()}


def gradient_energy(images: torch.Tensor) -> torch.Tensor:
    """Mean gradient magnitude of each image: ``(B, C, H, W)`` float -> ``(B,)``.

    Forward differences ``dx = I[..., :, 1:] - I[..., :, :-1]`` and ``dy`` likewise, both cropped to
    ``(H - 1) x (W - 1)``; the magnitude ``sqrt(dx² + dy²)`` averaged over positions and channels. A
    blurred image has less of it than the sharp original; a vertical step of height ``a`` across an image
    of width ``W`` gives ``a / (W - 1)``.
    """
    x = _check_batch(images, "images")
    if x.shape[-1] < 2 or x.shape[-2] < 2:
        raise ValueError(f"images must be at least 2 x 2 pixels, got {tuple(x.shape)}.")
    dx = x[..., :-1, 1:] - x[..., :-1, :-1]
    dy = x[..., 1:, :-1] - x[..., :-1, :-1]
    return torch.sqrt(dx**2 + dy**2).mean(dim=(1, 2, 3))


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio of each image in dB: ``10 log10(data_range² / MSE)`` -> ``(B,)``.

    ``inf`` where the images are identical. Equals ``skimage.metrics.peak_signal_noise_ratio`` per image.
    """
    p, t = _check_pair(pred, target)
    if not data_range > 0:
        raise ValueError(f"data_range must be > 0 (1 for images in [0, 1]), got {data_range}.")
    mse = ((p.double() - t.double()) ** 2).mean(dim=(1, 2, 3))
    return (10 * torch.log10(data_range**2 / mse)).float()


def ssim(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity of each image (``skimage.metrics.structural_similarity``, 7 x 7 windows) -> ``(B,)``.

    Images ``(B, C, H, W)`` float with values in a range of ``data_range``; colour images are compared per
    channel and averaged (``channel_axis``). Needs images of at least 7 x 7 pixels. 1 for identical images.
    """
    from skimage.metrics import structural_similarity

    p, t = _check_pair(pred, target)
    if min(p.shape[-2:]) < 7:
        raise ValueError(f"ssim needs images of at least 7 x 7 pixels (its window), got {tuple(p.shape)}.")
    a = p.detach().cpu().double().permute(0, 2, 3, 1).numpy()
    b = t.detach().cpu().double().permute(0, 2, 3, 1).numpy()
    values = [structural_similarity(x, y, data_range=data_range, channel_axis=-1) for x, y in zip(a, b)]
    return torch.from_numpy(np.asarray(values, dtype=np.float32))


def bicubic_resize(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of ``(B, C, H, W)`` float images in [0, 1] to ``size`` (antialiased when shrinking),
    clamped to [0, 1] (bicubic interpolation overshoots at edges)."""
    x = _check_batch(images, "images")
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f"size must be a positive int or (H, W), got {size!r}.")
    shrink = hw[0] < x.shape[-2] or hw[1] < x.shape[-1]
    return F.interpolate(x, size=hw, mode="bicubic", align_corners=False, antialias=shrink).clamp(0, 1)


Features = Callable[[torch.Tensor], Mapping[str, torch.Tensor]]


def content_loss(
    features: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], layers: Sequence[str]
) -> torch.Tensor:
    """Feature reconstruction loss: the sum over ``layers`` of the mean squared difference of the feature maps.

    ``features`` / ``target``: ``{layer: (B, C, H, W)}`` (e.g. from :class:`cvlib.models.perceptual.FeatureTaps`);
    a target with batch 1 is broadcast. Returns a differentiable scalar.
    """
    if not layers:
        raise ValueError("content_loss needs at least one layer name.")
    missing = [name for name in layers if name not in features or name not in target]
    if missing:
        raise ValueError(f"layer {missing[0]!r} is missing from the feature maps: tap it in the feature extractor.")
    return sum(F.mse_loss(features[n], target[n].expand_as(features[n])) for n in layers)  # type: ignore[return-value]


@torch.no_grad()
def perceptual_distance(taps: Features, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image distance in feature space: ``(B,)``, 0 for identical images.

    For every tapped layer, each position's feature vector is scaled to unit length over the channels (as
    LPIPS does, without its learned weights) and the squared differences are averaged over positions; the
    layers' averages are summed. Images ``(B, 3, H, W)`` in [0, 1].
    """
    fa, fb = taps(_check_pair(a, b)[0]), taps(b)
    total = torch.zeros(a.shape[0], device=a.device)
    for name in fa:
        na = fa[name] / (fa[name].norm(dim=1, keepdim=True) + 1e-10)
        nb = fb[name] / (fb[name].norm(dim=1, keepdim=True) + 1e-10)
        total = total + ((na - nb) ** 2).sum(dim=1).mean(dim=(1, 2)).to(total.device)
    return total


def style_transfer(
    taps: Features,
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    content_layers: Sequence[str],
    style_layers: Sequence[str],
    style_weight: float = 1e3,
    steps: int = 200,
    lr: float = 0.02,
    progress: bool = True,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> tuple[torch.Tensor, dict[str, list[float]]]:
    """Gatys et al. (2016): optimise an image, starting from ``content``, to keep its content and take ``style``'s style.

    Each step computes the tapped features of the current image and minimises
    ``content_loss(content_layers) + style_weight * style_loss(style_layers)`` (Gram matrices,
    :func:`cvlib.gan.style_loss`) with Adam on the pixels, which are kept in [0, 1].

    Args:
        taps: ``x -> {layer: features}`` covering ``content_layers`` and ``style_layers``
            (:class:`cvlib.models.perceptual.FeatureTaps`).
        content: ``(1, 3, H, W)`` in [0, 1]; style: ``(1, 3, H', W')`` in [0, 1] (any size).
        style_weight: weight of the style term; larger = more style, less content.
        callback: called after every step with ``(steps done, current image (1, 3, H, W))`` (e.g. to keep
            snapshots; the image is a detached copy).

    Returns:
        ``(image (1, 3, H, W) in [0, 1], {"content": [...], "style": [...]})``: the losses at each step,
        before that step's update (``style`` unweighted).

    Raises:
        ValueError: bad images, empty layer lists, ``steps < 1``, or a non-positive weight or rate.
    """
    for what, img in (("content", content), ("style", style)):
        x = _check_batch(img, what)
        if x.shape[0] != 1 or x.shape[1] != 3 or float(x.min()) < 0 or float(x.max()) > 1:
            raise ValueError(f"{what} must be one RGB image (1, 3, H, W) in [0, 1], got {tuple(x.shape)}.")
    if not content_layers or not style_layers or steps < 1 or not style_weight > 0 or not lr > 0:
        raise ValueError("style_transfer needs content and style layers, steps >= 1, style_weight > 0 and lr > 0.")
    with torch.no_grad():
        content_target = {k: v.detach() for k, v in taps(content).items()}
        style_target = taps(style)
        style_feats = [style_target[n].detach() for n in style_layers]
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=lr)
    history: dict[str, list[float]] = {"content": [], "style": []}
    for step in tqdm(range(steps), desc="style transfer", disable=not progress):
        feats = taps(image)
        lc = content_loss(feats, content_target, content_layers)
        ls = style_loss([feats[n] for n in style_layers], style_feats)
        history["content"].append(lc.item())
        history["style"].append(ls.item())
        optimizer.zero_grad(set_to_none=True)
        (lc + style_weight * ls).backward()
        optimizer.step()
        with torch.no_grad():
            image.clamp_(0, 1)
        if callback is not None:
            callback(step + 1, image.detach().clone())
    return image.detach(), history
