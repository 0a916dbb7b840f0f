"""Sample-quality scores for generative models, computed on features of a classifier.

The Fréchet Inception Distance (FID, Heusel et al., 2017) fits a Gaussian to
Inception-v3 features of real images and another to features of generated
images, and measures the Fréchet (2-Wasserstein) distance between the two
Gaussians. :func:`frechet_distance` is exactly that formula, but on *any*
feature vectors: the lessons use the penultimate layer of a classifier trained
on the real data (offline, no Inception weights), so the numbers are comparable
within a lesson, not with published FIDs.

- :func:`frechet_distance`  ``(N, D)`` and ``(M, D)`` features -> one float (0 = same Gaussian)
- :func:`class_coverage`    fraction of classes the classifier predicts among samples
- :func:`class_histogram`   share of samples per predicted class
- :func:`mean_confidence`   mean max-probability of the classifier on the samples
- :func:`classifier_features`  penultimate features + probabilities of a classifier, batched, no grad
- :func:`accuracy`          share of ``(N, K)`` logits whose arg-max is the label

Used by lessons 02, 04 (accuracy) and 05 (sample quality).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import nn

from cvlib.models.utils import eval_mode, resolve_device


def _check_features(feats: torch.Tensor, name: str) -> None:
    if not isinstance(feats, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, D), got {type(feats).__name__}.")
    if feats.ndim != 2:
        raise ValueError(
            f"{name} must have shape (N, D) (one feature vector per row), got {tuple(feats.shape)}: flatten it first."
        )
    if feats.shape[0] < 2:
        raise ValueError(f"{name} has {feats.shape[0]} row(s): a covariance needs at least 2 samples (use hundreds).")
    if not torch.isfinite(feats).all():
        raise ValueError(f"{name} contains NaN or infinite values: check the model that produced the features.")


def gaussian_stats(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` of ``(N, D)`` features, in float64."""
    _check_features(feats, "feats")
    x = feats.detach().to(torch.float64).cpu()
    mu = x.mean(0)
    xc = x - mu
    cov = xc.T @ xc / (x.shape[0] - 1)
    return mu, cov


