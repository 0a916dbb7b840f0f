"""Sample-quality metrics: Fréchet distance on features, class coverage, mean confidence."""

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from cvlib.metrics import (
    accuracy,
    class_coverage,
    class_histogram,
    classifier_features,
    frechet_distance,
    gaussian_stats,
    mean_confidence,
)
from cvlib.models.classic import LeNet5, SmallVGG


def _feats(n=500, d=8, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_frechet_distance_is_zero_for_identical_sets():
    a = _feats()
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, a.clone()) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_grows_with_mean_shift_as_its_square():
    a = _feats()
    shifts = [0.0, 0.5, 1.0, 2.0, 4.0]
    d = [frechet_distance(a, a + s) for s in shifts]
    assert all(x < y for x, y in itertools.pairwise(d))
    # A pure shift by s in all D=8 dims adds exactly ||s||^2 = 8 s^2.
    for s, value in zip(shifts, d):
        assert value == pytest.approx(8 * s * s, rel=1e-6, abs=1e-8)


def test_frechet_distance_known_value_for_scaled_gaussians():
    # For S_a = I and S_b = c^2 I (same mean): d^2 = D (1 + c^2 - 2c) = D (1 - c)^2.
    torch.manual_seed(0)
    a = _feats(n=4000, d=4)
    mu, cov = gaussian_stats(a)
    # whiten a so its sample covariance is exactly I and mean exactly 0
    evals, evecs = torch.linalg.eigh(cov)
    w = ((a.double() - mu) @ evecs / evals.sqrt()) @ evecs.T
    assert frechet_distance(w, 3.0 * w) == pytest.approx(4 * (1 - 3.0) ** 2, rel=1e-6)


def test_frechet_distance_matches_scipy_formula():
    a, b = _feats(300, 6, 1), _feats(200, 6, 2) * 1.5 + 0.3
    a[:, 1] += 0.8 * a[:, 0]  # correlations
    mu_a, mu_b = a.double().mean(0).numpy(), b.double().mean(0).numpy()
    s_a, s_b = np.cov(a.double().numpy(), rowvar=False), np.cov(b.double().numpy(), rowvar=False)
    covmean = scipy.linalg.sqrtm(s_a @ s_b).real
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * covmean)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_is_symmetric_and_handles_rank_deficient_covariance():
    a, b = _feats(10, 32, 3), _feats(12, 32, 4)  # N < D: singular covariances
    d_ab, d_ba = frechet_distance(a, b), frechet_distance(b, a)
    assert math.isfinite(d_ab) and d_ab > 0
    assert d_ab == pytest.approx(d_ba, rel=1e-6)


def test_frechet_distance_rejects_bad_input():
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(_feats(10, 4), _feats(10, 5))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        frechet_distance(torch.zeros(10, 2, 2), _feats(10, 4))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(_feats(1, 4), _feats(10, 4))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(torch.full((5, 4), float("nan")), _feats(10, 4))
    with pytest.raises(TypeError):
        frechet_distance(np.zeros((5, 4)), _feats(10, 4))


def test_class_coverage_histogram_and_confidence():
    # 10 samples over K=4 classes: predictions 0 x6, 1 x3, 2 x1, 3 never
    preds = torch.tensor([0] * 6 + [1] * 3 + [2])
    probs = torch.full((10, 4), 0.1)
    probs[torch.arange(10), preds] = 0.7
    assert class_histogram(probs).tolist() == pytest.approx([0.6, 0.3, 0.1, 0.0])
    assert class_coverage(probs) == pytest.approx(0.75)
    assert class_coverage(probs, min_share=0.2) == pytest.approx(0.5)
    assert mean_confidence(probs) == pytest.approx(0.7)
    collapsed = torch.zeros(50, 10)
    collapsed[:, 3] = 1.0
    assert class_coverage(collapsed) == pytest.approx(0.1)
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        class_coverage(torch.zeros(10))


@pytest.mark.parametrize("model, dim", [(SmallVGG(widths=(8, 16)), 16), (LeNet5(), 84)])
def test_classifier_features_gives_penultimate_features_and_probs(model, dim):
    images = torch.rand(7, 1, 28, 28)
    model.train()
    feats, probs = classifier_features(model, images, batch_size=3)
    assert feats.shape == (7, dim) and probs.shape == (7, 10)
    assert torch.allclose(probs.sum(1), torch.ones(7), atol=1e-5)
    assert model.training, "classifier_features restores the training mode"
    # the features are the input of the last linear layer: applying it gives the logits
    with torch.no_grad():
        model.eval()
        assert torch.allclose(model.classifier[-1](feats).softmax(1), probs, atol=1e-5)


def test_classifier_features_needs_feature_fn_for_other_models():
    with pytest.raises(ValueError, match="feature_fn"):
        classifier_features(nn.Linear(4, 2), torch.rand(3, 4))
    feats, probs = classifier_features(nn.Linear(4, 2), torch.rand(3, 4), feature_fn=lambda m, x: x)
    assert feats.shape == (3, 4) and probs.shape == (3, 2)


def test_accuracy_counts_argmax_hits_and_refuses_bad_shapes():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 0.0], [0.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 1])) == 0.75
    with pytest.raises(ValueError, match=r"logits \(N, K\) and labels \(N,\)"):
        accuracy(logits, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="empty"):
        accuracy(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))
