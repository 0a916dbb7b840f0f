"""Transfer-learning helpers: few-shot sampling, freezing, parameter groups, linear heads, distillation."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from cvlib.models.classic import SmallResNet
from cvlib.models.utils import freeze, freeze_batchnorm
from cvlib.transfer import (
    distillation_loss,
    extract_features,
    freeze_backbone,
    param_groups,
    sample_per_class,
    train_linear_head,
)


def tiny_net() -> nn.Module:
    net = SmallResNet(in_channels=3, num_classes=4, widths=(4, 8))
    return net


def test_sample_per_class_is_balanced_unique_and_reproducible():
    labels = torch.tensor([0] * 10 + [1] * 7 + [2] * 5)
    idx = sample_per_class(labels, 3, seed=1)
    assert idx.dtype == torch.int64 and len(idx) == 9
    assert len(set(idx.tolist())) == 9
    assert labels[idx].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert torch.equal(idx, sample_per_class(labels, 3, seed=1))
    assert not torch.equal(idx, sample_per_class(labels, 3, seed=2))
    # all of a class when k equals its size
    assert sorted(sample_per_class(labels, 5, seed=0)[-5:].tolist()) == list(range(17, 22))
    with pytest.raises(ValueError, match="fewer than k=6"):
        sample_per_class(labels, 6)
    with pytest.raises(ValueError, match="at least 1"):
        sample_per_class(labels, 0)


def test_freeze_and_freeze_backbone_counts():
    net = tiny_net()
    total = sum(p.numel() for p in net.parameters())
    head = net.classifier[2]  # Linear(8, 4)
    frozen, trainable = freeze_backbone(net, "classifier.2")
    assert trainable == head.weight.numel() + head.bias.numel() == 8 * 4 + 4
    assert frozen + trainable == total
    assert all(not p.requires_grad for n, p in net.named_parameters() if not n.startswith("classifier.2"))
    assert head.weight.requires_grad
    assert freeze(net) == total and not any(p.requires_grad for p in net.parameters())
    with pytest.raises(AttributeError):
        freeze_backbone(net, "no.such.layer")


def test_frozen_backbone_gets_no_gradient_and_does_not_change():
    torch.manual_seed(0)
    net = tiny_net()
    freeze_backbone(net, "classifier.2")
    before = net.features[0][0].weight.clone()
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    loss = F.cross_entropy(net(torch.rand(4, 3, 16, 16)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    opt.step()
    assert net.features[0][0].weight.grad is None
    assert torch.equal(net.features[0][0].weight, before)
    assert net.classifier[2].weight.grad is not None


def test_param_groups_split_head_and_backbone():
    net = tiny_net()
    groups = param_groups(net, "classifier.2", lr=1e-2, backbone_lr=1e-3)
    assert [g["name"] for g in groups] == ["backbone", "head"]
    assert [g["lr"] for g in groups] == [1e-3, 1e-2]
    n_head = sum(p.numel() for p in groups[1]["params"])
    n_body = sum(p.numel() for p in groups[0]["params"])
    assert n_head == 36 and n_head + n_body == sum(p.numel() for p in net.parameters())
    opt = torch.optim.Adam(groups)
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-2]
    # frozen parameters are left out
    freeze(net.features)
    assert sum(p.numel() for p in param_groups(net, "classifier.2", 1e-2, 1e-3)[0]["params"]) == 0


def test_freeze_batchnorm_keeps_outputs_and_statistics():
    torch.manual_seed(0)
    net = tiny_net()
    net.train()
    for _ in range(3):  # give the batch norms non-trivial running statistics
        net(torch.rand(8, 3, 16, 16) * 2)
    net.eval()
    x = torch.rand(5, 3, 16, 16)
    expected = net(x)
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert freeze_batchnorm(net) == n_bn > 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert sum(isinstance(m, FrozenBatchNorm2d) for m in net.modules()) == n_bn
    net.train()  # in train mode too, the pretrained statistics are used and not updated
    assert torch.allclose(net(x), expected, atol=1e-5)
    assert torch.allclose(net(x), expected, atol=1e-5)


def test_extract_features_batches_match_one_pass():
    torch.manual_seed(0)
    proj = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 5)).eval()
    images = torch.rand(23, 3, 8, 8)
    feats = extract_features(proj, images, batch_size=4, progress=False)
    assert feats.shape == (23, 5) and feats.dtype == torch.float32
    assert torch.allclose(feats, proj(images), atol=1e-6)


def test_train_linear_head_separates_separable_features():
    torch.manual_seed(0)
    centers = torch.randn(3, 16) * 3
    labels = torch.arange(3).repeat_interleave(20)
    feats = centers[labels] + torch.randn(60, 16) * 0.5
    head = train_linear_head(feats, labels, 3, steps=100, seed=0)
    assert isinstance(head, nn.Linear) and head.weight.shape == (3, 16)
    assert (head(feats).argmax(1) == labels).float().mean() == 1.0
    again = train_linear_head(feats, labels, 3, steps=100, seed=0)
    assert torch.equal(head.weight, again.weight)
    with pytest.raises(ValueError, match="differ in length"):
        train_linear_head(feats, labels[:5], 3)


def test_distillation_loss_known_values():
    teacher = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
    # identical logits: no soft loss at any temperature; the hard term is plain cross-entropy
    assert distillation_loss(teacher, teacher, temperature=3.0).abs() < 1e-6
    labels = torch.tensor([0, 1])
    ce = F.cross_entropy(teacher, labels)
    assert torch.isclose(distillation_loss(teacher, teacher, labels, alpha=0.3), 0.7 * ce, atol=1e-6)
    # a value by hand: T^2 * KL(p_t || p_s) with p = softmax(logits / T)
    student = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    t = 2.0
    p_t, p_s = (teacher / t).softmax(1), (student / t).softmax(1)
    kl = (p_t * (p_t.log() - p_s.log())).sum(1).mean() * t * t
    assert torch.isclose(distillation_loss(student, teacher, temperature=t), kl, atol=1e-6)
    # unlabelled examples (-1) only get the soft term
    mixed = distillation_loss(student, teacher, torch.tensor([0, -1]), temperature=t, alpha=0.5)
    expected = 0.5 * kl + 0.5 * F.cross_entropy(student[:1], labels[:1])
    assert torch.isclose(mixed, expected, atol=1e-6)
    assert torch.isclose(
        distillation_loss(student, teacher, torch.tensor([-1, -1]), temperature=t, alpha=0.5), 0.5 * kl
    )


def test_distillation_gradient_flows_to_student_only():
    student = torch.zeros(2, 3, requires_grad=True)
    teacher = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.0, 3.0]], requires_grad=True)
    distillation_loss(student, teacher, temperature=4.0).backward()
    assert student.grad is not None and teacher.grad is None
    # the student is pushed toward the teacher's favourite class
    assert student.grad[0, 0] < 0 and student.grad[1, 2] < 0


def test_higher_temperature_gives_softer_targets():
    logits = torch.tensor([[4.0, 1.0, 0.0]])
    entropies = [-(p * p.log()).sum().item() for p in [(logits / t).softmax(1) for t in (1.0, 2.0, 8.0)]]
    assert entropies[0] < entropies[1] < entropies[2] < math.log(3)


def test_distillation_bad_arguments():
    a = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss(a, a, temperature=0)
    with pytest.raises(ValueError, match="alpha"):
        distillation_loss(a, a, alpha=1.5)
    with pytest.raises(ValueError, match="differ in shape"):
        distillation_loss(a, torch.zeros(2, 4))
