"""cvlib.detection.engine: the warm-up + cosine schedule and one training epoch."""

import math

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import SequentialLR
from torch.utils.data import DataLoader

from cvlib.data.shapes import ShapesDataset
from cvlib.detection import (
    collate_detection,
    detection_transforms,
    train_one_epoch,
    warmup_cosine,
)

LOSSES = {"loss", "loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg"}


def lrs_of(warmup_iters, total_iters, warmup_factor=0.01, lr=1.0):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = warmup_cosine(opt, warmup_iters=warmup_iters, total_iters=total_iters, warmup_factor=warmup_factor)
    lrs = []
    for _ in range(total_iters + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return sched, lrs


def test_schedule_is_torch_sequential_lr():
    sched, _ = lrs_of(10, 110)
    assert isinstance(sched, SequentialLR)


def test_schedule_starts_at_the_warmup_factor_peaks_after_warmup_and_ends_at_zero():
    _, lrs = lrs_of(10, 110, warmup_factor=0.01)
    assert lrs[0] == pytest.approx(0.01)
    assert lrs[5] == pytest.approx(0.01 + 0.99 * 0.5)  # linear warm-up
    assert lrs[10] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.5)  # half way through the cosine
    assert lrs[35] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.25)))
    assert lrs[110] == pytest.approx(0.0, abs=1e-12)


def test_schedule_rises_during_warmup_and_falls_after():
    _, lrs = lrs_of(10, 110)
    assert np.all(np.diff(lrs[:11]) > 0) and np.all(np.diff(lrs[10:]) <= 0)


def test_schedule_without_warmup_is_a_plain_cosine():
    _, lrs = lrs_of(0, 4, lr=0.02)
    assert lrs == pytest.approx([0.02 * 0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(5)])


@pytest.mark.parametrize(
    ("warmup", "total", "factor", "message"),
    [(5, 4, 1e-3, "warmup_iters <= total_iters"), (0, 0, 1e-3, "total_iters >= 1"), (1, 4, 0.0, "warmup_factor")],
)
def test_schedule_refuses_bad_arguments(warmup, total, factor, message):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match=message):
        warmup_cosine(opt, warmup, total, factor)


def shapes_loader(n=4):
    return DataLoader(
        ShapesDataset(n, seed=2, size=64, transforms=detection_transforms(True)),
        batch_size=2,
        collate_fn=collate_detection,
    )


def test_one_epoch_returns_every_mask_rcnn_loss_and_their_sum(small_model):
    opt = torch.optim.SGD([p for p in small_model.parameters() if p.requires_grad], lr=0.005, momentum=0.9)
    losses = train_one_epoch(small_model, shapes_loader(), opt, progress=False)
    assert set(losses) == LOSSES
    assert losses["loss"] == pytest.approx(sum(v for k, v in losses.items() if k != "loss"))
    assert all(v >= 0 for v in losses.values())


def test_one_epoch_steps_the_scheduler_and_logs_every_iteration(small_model):
    params = [p for p in small_model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.005, momentum=0.9)
    sched = warmup_cosine(opt, warmup_iters=1, total_iters=2)
    before = [p.detach().clone() for p in params]
    log = []
    losses = train_one_epoch(small_model, shapes_loader(), opt, scheduler=sched, epoch=3, log=log, progress=False)
    assert len(log) == 2 and set(log[0]) == LOSSES | {"lr"}
    assert [r["lr"] for r in log] == pytest.approx([0.005, 0.0])  # after step 1: end of warm-up; after step 2: end
    assert losses["loss"] == pytest.approx(np.mean([r["loss"] for r in log]))
    assert any(not torch.equal(b, p) for b, p in zip(before, params))


def test_one_epoch_takes_loader_before_optimizer_and_options_by_keyword(small_model):
    opt = torch.optim.SGD([p for p in small_model.parameters() if p.requires_grad], lr=0.005)
    with pytest.raises(TypeError):
        train_one_epoch(small_model, shapes_loader(2), opt, "cpu")


def test_one_epoch_refuses_an_empty_loader():
    model = torch.nn.Linear(1, 1)
    with pytest.raises(ValueError, match="empty loader"):
        train_one_epoch(model, [], torch.optim.SGD(model.parameters(), lr=0.1), progress=False)


def test_one_epoch_stops_on_a_non_finite_loss():
    class Exploding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, images, targets):
            return {"loss_classifier": self.w * float("nan")}

    model = Exploding()
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train_one_epoch(
            model, [([torch.zeros(3, 4, 4)], [{}])], torch.optim.SGD(model.parameters(), lr=0.1), progress=False
        )
