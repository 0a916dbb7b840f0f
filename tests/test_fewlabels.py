"""cvlib.fewlabels: mixed labels, soft cross-entropy, pseudo-labels, training on few labels and self-training."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cvlib.fewlabels import (
    accuracy,
    mix_batch,
    predict_probs,
    pseudo_labels,
    self_train,
    soft_cross_entropy,
    train_classifier,
)


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    """Image 0 all zeros (class 0), image 1 all ones (class 1): what is pasted or blended is visible."""
    return torch.stack([torch.zeros(1, 16, 16), torch.ones(1, 16, 16)]), torch.tensor([0, 1])


@pytest.mark.parametrize("seed", range(5))
def test_cutmix_labels_sum_to_one_and_match_the_pasted_area(seed):
    torch.manual_seed(seed)
    images, labels = _pair()
    mixed, soft = mix_batch(images, labels, "cutmix", num_classes=3)
    assert soft.shape == (2, 3) and torch.allclose(soft.sum(1), torch.ones(2))
    assert soft[:, 2].abs().max() == 0  # a class in neither image gets nothing
    pasted = mixed[0].mean().item()  # image 0 is zeros: its ones came from image 1
    assert soft[0, 1].item() == pytest.approx(pasted, abs=1e-6)
    assert soft[1, 0].item() == pytest.approx(1 - mixed[1].mean().item(), abs=1e-6)
    assert set(mixed.unique().tolist()) <= {0.0, 1.0}  # pasted, never blended


@pytest.mark.parametrize("seed", range(3))
def test_mixup_blends_images_and_labels_with_the_same_weight(seed):
    torch.manual_seed(seed)
    images, labels = _pair()
    mixed, soft = mix_batch(images, labels, "mixup", num_classes=2, alpha=0.4)
    assert torch.allclose(soft.sum(1), torch.ones(2))
    weight_of_image_1 = mixed[0, 0, 0, 0].item()  # zeros blended with ones: the weight of the ones
    assert torch.allclose(mixed[0], torch.full_like(mixed[0], weight_of_image_1))
    assert soft[0, 1].item() == pytest.approx(weight_of_image_1, abs=1e-6)


def test_mix_batch_errors():
    images, labels = _pair()
    with pytest.raises(ValueError, match="cutmix"):
        mix_batch(images, labels, "cutout", num_classes=2)
    with pytest.raises(ValueError, match="int64"):
        mix_batch(images, labels.float(), "mixup", num_classes=2)


def test_soft_cross_entropy_equals_cross_entropy_on_one_hot_and_a_hand_value():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    labels = torch.tensor([0, 2])
    assert torch.isclose(soft_cross_entropy(logits, F.one_hot(labels, 3).float()), F.cross_entropy(logits, labels))
    half = torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    logp = F.log_softmax(logits, 1)
    by_hand = -(0.5 * (logp[0, 0] + logp[0, 1]) + 0.5 * (logp[1, 0] + logp[1, 1])) / 2
    assert torch.isclose(soft_cross_entropy(logits, half), by_hand)
    with pytest.raises(ValueError, match="both be"):
        soft_cross_entropy(logits, half[:1])


def test_pseudo_labels_keep_only_confident_predictions():
    probs = torch.tensor([[0.96, 0.04], [0.60, 0.40], [0.05, 0.95], [0.5, 0.5]])
    labels, keep = pseudo_labels(probs, threshold=0.95)
    assert labels.tolist() == [0, 0, 1, 0] and keep.tolist() == [True, False, True, False]
    assert pseudo_labels(probs, threshold=0.0)[1].all()  # plain pseudo-labelling keeps everything
    with pytest.raises(ValueError, match="threshold"):
        pseudo_labels(probs, threshold=1.5)


def _toy(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: the left half is bright; class 1: the right half; plus noise. (n, 1, 8, 8)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = 0.3 * torch.rand(n, 1, 8, 8, generator=g)
    for i, c in enumerate(labels.tolist()):
        images[i, 0, :, 4 * c : 4 * c + 4] += 0.6
    return images.clamp(0, 1), labels


def _tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 2)
    )


def test_train_classifier_learns_with_hard_soft_mixed_and_distilled_targets():
    x, y = _toy(200, 0)
    xt, yt = _toy(100, 1)
    hard = train_classifier(_tiny(), x, y, steps=60, batch_size=32, lr=0.03)
    assert accuracy(predict_probs(hard, xt), yt) >= 0.95
    assert not hard.training
    soft = train_classifier(_tiny(), x, F.one_hot(y, 2).float(), steps=60, batch_size=32, lr=0.03)
    assert accuracy(predict_probs(soft, xt), yt) >= 0.95
    mixed = train_classifier(_tiny(), x, y, steps=60, batch_size=32, lr=0.03, mix="cutmix", num_classes=2)
    assert accuracy(predict_probs(mixed, xt), yt) >= 0.9
    teacher_logits = predict_probs(hard, x).log()
    unlabelled = torch.full_like(y, -1)  # no label at all: the teacher's soft targets only
    student = train_classifier(_tiny(), x, unlabelled, steps=60, batch_size=32, lr=0.03, teacher_logits=teacher_logits)
    assert accuracy(predict_probs(student, xt), yt) >= 0.95
    probs = predict_probs(hard, xt)
    assert probs.shape == (100, 2) and torch.allclose(probs.sum(1), torch.ones(100))


def test_train_classifier_is_deterministic_from_its_seed_and_checks_its_input():
    x, y = _toy(64, 2)
    a = train_classifier(_tiny(), x, y, steps=5, seed=3)
    b = train_classifier(_tiny(), x, y, steps=5, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="differ in length"):
        train_classifier(_tiny(), x, y[:10], steps=1)
    with pytest.raises(ValueError, match="teacher_logits"):
        train_classifier(_tiny(), x, torch.full_like(y, -1), steps=1)
    with pytest.raises(ValueError, match="num_classes"):
        train_classifier(_tiny(), x, y, steps=1, mix="mixup")
    with pytest.raises(ValueError, match="float batch"):
        train_classifier(_tiny(), x[0], y, steps=1)


def test_self_train_rounds_report_coverage_pseudo_accuracy_and_test_accuracy():
    x, y = _toy(300, 4)
    labelled, unlabelled, truth = (x[:10], y[:10]), x[10:], y[10:]
    results = self_train(
        _tiny,
        labelled,
        unlabelled,
        rounds=2,
        threshold=0.8,
        steps=40,
        batch_size=16,
        lr=0.03,
        unlabelled_truth=truth,
        test=_toy(100, 5),
    )
    assert [r.round for r in results] == [0, 1, 2]
    assert results[0].coverage == 0.0 and math.isnan(results[0].pseudo_accuracy)
    for r in results[1:]:
        assert 0.0 < r.coverage <= 1.0 and 0.5 <= r.pseudo_accuracy <= 1.0
        assert 0.0 <= r.test_accuracy <= 1.0
    assert results[-1].model is not results[0].model
    with pytest.raises(ValueError, match="rounds"):
        self_train(_tiny, labelled, unlabelled, rounds=0, threshold=0.8, steps=1)


def test_batch_affine_is_the_identity_without_randomness_and_draws_per_image():
    from cvlib.fewlabels import BatchAffine

    x = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(BatchAffine(degrees=0, translate=0)(x), x, atol=1e-5)
    torch.manual_seed(1)
    flipped = BatchAffine(degrees=0, translate=0, flip=True)(x)
    mirrored = [torch.allclose(f, img.flip(-1), atol=1e-5) for f, img in zip(flipped, x)]
    kept = [torch.allclose(f, img, atol=1e-5) for f, img in zip(flipped, x)]
    assert all(m or k for m, k in zip(mirrored, kept))  # each image is flipped or left as it was
    ones = torch.ones(64, 1, 16, 16)
    moved = BatchAffine(degrees=0, translate=0.25)(ones)
    assert moved.shape == ones.shape and len({round(v, 4) for v in moved.mean((1, 2, 3)).tolist()}) > 10  # per image
    with pytest.raises(ValueError, match="translate"):
        BatchAffine(translate=1.5)
