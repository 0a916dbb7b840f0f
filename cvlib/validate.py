"""Input checks shared by every public entry point that takes images (all lessons).

One place for the one-line errors a learner sees when a batch of images is not what a
function expects: a single ``(C, H, W)`` image instead of a batch, ``uint8`` pixels,
values in [0, 255], NaN or infinite values, the wrong number of channels; and
:func:`check_int` for integer options (counts, sizes, seeds). Imports only torch, so
``cvlib.data``, ``cvlib.models`` and every task module can use it.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import torch


def check_images(
    x: Any,
    *,
    channels: int | None = None,
    unit_range: bool = False,
    finite: bool = True,
    min_size: int = 1,
    what: str = "images",
) -> None:
    """Raise one clear ``TypeError``/``ValueError`` line unless ``x`` is a usable image batch.

    Requires a ``torch.Tensor`` of shape ``(B, C, H, W)`` with ``B >= 1``, a floating dtype,
    ``C == channels`` (if given) and ``H, W >= min_size``; with ``finite`` no NaN/inf (one
    pass over the values); with ``unit_range`` values in [0, 1] (pixel space, before any
    normalisation). ``what`` names the argument in the message.
    """
    c = "C" if channels is None else str(channels)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor of shape (B, {c}, H, W), got {type(x).__name__}.")
    if x.ndim == 3:
        raise ValueError(
            f"{what} must be a batch (B, {c}, H, W), got one image of shape {tuple(x.shape)}: "
            "add the batch dimension with x.unsqueeze(0)."
        )
    if x.ndim != 4:
        raise ValueError(f"{what} must be a batch of shape (B, {c}, H, W), got shape {tuple(x.shape)}.")
    if channels is not None and x.shape[1] != channels:
        hint = (
            " (channels last? use x.permute(0, 3, 1, 2))"
            if x.shape[-1] == channels
            else f": convert the images, or build the model with in_channels={x.shape[1]}"
        )
        raise ValueError(f"{what} must have {channels} channel(s), (B, {channels}, H, W), got {tuple(x.shape)}{hint}.")
    if x.shape[0] == 0:
        raise ValueError(f"{what} is an empty batch {tuple(x.shape)}: pass at least one image.")
    if min(x.shape[-2:]) < min_size:
        raise ValueError(
            f"{what} must be at least {min_size}x{min_size} pixels, got {tuple(x.shape[-2:])}: resize them first."
        )
    if not x.is_floating_point():
        raise ValueError(f"{what} must be float, got {x.dtype}: convert with x.float() / 255 (uint8 pixels -> [0, 1]).")
    if not (finite or unit_range):
        return
    x = x.detach()
    if finite and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{what} contain {bad} NaN or infinite value(s): fix the data or the step that produced them.")
    if unit_range:
        lo, hi = float(x.min()), float(x.max())
        if hi > 2.0 and lo >= 0.0 and hi <= 255.0:
            raise ValueError(
                f"{what} have values up to {hi:.4g}: that looks like 0-255 pixels, divide by 255 (expected [0, 1])."
            )
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{what} must be pixels in [0, 1], got values in [{lo:.3g}, {hi:.3g}]: pass the images before "
                "normalisation and put the normalisation inside the model (cvlib.models.pretrained.PixelClassifier)."
            )


def check_int(name: str, value: object, lo: int, hi: int | None = None, allow_none: bool = False) -> int | None:
    """``value`` as an ``int`` if it is an integer (Python or NumPy, not bool) in ``lo..hi``; else one clear ValueError.

    ``hi=None``: no upper bound; ``allow_none``: ``None`` passes (and is returned).
    """
    if allow_none and value is None:
        return None
    number = int(value) if isinstance(value, Integral) and not isinstance(value, bool) else None
    if number is None or number < lo or (hi is not None and number > hi):
        allowed = f"an integer >= {lo}" if hi is None else f"an integer in {lo}..{hi}"
        raise ValueError(f"{name}={value!r} is not allowed: use {allowed}" + (" or None." if allow_none else "."))
    return number
