"""Transfer learning and data-efficient learning: the reusable pieces of lesson 02.

Used by lesson 02 (which writes each idea out first) and lesson 03. The general switches
(``freeze``, ``freeze_batchnorm``, ``eval_mode``) live in :mod:`cvlib.models.utils`.

- :func:`sample_per_class`     pick ``k`` labelled examples of every class (few-shot subsets)
- :func:`freeze_backbone`      switch gradients off except in the new head (fixed feature extractor)
- :func:`param_groups`         one learning rate for the new head, a lower one for the backbone
- :func:`extract_features`     run a frozen backbone once over a tensor of images, in batches
- :func:`train_linear_head`    fit a linear classifier on precomputed features
- :func:`distillation_loss`    Hinton et al.'s soft-target loss with a temperature
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from cvlib.models.utils import resolve_device


def sample_per_class(labels: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """Indices of ``k`` examples of every class, drawn without replacement.

    Args:
        labels: ``(N,)`` integer class labels (classes are the values present).
        k: examples per class.
        seed: the draw depends only on ``seed`` (and the labels), so runs are reproducible.

    Returns:
        ``(k * num_classes,)`` int64 indices, grouped by class in increasing class order.

    Raises:
        ValueError: ``k < 1`` or some class has fewer than ``k`` examples.
    """
    labels = torch.as_tensor(labels)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in torch.unique(labels).tolist():
        pool = torch.nonzero(labels == c).flatten().numpy()
        if len(pool) < k:
            raise ValueError(f"class {c} has only {len(pool)} examples, fewer than k={k}: lower k or add data.")
        chosen.append(np.sort(rng.choice(pool, size=k, replace=False)))
    return torch.from_numpy(np.concatenate(chosen)).long()


def freeze_backbone(model: nn.Module, head_name: str) -> tuple[int, int]:
    """Freeze every parameter of ``model`` except those of the sub-module ``head_name``.

    Args:
        head_name: dotted name of the new head (e.g. ``backbone.head_name``, ``"net._fc"``).

    Returns:
        ``(frozen, trainable)`` parameter counts.

    Raises:
        AttributeError: ``model`` has no sub-module ``head_name``.
    """
    head = model.get_submodule(head_name)
    head_ids = {id(p) for p in head.parameters()}
    frozen = trainable = 0
    for p in model.parameters():
        keep = id(p) in head_ids
        p.requires_grad_(keep)
        if keep:
            trainable += p.numel()
        else:
            frozen += p.numel()
    return frozen, trainable


def param_groups(model: nn.Module, head_name: str, lr: float, backbone_lr: float) -> list[dict]:
    """Two optimizer parameter groups: the head at ``lr``, everything else at ``backbone_lr``.

    Only parameters with ``requires_grad`` are included. Pass the result to any
    ``torch.optim`` optimizer: ``torch.optim.Adam(param_groups(model, "net._fc", 1e-3, 1e-4))``.

    Raises:
        AttributeError: ``model`` has no sub-module ``head_name``.
    """
    head_ids = {id(p) for p in model.get_submodule(head_name).parameters()}
    head = [p for p in model.parameters() if p.requires_grad and id(p) in head_ids]
    body = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]
    return [{"params": body, "lr": backbone_lr, "name": "backbone"}, {"params": head, "lr": lr, "name": "head"}]


@torch.no_grad()
def extract_features(
    embed: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    batch_size: int = 64,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """Run a frozen feature extractor once over all ``images``, in batches.

    Args:
        embed: ``(B, 3, H, W)`` -> ``(B, D)``, e.g. ``backbone.embed``.
        images: ``(N, 3, H, W)`` float in [0, 1] (on the CPU; batches are moved to ``device``).

    Returns:
        ``(N, D)`` float32 features on the CPU.
    """
    device = resolve_device(embed, device)  # default: where the extractor's model is
    out = []
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="features", disable=not progress, leave=False):
        out.append(embed(images[start : start + batch_size].to(device)).float().cpu())
    return torch.cat(out)


def train_linear_head(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    *,
    steps: int = 300,
    lr: float = 1e-2,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> nn.Linear:
    """A linear classifier ``D -> num_classes`` trained on precomputed features (full batch, Adam).

    With a frozen backbone this is the whole training: seconds on a CPU.

    Args:
        features: ``(N, D)`` float; labels: ``(N,)`` int64 in ``[0, num_classes)``.
        steps: full-batch gradient steps; ``seed`` fixes the initialisation.
    """
    if len(features) != len(labels):
        raise ValueError(f"features and labels differ in length: {len(features)} vs {len(labels)}.")
    generator = torch.Generator().manual_seed(seed)
    head = nn.Linear(features.shape[1], num_classes)
    with torch.no_grad():
        bound = 1.0 / features.shape[1] ** 0.5
        head.weight.uniform_(-bound, bound, generator=generator)
        head.bias.zero_()
    optimizer = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        loss = F.cross_entropy(head(features), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return head.eval()


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor | None = None,
    temperature: float = 4.0,
    alpha: float = 0.5,
) -> torch.Tensor:
    """Knowledge-distillation loss (Hinton, Vinyals and Dean, 2015).

    ``alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, labels)``.

    The temperature ``T`` softens both distributions so the student also learns how
    the teacher ranks the *wrong* classes; ``T^2`` keeps the gradient scale of the soft
    term independent of ``T``.

    Args:
        student_logits / teacher_logits: ``(B, C)``.
        labels: ``(B,)`` int64; ``-1`` marks an unlabelled example (soft term only); the hard
            term is the mean cross-entropy over the labelled examples. ``None``: the soft term alone.
        temperature: ``T > 0``; alpha: weight of the soft term in [0, 1].

    Returns:
        the scalar loss (mean over the batch).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}.")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student and teacher logits differ in shape: {tuple(student_logits.shape)} vs {tuple(teacher_logits.shape)}."
        )
    t = temperature
    soft = F.kl_div(
        F.log_softmax(student_logits / t, dim=1),
        F.log_softmax(teacher_logits.detach() / t, dim=1),
        reduction="batchmean",
        log_target=True,
    ) * (t * t)
    if labels is None:
        return soft
    labelled = labels >= 0
    if not bool(labelled.any()):
        return alpha * soft
    hard = F.cross_entropy(student_logits[labelled], labels[labelled])
    return alpha * soft + (1.0 - alpha) * hard
