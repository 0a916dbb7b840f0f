"""cvlib.attacks: the threat model (L-infinity ball, [0, 1]), known values, targeted attacks,
model state left as found, accuracy under attack, and clear errors on bad input."""

from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cvlib.attacks import accuracy_under_attack, fgsm, fgsm_targeted, pgd, pgd_targeted
from cvlib.models.utils import frozen_eval

TOL = 1e-6  # float32 rounding of x + eps - x

ATTACKS = {
    "fgsm": fgsm,
    "fgsm_targeted": fgsm_targeted,
    "pgd": partial(pgd, steps=5, generator=torch.Generator().manual_seed(0)),
    "pgd_no_random_start": partial(pgd, steps=5, random_start=False),
    "pgd_targeted": partial(pgd_targeted, steps=5, generator=torch.Generator().manual_seed(0)),
}


class TinyCNN(nn.Module):
    """Conv + batch norm + dropout + linear head: every layer whose mode matters."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(4 * 8 * 8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(torch.relu(self.bn(self.conv(x)))).flatten(1))


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TinyCNN().eval()


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(6, 3, 8, 8, generator=g)
    x[0] = 0.0  # pixels on both edges of the valid range
    x[1] = 1.0
    y = torch.randint(0, 5, (6,), generator=g)
    return x, y


def probs(model, x):
    with torch.no_grad():
        return model(x).softmax(1)


@pytest.mark.parametrize("name", list(ATTACKS))
@pytest.mark.parametrize("eps", [1 / 255, 0.03, 0.3, 1.0])
def test_perturbation_within_ball_and_image_range(model, batch, name, eps):
    x, y = batch
    x_adv = ATTACKS[name](model, x, y, eps)
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype
    assert (x_adv - x).abs().max() <= eps + TOL
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert not x_adv.requires_grad
    assert (x_adv != x).any()  # it did something


@pytest.mark.parametrize("name", list(ATTACKS))
def test_epsilon_zero_returns_the_input_unchanged(model, batch, name):
    x, y = batch
    x_adv = ATTACKS[name](model, x, y, 0.0)
    assert torch.equal(x_adv, x)
    assert x_adv is not x  # a copy: changing it does not change the input


def test_fgsm_known_value_on_a_linear_model():
    # logits = W x + b, cross-entropy: grad_x = W^T (softmax - onehot), so FGSM is known in closed form.
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x = torch.rand(4, 1, 3, 4) * 0.8 + 0.1
    y = torch.tensor([0, 1, 2, 1])
    W = linear[1].weight.detach()
    p = probs(linear, x)
    grad = (p - F.one_hot(y, 3).float()) @ W
    expected = (x + 0.05 * grad.sign().view_as(x)).clamp(0, 1)
    assert torch.allclose(fgsm(linear, x, y, 0.05), expected, atol=1e-7)
    # targeted moves the other way
    expected_t = (x - 0.05 * grad.sign().view_as(x)).clamp(0, 1)
    assert torch.allclose(fgsm_targeted(linear, x, y, 0.05), expected_t, atol=1e-7)


def test_pgd_with_one_full_step_and_no_random_start_is_fgsm(model, batch):
    x, y = batch
    one_step = pgd(model, x, y, 0.1, steps=1, step_size=0.1, random_start=False)
    assert torch.allclose(one_step, fgsm(model, x, y, 0.1), atol=1e-7)


def test_untargeted_attacks_raise_the_loss(model, batch):
    x, y = batch
    clean = F.cross_entropy(model(x), y).item()
    assert F.cross_entropy(model(fgsm(model, x, y, 0.05)), y).item() > clean
    assert F.cross_entropy(model(pgd(model, x, y, 0.05, steps=10)), y).item() > clean


@pytest.mark.parametrize("attack", [fgsm_targeted, partial(pgd_targeted, steps=10, random_start=False)])
def test_targeted_attacks_raise_the_target_probability(model, batch, attack):
    x, _ = batch
    target = probs(model, x).argmin(1)  # the least likely class of each image
    before = probs(model, x).gather(1, target[:, None])
    after = probs(model, attack(model, x, target, 0.05)).gather(1, target[:, None])
    assert (after > before).all()


def test_pgd_is_at_least_as_strong_as_fgsm_here(model, batch):
    x, y = batch
    loss_fgsm = F.cross_entropy(model(fgsm(model, x, y, 0.03)), y).item()
    loss_pgd = F.cross_entropy(model(pgd(model, x, y, 0.03, steps=20, random_start=False)), y).item()
    assert loss_pgd >= loss_fgsm


def test_pgd_random_start_is_reproducible_with_a_generator(model, batch):
    x, y = batch
    a = pgd(model, x, y, 0.1, steps=3, generator=torch.Generator().manual_seed(5))
    b = pgd(model, x, y, 0.1, steps=3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("name", list(ATTACKS))
def test_model_state_is_left_as_found(batch, name, training):
    torch.manual_seed(0)
    model = TinyCNN().train(training)
    model.conv.weight.requires_grad_(False)  # a partly frozen model
    model.drop.eval()  # a sub-module in a different mode than its parent
    flags = [p.requires_grad for p in model.parameters()]
    modes = [m.training for m in model.modules()]
    running_mean = model.bn.running_mean.clone()
    x, y = batch
    ATTACKS[name](model, x, y, 0.1)
    assert [p.requires_grad for p in model.parameters()] == flags
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(model.bn.running_mean, running_mean)  # the attack ran in eval mode


def test_frozen_eval_restores_even_after_an_error():
    model = TinyCNN().train()
    with pytest.raises(RuntimeError), frozen_eval(model):
        assert not model.training and not any(p.requires_grad for p in model.parameters())
        raise RuntimeError("boom")
    assert model.training and all(p.requires_grad for p in model.parameters())


def loader_of(x, y, batch_size=4):
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def test_accuracy_under_attack(model):
    g = torch.Generator().manual_seed(2)
    x = torch.rand(10, 3, 8, 8, generator=g)
    with torch.no_grad():
        y = model(x).argmax(1)
    y[:3] = (y[:3] + 1) % 5  # 7 of 10 correct before any attack
    model.train()
    result = accuracy_under_attack(model, loader_of(x, y), fgsm, [0.0, 0.01, 0.5, 0.0], progress=False)
    assert list(result) == [0.0, 0.01, 0.5]  # in order, duplicates removed
    assert result[0.0] == pytest.approx(0.7)
    assert 0.0 <= result[0.5] <= result[0.0]
    assert result[0.5] < 0.7  # a large epsilon fools it somewhere
    assert model.training  # left as found
    pgd_result = accuracy_under_attack(model, loader_of(x, y), partial(pgd, steps=3), [0.0], progress=False)
    assert pgd_result[0.0] == pytest.approx(0.7)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_negative_epsilon_is_a_clear_error(model, batch, name):
    x, y = batch
    with pytest.raises(ValueError, match="epsilon must be a finite number >= 0"):
        ATTACKS[name](model, x, y, -0.1)


@pytest.mark.parametrize("eps", [float("nan"), float("inf")])
def test_non_finite_epsilon_is_a_clear_error(model, batch, eps):
    x, y = batch
    with pytest.raises(ValueError, match="epsilon"):
        fgsm(model, x, y, eps)


@pytest.mark.parametrize("name", list(ATTACKS))
@pytest.mark.parametrize("shift", [-0.5, 0.5])
def test_inputs_outside_the_unit_range_are_a_clear_error(model, batch, name, shift):
    x, y = batch
    with pytest.raises(ValueError, match=r"must be pixels in \[0, 1\].*normalisation inside the model"):
        ATTACKS[name](model, x + shift, y, 0.1)


def test_normalised_images_are_rejected_even_at_epsilon_zero(model, batch):
    x, y = batch
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fgsm(model, (x - 0.5) / 0.25, y, 0.0)


def test_other_bad_inputs(model, batch):
    x, y = batch
    with pytest.raises(ValueError, match="add the batch dimension"):
        fgsm(model, x[0], y[:1], 0.1)
    with pytest.raises(ValueError, match=r"must be a batch of shape \(B, C, H, W\)"):
        fgsm(model, x[0, 0, 0], y[:1], 0.1)
    with pytest.raises(ValueError, match="must be float.*/ 255"):
        fgsm(model, (x * 255).to(torch.uint8), y, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        fgsm(model, torch.full_like(x, float("nan")), y, 0.1)
    with pytest.raises(ValueError, match="one per image"):
        fgsm(model, x, y[:2], 0.1)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        pgd(model, x, y, 0.1, steps=0)
    with pytest.raises(ValueError, match="step_size must be a number > 0"):
        pgd(model, x, y, 0.1, step_size=-0.01)
    with pytest.raises(ValueError, match="epsilons is empty"):
        accuracy_under_attack(model, loader_of(x, y), fgsm, [], progress=False)
    with pytest.raises(ValueError, match="epsilon must be a finite number >= 0"):
        accuracy_under_attack(model, loader_of(x, y), fgsm, [0.0, -0.1], progress=False)
    with pytest.raises(ValueError, match="no images"):
        accuracy_under_attack(model, [], fgsm, [0.1], progress=False)
