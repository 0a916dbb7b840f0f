"""Shared model utilities, the one place for them (lessons 01-07 and every task module).

- where a model lives: :func:`model_device`, :func:`resolve_device`. One rule for devices
  across cvlib: a helper's ``device=None`` means "where the model already is"; no helper
  moves a model unless it is asked to;
- modes and gradients, always restored in ``finally``: :func:`eval_mode`, :func:`frozen_eval`;
  switched for good: :func:`set_requires_grad`, :func:`freeze`, :func:`freeze_batchnorm`;
- :func:`count_parameters`, :func:`init_weights` (the N(0, 0.02) GAN initialisation).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d


def model_device(model: Any) -> torch.device:
    """The device of ``model``'s first parameter or buffer (CPU for a model without any).

    ``model`` may be an ``nn.Module``, an object with a ``.model`` module (``Backbone``) or a
    bound method of either (``backbone.embed``); anything else counts as on the CPU.
    """
    owner = getattr(model, "__self__", model)
    module = owner if isinstance(owner, nn.Module) else getattr(owner, "model", None)
    if isinstance(module, nn.Module):
        for tensor in module.parameters():
            return tensor.device
        for buffer in module.buffers():
            return buffer.device
    return torch.device("cpu")


def resolve_device(model: Any, device: torch.device | str | None = None) -> torch.device:
    """``device`` as a ``torch.device``, or ``model``'s device when it is None."""
    return torch.device(device) if device is not None else model_device(model)


def _check_module(model: Any, what: str = "model") -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{what} must be a torch.nn.Module, got {type(model).__name__}.")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode inside the ``with`` block; restore each module's own mode after.

    Restoring module by module keeps mixed states intact (e.g. a training model whose
    frozen batch-norm layers were deliberately left in eval mode), also when the body raises.
    """
    _check_module(model)
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


@contextmanager
def frozen_eval(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode with frozen parameters; restore modes and ``requires_grad`` on exit.

    Gradients can still flow to the *input* (what attacks and saliency need) but none is
    accumulated in the weights. Every module's mode and every parameter's flag come back
    exactly as they were, even if the body raises.
    """
    _check_module(model)
    flags = [(p, p.requires_grad) for p in model.parameters()]
    with eval_mode(model):
        try:
            for p, _ in flags:
                p.requires_grad_(False)
            yield model
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)


def set_requires_grad(nets: nn.Module | Iterable[nn.Module], flag: bool) -> None:
    """Switch gradients of all parameters of ``nets`` on or off (e.g. freeze the discriminators
    during the generator step of a GAN)."""
    for net in [nets] if isinstance(nets, nn.Module) else list(nets):
        _check_module(net, "each of nets")
        for p in net.parameters():
            p.requires_grad_(flag)


def freeze(module: nn.Module) -> int:
    """Switch off gradients of every parameter of ``module``; return how many scalars were frozen."""
    _check_module(module, "module")
    set_requires_grad(module, False)
    return sum(p.numel() for p in module.parameters())


def freeze_batchnorm(model: nn.Module) -> int:
    """Replace every ``nn.BatchNorm2d`` in ``model`` (in place) by torchvision's ``FrozenBatchNorm2d``.

    A frozen batch norm always normalises with the pretrained running statistics and
    affine parameters, in ``train()`` mode too: with a handful of images per batch,
    batch statistics are noisy and would overwrite what ImageNet taught (detection
    models do the same). Returns the number of layers replaced.
    """
    _check_module(model)
    replaced = 0
    for name, child in list(model.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            with torch.no_grad():
                frozen.weight.copy_(child.weight if child.affine else torch.ones_like(frozen.weight))
                frozen.bias.copy_(child.bias if child.affine else torch.zeros_like(frozen.bias))
                frozen.running_mean.copy_(child.running_mean)
                frozen.running_var.copy_(child.running_var)
            setattr(model, name, frozen.to(model_device(child)))
            replaced += 1
        else:
            replaced += freeze_batchnorm(child)
    return replaced


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (only those with ``requires_grad`` if ``trainable_only``)."""
    _check_module(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def init_weights(net: nn.Module, std: float = 0.02) -> nn.Module:
    """The DCGAN / CycleGAN initialisation, in place; returns ``net``.

    Convolutions and transposed convolutions: weights ~ N(0, ``std``), biases 0. Batch and
    instance norms with affine parameters: scale ~ N(1, ``std``), shift 0. Other layers keep
    PyTorch's defaults. Uses the global torch RNG: seed first for reproducible weights.
    """
    _check_module(net, "net")
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std!r}.")
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return net
