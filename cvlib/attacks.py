"""Adversarial attacks in pixel space: FGSM, PGD (untargeted and targeted), accuracy under attack.

Lesson 04 writes FGSM out by hand first; this module is what the rest of the course calls.

Conventions shared by every function here:

- **Pixel space.** Images are ``(B, C, H, W)`` float tensors with values in [0, 1], and the
  model maps them to ``(B, num_classes)`` logits. Any normalisation ``(x - mean) / std`` lives
  *inside* the model (e.g. :class:`cvlib.models.pretrained.PixelClassifier`), so that
  ``eps`` means "each pixel moves by at most ``eps`` of its 0-1 range" and clamping to [0, 1]
  keeps the result a valid image.
- **Threat model.** An L-infinity ball: every attack returns ``x_adv`` with
  ``|x_adv - x| <= eps`` element-wise (up to float rounding, about 1e-7) and
  ``0 <= x_adv <= 1``. ``eps = 0`` returns the input unchanged.
- **White box.** The attacks use the model's gradient. During an attack the model is put in
  ``eval()`` mode (batch norm uses its running statistics, dropout is off) and its parameters
  are frozen; afterwards its mode and every parameter's ``requires_grad`` are restored exactly
  as found, and no parameter ``.grad`` is touched.
- **Untargeted vs targeted.** Untargeted attacks take the true labels ``y`` and push the loss
  *up*; targeted attacks take the wanted labels and push the loss on them *down*.

An attack is any callable ``attack(model, x, y, eps) -> x_adv`` with the shapes above; use
:func:`functools.partial` to fix other arguments, e.g. ``partial(pgd, steps=20)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from cvlib.models.utils import frozen_eval, resolve_device
from cvlib.validate import check_images

Attack = Callable[[nn.Module, torch.Tensor, torch.Tensor, float], torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

__all__ = [
    "Attack",
    "accuracy_under_attack",
    "fgsm",
    "fgsm_targeted",
    "pgd",
    "pgd_targeted",
]


def _check_eps(eps: float) -> float:
    if isinstance(eps, torch.Tensor):
        if eps.numel() != 1:
            raise ValueError(f"epsilon must be one number, got a tensor of shape {tuple(eps.shape)}.")
        eps = eps.item()
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(
            f"epsilon must be a finite number >= 0 (the L-infinity radius in pixel units, "
            f"e.g. 0.1 or 2/255), got {eps}."
        )
    if eps > 1:
        raise ValueError(
            f"epsilon {eps:g} is larger than the whole [0, 1] pixel range: for a budget in 0-255 units divide "
            f"by 255 (e.g. {eps:g}/255 = {eps / 255:.4f})."
        )
    return eps


def _check_images(x: torch.Tensor) -> None:
    check_images(x, unit_range=True, what="the images to attack")


def _check_labels(y: torch.Tensor | Sequence[int], x: torch.Tensor, what: str) -> torch.Tensor:
    y = torch.as_tensor(y, device=x.device)
    if y.ndim != 1 or len(y) != len(x) or y.is_floating_point():
        raise ValueError(
            f"{what} must be {len(x)} integer class indices, shape ({len(x)},), one per image; "
            f"got shape {tuple(y.shape)} and dtype {y.dtype}."
        )
    return y.long()


def _loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> torch.Tensor:
    """Gradient of ``loss_fn(model(x), y)`` summed over the batch, w.r.t. ``x`` only: ``(B, C, H, W)``.

    The loss is summed (not averaged) so that each image's gradient does not shrink with the
    batch size; FGSM and PGD only use its sign anyway.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(model(x), y)
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def _sum_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float(), y, reduction="sum")