def _sqrt_psd(mat: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix (float64)."""
    vals, vecs = torch.linalg.eigh((mat + mat.T) / 2)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors.

    ``d² = ||mu_a - mu_b||² + Tr(S_a + S_b - 2 (S_a^½ S_b S_a^½)^½)``

    the formula of FID (there with Inception-v3 pool features, D = 2048). It
    is 0 for identical feature sets, grows with the squared distance between
    the means and with any difference in spread or correlation. Note that it
    is a *squared* distance, as FID reports it.

    Args:
        feats_a: ``(N, D)`` float features (e.g. of real images), N >= 2.
        feats_b: ``(M, D)`` float features (e.g. of generated images), M >= 2,
            same D. Use N, M well above D for a stable covariance estimate
            (FID uses 10,000+ samples for D = 2048; a few hundred for D = 64).

    Returns:
        The distance as a Python float >= 0 (computed in float64 on CPU).

    Raises:
        ValueError / TypeError: wrong shapes, too few rows, non-finite values.
    """
    _check_features(feats_a, "feats_a")
    _check_features(feats_b, "feats_b")
    if feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(
            f"feature sizes differ: feats_a has D={feats_a.shape[1]}, feats_b has D={feats_b.shape[1]}: "
            "extract both with the same model and layer."
        )
    mu_a, cov_a = gaussian_stats(feats_a)
    mu_b, cov_b = gaussian_stats(feats_b)
    # Tr((S_a S_b)^½) = Tr((S_a^½ S_b S_a^½)^½): the inner matrix is symmetric PSD, so its
    # eigenvalues are real and >= 0 (up to round-off, clamped) -- no complex sqrtm needed.
    root_a = _sqrt_psd(cov_a)
    inner = root_a @ cov_b @ root_a
    eig = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp(min=0)
    trace_term = cov_a.trace() + cov_b.trace() - 2 * eig.sqrt().sum()
    d2 = (mu_a - mu_b).pow(2).sum() + trace_term
    return max(float(d2), 0.0)


def _check_probs(probs: torch.Tensor) -> None:
    if not isinstance(probs, torch.Tensor) or probs.ndim != 2:
        shape = tuple(probs.shape) if isinstance(probs, torch.Tensor) else type(probs).__name__
        raise ValueError(f"expected class probabilities of shape (N, K), got {shape}: use logits.softmax(1).")
    if probs.shape[0] == 0:
        raise ValueError("expected at least one sample, got an empty (0, K) tensor.")


def class_histogram(probs: torch.Tensor) -> torch.Tensor:
    """Share of samples per predicted class: ``(N, K)`` probabilities -> ``(K,)`` float summing to 1."""
    _check_probs(probs)
    counts = torch.bincount(probs.argmax(1).cpu(), minlength=probs.shape[1]).double()
    return (counts / counts.sum()).float()


def class_coverage(probs: torch.Tensor, min_share: float = 0.0) -> float:
    """Fraction of the K classes predicted for more than ``min_share`` of the samples.

    Args:
        probs: ``(N, K)`` class probabilities (or logits: only the argmax is used).
        min_share: a class counts only if at least this share of samples is predicted
            as it (e.g. 0.03 = 3 %); 0 counts any class predicted at least once.

    Returns:
        A float in [0, 1]; 1.0 means every class is produced. A generator that
        suffers mode collapse covers few classes.
    """
    hist = class_histogram(probs)
    covered = (hist > 0) & (hist >= min_share)
    return covered.float().mean().item()


def mean_confidence(probs: torch.Tensor) -> float:
    """Mean of the max class probability over ``(N, K)`` probabilities: in [1/K, 1].

    High when the classifier is sure what each sample is (samples look like
    clean members of one class), low for blurry or in-between samples.
    """
    _check_probs(probs)
    return probs.max(1).values.double().mean().item()


@torch.no_grad()
def classifier_features(
    model: nn.Module,
    images: torch.Tensor,
    feature_fn: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features and class probabilities of a classifier, in eval mode.

    Args:
        model: a classifier with ``features`` and ``classifier`` parts (the
            ``cvlib.models.classic`` CNNs) or any model if ``feature_fn`` is given.
        images: ``(N, C, H, W)`` float in the classifier's input range (the
            classic CNNs in the lessons are trained on [0, 1]; map GAN output
            from [-1, 1] with ``(x + 1) / 2`` first).
        feature_fn: ``(model, x) -> (B, D)`` features; default: the input of the
            last linear layer, ``model.classifier[:-1](model.features(x))``
            (64-d pooled features for SmallVGG, 84-d for LeNet5).

    Returns:
        ``(N, D)`` float32 features and ``(N, K)`` float32 probabilities (CPU).
    """
    if feature_fn is None:
        head = getattr(model, "classifier", None)
        if not (hasattr(model, "features") and isinstance(head, nn.Sequential) and isinstance(head[-1], nn.Linear)):
            raise ValueError(
                f"{type(model).__name__} has no .features and .classifier ending in nn.Linear: "
                "pass feature_fn=lambda m, x: ... returning (B, D) features."
            )

        def feature_fn(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
            head = cast(nn.Sequential, m.classifier)
            return head[:-1](cast(nn.Module, m.features)(x)).flatten(1)

    device = resolve_device(model, device)
    feats, probs = [], []
    with torch.no_grad(), eval_mode(model):
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device)
            feats.append(feature_fn(model, x).float().cpu())
            probs.append(model(x).float().softmax(1).cpu())
    return torch.cat(feats), torch.cat(probs)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of rows of ``logits`` ``(N, K)`` whose arg-max equals ``labels`` ``(N,)`` int (any devices)."""
    if logits.ndim != 2 or labels.ndim != 1 or len(logits) != len(labels):
        raise ValueError(
            f"accuracy needs logits (N, K) and labels (N,), got {tuple(logits.shape)} and {tuple(labels.shape)}."
        )
    if len(labels) == 0:
        raise ValueError("accuracy of an empty batch is undefined: pass at least one example.")
    return (logits.argmax(1).cpu() == labels.cpu()).float().mean().item()
