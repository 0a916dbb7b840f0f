"""Learning with fewer labels (lesson 11): augmentation, mixed labels, distillation and self-training.

The task module of lesson 11. Networks come from :mod:`cvlib.models` (e.g.
:class:`cvlib.models.classic.SmallVGG`), the distillation loss from :mod:`cvlib.transfer` (lesson 02),
and balanced label draws from :func:`cvlib.transfer.sample_per_class`.

- :func:`train_classifier` -- train a classifier from scratch on hard labels ``(N,)`` or soft targets
  ``(N, C)``, optionally with a per-image augmentation, CutMix / MixUp and label smoothing, or on a
  teacher's logits (knowledge distillation on labelled and unlabelled images);
- :func:`mix_batch` -- CutMix or MixUp of a batch (``torchvision.transforms.v2.CutMix`` / ``MixUp``):
  the mixed images and their soft labels (each row sums to 1, in proportion to the pasted area or
  the blending weight);
- :func:`soft_cross_entropy` -- cross-entropy against probability targets;
- :func:`predict_logits`, :func:`predict_probs` and :func:`accuracy` -- a trained model's logits and class
  probabilities, and accuracy;
- :func:`pseudo_labels` -- the teacher's most likely class for each unlabelled image, kept where its
  probability reaches a confidence threshold;
- :func:`self_train` -- rounds of Noisy-Student self-training: teacher -> confident pseudo-labels ->
  a student trained with noise (augmentation, dropout) on labels + pseudo-labels -> the next teacher.

Images are float tensors ``(N, C, H, W)`` in [0, 1] on the CPU; training runs on the model's device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2
from tqdm.auto import tqdm

from cvlib.transfer import distillation_loss

__all__ = [
    "BatchAffine",
    "RoundResult",
    "accuracy",
    "mix_batch",
    "predict_logits",
    "predict_probs",
    "pseudo_labels",
    "self_train",
    "soft_cross_entropy",
    "train_classifier",
]

Augment = Callable[[torch.Tensor], torch.Tensor]


class BatchAffine:
    """A random rotation, shift and scale (and optional horizontal flip) drawn **per image** of a batch, applied
    in one ``grid_sample``: ``(B, C, H, W) -> (B, C, H, W)``, zeros outside the image.

    The batched counterpart of ``v2.RandomAffine(degrees, translate, scale)`` (+ ``RandomHorizontalFlip``):
    a ``transforms.v2`` transform called on a batch draws *one* set of parameters for the whole batch, and
    calling it image by image costs more than the small networks of lesson 11 take to train. Randomness
    comes from torch's global generator (seeded by :func:`train_classifier`).

    Args:
        degrees: rotations uniform in ``[-degrees, degrees]``.
        translate: shifts uniform in ``[-translate, translate]`` times the width / height.
        scale: zoom factor uniform in ``[scale[0], scale[1]]``.
        flip: mirror half of the images left-right.
    """

    def __init__(
        self, degrees: float = 10.0, translate: float = 0.1, scale: tuple[float, float] = (1.0, 1.0), flip: bool = False
    ) -> None:
        if degrees < 0 or not 0 <= translate < 1 or not 0 < scale[0] <= scale[1]:
            raise ValueError(
                f"need degrees >= 0, 0 <= translate < 1, 0 < scale[0] <= scale[1]; got {degrees}, {translate}, {scale}."
            )
        self.degrees, self.translate, self.scale, self.flip = degrees, translate, scale, flip

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = _check_images(images)
        b = len(x)
        angle = (torch.rand(b) * 2 - 1) * self.degrees * torch.pi / 180
        zoom = self.scale[0] + torch.rand(b) * (self.scale[1] - self.scale[0])
        shift = (torch.rand(b, 2) * 2 - 1) * self.translate * 2  # grid coordinates span 2 per side
        mirror = torch.where(torch.rand(b) < 0.5, -1.0, 1.0) if self.flip else torch.ones(b)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack(
            [torch.stack([cos * mirror, -sin, shift[:, 0]], 1), torch.stack([sin * mirror, cos, shift[:, 1]], 1)], 1
        )  # (B, 2, 3): output pixel -> where to read in the input
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid.to(x.device), mode="bilinear", padding_mode="zeros", align_corners=False)

    def __repr__(self) -> str:
        return f"BatchAffine(degrees={self.degrees}, translate={self.translate}, scale={self.scale}, flip={self.flip})"


def _check_images(images: object, what: str = "images") -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{what} must be a float batch (N, C, H, W) in [0, 1], got {got}.")
    return images


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-sum_c targets[c] * log_softmax(logits)[c]``; logits and targets ``(B, C)``.

    Equals ``F.cross_entropy(logits, labels)`` when ``targets`` is one-hot; targets are probabilities
    (rows summing to 1), e.g. from :func:`mix_batch` or a smoothed label.
    """
    if logits.shape != targets.shape or logits.ndim != 2:
        raise ValueError(
            f"logits and targets must both be (B, C), got {tuple(logits.shape)} and {tuple(targets.shape)}."
        )
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def mix_batch(
    images: torch.Tensor, labels: torch.Tensor, kind: str, num_classes: int, alpha: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """CutMix or MixUp of a batch with torchvision's ``v2.CutMix`` / ``v2.MixUp`` (each image is mixed with the
    next one in the batch, with one mixing weight ``lambda ~ Beta(alpha, alpha)`` per batch).

    - MixUp: ``x = lambda x_i + (1 - lambda) x_j`` and ``y = lambda y_i + (1 - lambda) y_j``;
    - CutMix: a box of ``x_j`` is pasted into ``x_i`` and ``y = (1 - area share) y_i + (area share) y_j``.

    Args:
        images: ``(B, C, H, W)`` float; labels: ``(B,)`` int64 in ``[0, num_classes)``.
        kind: ``"cutmix"`` or ``"mixup"``.

    Returns:
        ``(mixed images (B, C, H, W), soft labels (B, num_classes) float, rows summing to 1)``.
    """
    if kind not in ("cutmix", "mixup"):
        raise ValueError(f"kind must be 'cutmix' or 'mixup', got {kind!r}.")
    _check_images(images)
    if labels.shape != (len(images),) or labels.dtype != torch.int64:
        raise ValueError(
            f"labels must be (B,) int64 for a batch of {len(images)}, got {tuple(labels.shape)} {labels.dtype}."
        )
    mixer = (
        v2.CutMix(num_classes=num_classes, alpha=alpha)
        if kind == "cutmix"
        else v2.MixUp(num_classes=num_classes, alpha=alpha)
    )
    mixed, soft = mixer(images, labels)
    return mixed, soft


def predict_probs(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Softmax probabilities ``(N, C)`` on the CPU of ``model`` (eval mode, no gradients, on its device)."""
    return predict_logits(model, images, batch_size).softmax(1)


def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Logits ``(N, C)`` on the CPU of ``model`` (eval mode, no gradients, on its device; mode restored after)."""
    _check_images(images)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = [model(images[s : s + batch_size].to(device)).cpu() for s in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out)


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of rows whose argmax equals the label: ``probs`` or logits ``(N, C)``, labels ``(N,)``."""
    if probs.ndim != 2 or labels.shape != (len(probs),):
        raise ValueError(f"need (N, C) scores and (N,) labels, got {tuple(probs.shape)} and {tuple(labels.shape)}.")
    return (probs.argmax(1) == labels).float().mean().item()


def pseudo_labels(probs: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's pseudo-labels: ``(argmax class (N,) int64, keep (N,) bool)`` with ``keep = max prob >= threshold``.

    ``threshold = 0`` keeps every image (plain pseudo-labelling); FixMatch uses 0.95.
    """
    if probs.ndim != 2:
        raise ValueError(f"probs must be (N, C) probabilities, got shape {tuple(probs.shape)}.")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}.")
    confidence, labels = probs.max(dim=1)
    return labels, confidence >= threshold


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 5e-4,
    augment: Augment | None = None,
    batch_augment: Augment | None = None,
    mix: str | None = None,
    mix_alpha: float = 1.0,
    num_classes: int | None = None,
    label_smoothing: float = 0.0,
    teacher_logits: torch.Tensor | None = None,
    temperature: float = 4.0,
    alpha: float = 0.9,
    balanced: bool = False,
    seed: int = 0,
    progress: bool = False,
) -> nn.Module:
    """Train ``model`` (already on its device) on ``images`` for ``steps`` Adam steps with a cosine schedule.

    Args:
        images: ``(N, C, H, W)`` float in [0, 1] (CPU).
        targets: ``(N,)`` int64 labels (``-1`` = unlabelled, only with ``teacher_logits``) or ``(N, K)`` soft targets.
        augment: applied to each image of a batch, ``(C, H, W) -> (C, H, W)`` (e.g. a ``transforms.v2`` pipeline).
        batch_augment: applied to the whole batch, ``(B, C, H, W) -> (B, C, H, W)`` (e.g. :class:`BatchAffine`).
        mix: ``"cutmix"`` or ``"mixup"`` on each batch (hard labels only; give ``num_classes``), or None.
        label_smoothing: passed to the cross-entropy (hard labels only).
        teacher_logits: ``(N, K)``: knowledge distillation (:func:`cvlib.transfer.distillation_loss` with
            ``temperature`` and ``alpha``; unlabelled images get the soft term only).
        balanced: draw batches class-balanced (each example weighted by 1 / its class's count; hard labels):
            pseudo-labels are rarely balanced, and a class the teacher doubts would otherwise fade.
        seed: fixes the batch order, the augmentation's and the mixing's randomness.

    Returns:
        the trained model, in eval mode.
    """
    _check_images(images)
    if len(targets) != len(images):
        raise ValueError(f"images and targets differ in length: {len(images)} vs {len(targets)}.")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got {steps} and {batch_size}.")
    soft_targets = targets.ndim == 2
    if (mix or label_smoothing) and (soft_targets or teacher_logits is not None):
        raise ValueError("mix and label_smoothing take hard labels (N,) without teacher_logits.")
    if mix is not None and num_classes is None:
        raise ValueError("mix needs num_classes (the width of the soft labels).")
    if teacher_logits is None and not soft_targets and bool((targets < 0).any()):
        raise ValueError("targets of -1 (unlabelled) need teacher_logits: drop them or distil.")
    if balanced and (soft_targets or bool((targets < 0).any())):
        raise ValueError("balanced sampling needs hard labels (N,) for every image.")
    weights = None
    if balanced:
        counts = torch.bincount(targets).float()
        weights = 1.0 / counts[targets]
    device = next(model.parameters()).device
    torch.manual_seed(seed)  # dropout, v2's random parameters, CutMix/MixUp's lambda
    order = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    model.train()
    for _ in tqdm(range(steps), desc="training", disable=not progress, leave=False):
        if weights is None:
            idx = torch.randint(0, len(images), (batch_size,), generator=order)
        else:
            idx = torch.multinomial(weights, batch_size, replacement=True, generator=order)
        x, y = images[idx], targets[idx]
        if augment is not None:
            x = torch.stack([augment(img) for img in x])
        if batch_augment is not None:
            x = batch_augment(x)
        if mix is not None:
            assert num_classes is not None
            x, y = mix_batch(x, y, mix, num_classes, mix_alpha)
        logits = model(x.to(device))
        if teacher_logits is not None:
            loss = distillation_loss(logits, teacher_logits[idx].to(device), y.to(device), temperature, alpha)
        elif y.ndim == 2:
            loss = soft_cross_entropy(logits, y.to(device))
        else:
            loss = F.cross_entropy(logits, y.to(device), label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()


@dataclass
class RoundResult:
    """One round of :func:`self_train`: the pseudo-labels it trained on and the student it produced."""

    round: int
    coverage: float  # share of the unlabelled images whose pseudo-label was kept
    pseudo_accuracy: float  # accuracy of the kept pseudo-labels (NaN without true labels)
    test_accuracy: float  # the student's held-out accuracy (NaN without a test set)
    model: nn.Module = field(repr=False)


def self_train(
    make_model: Callable[[], nn.Module],
    labelled: tuple[torch.Tensor, torch.Tensor],
    unlabelled: torch.Tensor,
    *,
    rounds: int,
    threshold: float,
    steps: int,
    augment: Augment | None = None,
    teacher: nn.Module | None = None,
    unlabelled_truth: torch.Tensor | None = None,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    seed: int = 0,
    **train_kwargs: Any,
) -> list[RoundResult]:
    """Noisy-Student self-training (Xie et al., 2020), ``rounds`` times.

    Round 0 trains a teacher on the labelled images alone (unless ``teacher`` is given). Each round then
    (1) pseudo-labels ``unlabelled`` with the current teacher, keeping the confident ones
    (:func:`pseudo_labels`), (2) trains a fresh ``make_model()`` -- with ``augment`` and the model's own
    dropout as noise -- on the labelled images plus the kept pseudo-labelled ones, and (3) makes that
    student the next teacher.

    Args:
        make_model: builds a fresh network on its device (students may be larger than the teacher).
        labelled: ``(images (L, C, H, W), labels (L,))``; unlabelled: ``(U, C, H, W)``.
        unlabelled_truth / test: optional true labels of the unlabelled images and a held-out set, only to
            *report* pseudo-label accuracy and test accuracy (never used for training).
        train_kwargs: passed to :func:`train_classifier` (e.g. ``batch_size``, ``lr``).

    Returns:
        one :class:`RoundResult` per round, the round-0 teacher first (coverage 0).
    """
    images, labels = labelled
    _check_images(images, "labelled images")
    _check_images(unlabelled, "unlabelled images")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}.")

    def test_accuracy(model: nn.Module) -> float:
        return accuracy(predict_probs(model, test[0]), test[1]) if test is not None else float("nan")

    if teacher is None:
        teacher = train_classifier(
            make_model(), images, labels, steps=steps, augment=augment, seed=seed, **train_kwargs
        )  # type: ignore[arg-type]
    results = [RoundResult(0, 0.0, float("nan"), test_accuracy(teacher), teacher)]
    for r in range(1, rounds + 1):
        guess, keep = pseudo_labels(predict_probs(teacher, unlabelled), threshold)
        pseudo_acc = (
            float((guess[keep] == unlabelled_truth[keep]).float().mean())
            if unlabelled_truth is not None and keep.any()
            else float("nan")
        )
        x = torch.cat([images, unlabelled[keep]])
        y = torch.cat([labels, guess[keep]])
        student = train_classifier(make_model(), x, y, steps=steps, augment=augment, seed=seed + r, **train_kwargs)
        results.append(RoundResult(r, float(keep.float().mean()), pseudo_acc, test_accuracy(student), student))
        teacher = student
    return results