def fgsm(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor | Sequence[int],
    eps: float,
    *,
    targeted: bool = False,
    loss_fn: LossFn | None = None,
) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al., 2015): one step of size ``eps``.

    Untargeted: ``x_adv = clamp(x + eps * sign(grad_x L(model(x), y)), 0, 1)``.
    Targeted: ``x_adv = clamp(x - eps * sign(grad_x L(model(x), target)), 0, 1)``.

    Args:
        model: classifier, ``(B, C, H, W)`` in [0, 1] -> ``(B, num_classes)`` logits.
        x: ``(B, C, H, W)`` float images in [0, 1] (not normalised).
        y: ``(B,)`` int64 true labels (untargeted) or target labels (``targeted=True``).
        eps: L-infinity radius in pixel units, ``>= 0`` (0.1 = a tenth of the pixel range).
        targeted: move towards ``y`` instead of away from it.
        loss_fn: ``loss_fn(logits, y) -> scalar``; default: cross-entropy summed over the batch.

    Returns:
        ``(B, C, H, W)`` detached tensor, same dtype and device as ``x``, in [0, 1], with
        ``|x_adv - x| <= eps``. ``eps == 0`` returns an unchanged copy of ``x``.

    Raises:
        ValueError: negative or non-finite ``eps``; images outside [0, 1], not float, or not a
            batch; labels of the wrong shape.
    """
    eps = _check_eps(eps)
    _check_images(x)
    y = _check_labels(y, x, "target labels" if targeted else "labels")
    if eps == 0:
        return x.detach().clone()
    with frozen_eval(model):
        grad = _loss_gradient(model, x, y, loss_fn or _sum_cross_entropy)
    direction = -grad.sign() if targeted else grad.sign()
    return (x.detach() + eps * direction).clamp_(0.0, 1.0)


def fgsm_targeted(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor | Sequence[int], eps: float, **kwargs
) -> torch.Tensor:
    """Targeted FGSM: one step that lowers the loss on ``target`` (``(B,)`` int64); see :func:`fgsm`."""
    return fgsm(model, x, target, eps, targeted=True, **kwargs)


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor | Sequence[int],
    eps: float,
    *,
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    targeted: bool = False,
    generator: torch.Generator | None = None,
    loss_fn: LossFn | None = None,
) -> torch.Tensor:
    """Projected gradient descent in the L-infinity ball (Madry et al., 2018).

    Starting from ``x`` (or a uniform random point of the ball when ``random_start``), take
    ``steps`` signed-gradient steps of size ``step_size``, each followed by a projection back
    into ``[x - eps, x + eps]`` and into [0, 1]. The last iterate is returned.

    Args:
        model, x, y, eps, targeted, loss_fn: as in :func:`fgsm`.
        steps: number of gradient steps, ``>= 1``.
        step_size: size of each step in pixel units, ``> 0``; default ``2.5 * eps / steps``,
            enough to cross the whole ball from any start.
        random_start: start from ``x + uniform(-eps, eps)`` (clamped to [0, 1]).
        generator: CPU ``torch.Generator`` for the random start (reproducible on any device);
            default: the global generator.

    Returns:
        ``(B, C, H, W)`` detached tensor in [0, 1] with ``|x_adv - x| <= eps``, same dtype and
        device as ``x``. ``eps == 0`` returns an unchanged copy of ``x``.

    Raises:
        ValueError: as :func:`fgsm`, plus ``steps < 1`` or ``step_size <= 0``.
    """
    eps = _check_eps(eps)
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}.")
    if step_size is not None and (not math.isfinite(float(step_size)) or float(step_size) <= 0):
        raise ValueError(
            f"step_size must be a number > 0 (pixel units), got {step_size!r}; or leave it None for 2.5 * eps / steps."
        )
    _check_images(x)
    y = _check_labels(y, x, "target labels" if targeted else "labels")
    if eps == 0:
        return x.detach().clone()
    alpha = float(step_size) if step_size is not None else 2.5 * eps / steps
    loss_fn = loss_fn or _sum_cross_entropy
    x = x.detach()
    lower, upper = (x - eps).clamp(min=0.0), (x + eps).clamp(max=1.0)
    x_adv = x.clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        x_adv = torch.min(torch.max(x + (2 * noise - 1) * eps, lower), upper)
    with frozen_eval(model):
        for _ in range(steps):
            grad = _loss_gradient(model, x_adv, y, loss_fn)
            step = -grad.sign() if targeted else grad.sign()
            x_adv = torch.min(torch.max(x_adv + alpha * step, lower), upper)
    return x_adv


def pgd_targeted(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor | Sequence[int], eps: float, **kwargs
) -> torch.Tensor:
    """Targeted PGD: steps that lower the loss on ``target`` (``(B,)`` int64); see :func:`pgd`."""
    return pgd(model, x, target, eps, targeted=True, **kwargs)


def accuracy_under_attack(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    attack: Attack,
    epsilons: Sequence[float],
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> dict[float, float]:
    """Robust accuracy of ``model`` on ``loader`` for each ``eps`` in ``epsilons``.

    An image counts as correct at ``eps`` if the model classifies it correctly both before
    and after ``attack(model, x, y, eps)`` (as in the PyTorch FGSM tutorial and in
    RobustBench: a misclassified image needs no attack). At ``eps = 0`` (with an attack that
    returns its input, like all in this module) this is the clean accuracy.

    Args:
        model: classifier in pixel space, ``(B, C, H, W)`` in [0, 1] -> logits.
        loader: iterable of ``(images, labels)``: ``(B, C, H, W)`` float in [0, 1], ``(B,)`` int64.
        attack: ``attack(model, x, y, eps) -> x_adv`` (e.g. :func:`fgsm`, ``partial(pgd, steps=20)``).
        epsilons: the radii to evaluate, each ``>= 0``.
        device: where to run (default: the model's device).
        progress: show a tqdm bar over batches.

    Returns:
        ``{eps: accuracy in [0, 1]}`` in the order of ``epsilons``. The model's mode and
        parameters' ``requires_grad`` are restored afterwards.

    Raises:
        ValueError: empty ``epsilons``, a negative epsilon, or an empty ``loader``.
    """
    if isinstance(epsilons, (int, float)) or (isinstance(epsilons, torch.Tensor) and epsilons.ndim == 0):
        epsilons = [epsilons]  # one radius: a scalar is accepted as a one-element list
    eps_list = list(dict.fromkeys(_check_eps(e) for e in epsilons))  # unique, in order
    if not eps_list:
        raise ValueError("epsilons is empty: give at least one radius, e.g. [0, 0.05, 0.1].")
    device = resolve_device(model, device)
    correct = {e: 0 for e in eps_list}
    seen = 0
    with frozen_eval(model):
        for x, y in tqdm(loader, desc="attacking", leave=False, disable=not progress):
            x, y = x.to(device), torch.as_tensor(y).to(device)
            with torch.no_grad():
                clean_ok = model(x).argmax(1) == y
            for e in eps_list:
                x_adv = attack(model, x, y, e)
                with torch.no_grad():
                    adv_ok = model(x_adv).argmax(1) == y
                correct[e] += int((clean_ok & adv_ok).sum())
            seen += len(y)
    if seen == 0:
        raise ValueError("the loader gave no images: nothing to evaluate.")
    return {e: correct[e] / seen for e in eps_list}
