"""Shared model utilities: where a model lives (used by every task module, lessons 01-07).

One rule for devices across cvlib: a helper's ``device=None`` means "where the
model already is"; no helper moves a model unless it is asked to.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


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
        for tensor in module.buffers():
            return tensor.device
    return torch.device("cpu")


def resolve_device(model: Any, device: torch.device | str | None = None) -> torch.device:
    """``device`` as a ``torch.device``, or ``model``'s device when it is None."""
    return torch.device(device) if device is not None else model_device(model)
