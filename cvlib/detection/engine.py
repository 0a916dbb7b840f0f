"""Detection training (lesson 03): the warm-up + cosine learning-rate schedule and one training epoch.

Part of :mod:`cvlib.detection`, used by lesson 03 (Mask R-CNN fine-tuning). The schedule is
torch's own ``SequentialLR(LinearLR, CosineAnnealingLR)``; :func:`train_one_epoch` takes its
arguments in the order of :func:`cvlib.train.train_one_epoch` ``(model, loader, optimizer, ...)``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
from tqdm.auto import tqdm

from cvlib.models.utils import resolve_device


def warmup_cosine(
    optimizer: torch.optim.Optimizer, warmup_iters: int, total_iters: int, warmup_factor: float = 1e-3
) -> SequentialLR:
    """Per-iteration learning-rate schedule: linear warm-up from ``warmup_factor * lr``, then cosine decay to 0.

    ``SequentialLR([LinearLR(start_factor=warmup_factor, total_iters=warmup_iters),
    CosineAnnealingLR(T_max=total_iters - warmup_iters)], milestones=[warmup_iters])``: the learning rate
    is ``warmup_factor * lr`` at step 0, ``lr`` at step ``warmup_iters`` and 0 at step ``total_iters``.
    Step it after every optimizer step (:func:`train_one_epoch` does), ``total_iters`` times in all.

    Raises:
        ValueError: not ``0 <= warmup_iters <= total_iters``, ``total_iters < 1``, or ``warmup_factor`` outside (0, 1].
    """
    if total_iters < 1 or not 0 <= warmup_iters <= total_iters:
        raise ValueError(
            f"need 0 <= warmup_iters <= total_iters and total_iters >= 1, got {warmup_iters}, {total_iters}."
        )
    if not 0 < warmup_factor <= 1:
        raise ValueError(
            f"warmup_factor is the starting fraction of the learning rate: give a value in (0, 1], got {warmup_factor}."
        )
    warmup = LinearLR(optimizer, start_factor=warmup_factor, end_factor=1.0, total_iters=warmup_iters)
    cosine = CosineAnnealingLR(optimizer, T_max=max(1, total_iters - warmup_iters), eta_min=0.0)
    return SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_iters])


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device | str | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    epoch: int = 0,
    max_grad_norm: float | None = 10.0,
    progress: bool = True,
    log: list[dict[str, float]] | None = None,
) -> dict[str, float]:
    """One pass over ``loader`` (batches of ``(list of images, list of targets)``, :func:`collate_detection`).

    In train mode a torchvision detector returns its losses (``loss_classifier``,
    ``loss_box_reg``, ``loss_mask``, ``loss_objectness``, ``loss_rpn_box_reg``); their sum
    is minimised. ``device=None`` means the model's device. ``scheduler`` (e.g. :func:`warmup_cosine`)
    is stepped after every iteration. Gradients are clipped to ``max_grad_norm`` (None: no clipping).
    ``epoch`` only labels the progress bar and error messages. If ``log`` is a list, one dict of that
    iteration's losses and learning rate is appended to it per iteration.

    Returns:
        each loss averaged over the epoch's iterations, and their sum as ``"loss"`` (floats >= 0).

    Raises:
        ValueError: the loader gave no batch.
        FloatingPointError: a loss became NaN or infinite (the message suggests a lower learning rate).
    """
    device = resolve_device(model, device)
    model.train()
    sums: dict[str, float] = defaultdict(float)
    n = 0
    bar = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not progress)
    for images, targets in bar:
        images = [img.to(device) for img in images]
        targets = [{k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in t.items()} for t in targets]
        losses = model(images, targets)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"loss is {loss.item()} at epoch {epoch}, iteration {n} ({ {k: round(v.item(), 3) for k, v in losses.items()} }): "
                "lower the learning rate or lengthen the warm-up."
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        n += 1
        for k, v in losses.items():
            sums[k] += v.item()
        sums["loss"] += loss.item()
        if log is not None:
            log.append(
                {"loss": loss.item(), **{k: v.item() for k, v in losses.items()}, "lr": optimizer.param_groups[0]["lr"]}
            )
        bar.set_postfix(loss=f"{sums['loss'] / n:.3f}", lr=f"{optimizer.param_groups[0]['lr']:.2g}")
    if n == 0:
        raise ValueError(
            "train_one_epoch got an empty loader (no batch): check the dataset length and the batch sampler."
        )
    return {k: v / n for k, v in sums.items()}
