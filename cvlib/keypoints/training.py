"""Training and batched inference for single-instance keypoint networks (lesson 09).

:func:`train_keypoints` draws random mini-batches from in-memory tensors, flips half of them
horizontally (mirroring the x coordinates and swapping left/right keypoints), and takes one-cycle
AdamW steps (:func:`cvlib.train.one_cycle_adamw`) on a loss the lesson writes itself;
:func:`forward_batches` runs a network over many images without gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from tqdm.auto import tqdm

from cvlib.models.utils import eval_mode, resolve_device
from cvlib.train import one_cycle_adamw, optimizer_step

__all__ = ["flip_keypoints", "forward_batches", "train_keypoints"]


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 255 if x.dtype == torch.uint8 else x.float()


def flip_keypoints(keypoints: torch.Tensor, width: int, flip_pairs: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Keypoints of horizontally flipped images: ``x -> width - 1 - x`` and left/right swapped.

    Args:
        keypoints: ``(..., K, 3)`` float ``(x, y, v)`` in pixels (an integer x is a pixel centre, so the
            mirror of pixel column ``j`` is ``width - 1 - j``); unlabelled keypoints (``v == 0``) stay ``(0, 0, 0)``.
        flip_pairs: 0-based index pairs ``(left, right)`` that trade places.

    Returns:
        a new tensor of the same shape.
    """
    if keypoints.ndim < 2 or keypoints.shape[-1] != 3:
        raise ValueError(f"keypoints must be (..., K, 3) as (x, y, v), got {tuple(keypoints.shape)}.")
    k = keypoints.shape[-2]
    order = list(range(k))
    for a, b in flip_pairs:
        if not (0 <= a < k and 0 <= b < k):
            raise ValueError(f"flip pair {(a, b)} is outside 0..{k - 1}.")
        order[a], order[b] = b, a
    out = keypoints[..., order, :].clone()
    labelled = out[..., 2] > 0
    out[..., 0] = torch.where(labelled, width - 1 - out[..., 0], out[..., 0])
    return out


def train_keypoints(
    model: torch.nn.Module,
    images: torch.Tensor,
    keypoints: torch.Tensor,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    steps: int,
    batch_size: int = 16,
    lr: float = 3e-3,
    encoder_lr: float | None = None,
    weight_decay: float = 1e-4,
    flip_pairs: Sequence[tuple[int, int]] | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    channels_last: bool = True,
    progress: bool = True,
) -> list[float]:
    """Train ``model`` for ``steps`` random mini-batches; return the losses (one per step). Leaves eval mode.

    Args:
        images: ``(N, 3, H, W)`` uint8 (0..255) or float in [0, 1]; keypoints: ``(N, K, 3)`` float (x, y, v),
            one instance per image.
        loss_fn: ``loss_fn(model(x), keypoints_batch)`` -> scalar; the batch keypoints are on ``device``.
        flip_pairs: if given, each image is flipped horizontally with probability 1/2 (with
            :func:`flip_keypoints`); None: no flips (a network must then not rely on them).
        seed: seeds the batch draws and flips (the model's initialisation is the caller's).
        encoder_lr: peak learning rate of ``model.encoder`` (default ``lr``).

    Raises:
        ValueError: bad shapes or counts; FloatingPointError on a NaN or infinite loss.
    """
    if images.ndim != 4 or images.shape[1] != 3 or keypoints.ndim != 3 or keypoints.shape[-1] != 3:
        raise ValueError(
            f"expected images (N, 3, H, W) and keypoints (N, K, 3), got {tuple(images.shape)} and {tuple(keypoints.shape)}."
        )
    if len(images) != len(keypoints) or len(images) == 0:
        raise ValueError(f"need one keypoint set per image and at least one image: {len(images)} vs {len(keypoints)}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    device = resolve_device(model, device)
    optimizer, schedule = one_cycle_adamw(model, steps, lr, encoder_lr, weight_decay)
    generator = torch.Generator().manual_seed(seed)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=memory).train()
    width = images.shape[-1]
    losses: list[float] = []
    bar = tqdm(range(steps), desc="training", disable=not progress)
    for step in bar:
        idx = torch.randint(0, len(images), (batch_size,), generator=generator)
        x, kp = _as_float(images[idx.to(images.device)].to(device)), keypoints[idx.to(keypoints.device)].to(device)
        if flip_pairs is not None:
            flip = (torch.rand(batch_size, generator=generator) < 0.5).to(device)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            kp = torch.where(flip[:, None, None], flip_keypoints(kp, width, flip_pairs), kp)
        loss = loss_fn(model(x.contiguous(memory_format=memory)), kp)
        losses.append(optimizer_step(loss, optimizer, schedule, step))
        if step % 10 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
    model.eval()
    return losses


@torch.no_grad()
def forward_batches(
    model: torch.nn.Module, images: torch.Tensor, batch_size: int = 64, device: torch.device | str | None = None
) -> torch.Tensor:
    """``model`` on ``images`` (``(N, 3, H, W)`` uint8 or float in [0, 1]) in batches, eval mode (restored
    afterwards), no gradients; the outputs concatenated on the CPU as float32. ``device=None``: the model's."""
    if images.ndim != 4 or images.shape[1] != 3 or len(images) == 0:
        raise ValueError(f"forward_batches expects images (N >= 1, 3, H, W), got {tuple(images.shape)}.")
    device = resolve_device(model, device)
    with eval_mode(model):
        outs = [
            model(_as_float(images[i : i + batch_size].to(device))).float().cpu()
            for i in range(0, len(images), batch_size)
        ]
    return torch.cat(outs)
