"""cvlib.keypoints.training: left/right-aware flips, the training loop and batched inference."""

import pytest
import torch
from torch import nn

from cvlib.keypoints import flip_keypoints, forward_batches, soft_argmax, train_keypoints


def test_flip_mirrors_x_and_swaps_left_and_right():
    kp = torch.tensor([[[2.0, 5.0, 2], [7.0, 1.0, 1], [0.0, 0.0, 0], [3.0, 3.0, 2]]])  # (1, 4, 3)
    out = flip_keypoints(kp, width=10, flip_pairs=[(1, 3)])
    expected = torch.tensor([[[7.0, 5.0, 2], [6.0, 3.0, 2], [0.0, 0.0, 0], [2.0, 1.0, 1]]])
    assert torch.equal(out, expected)
    assert torch.equal(flip_keypoints(out, 10, [(1, 3)]), kp)  # flipping twice is the identity
    assert torch.equal(kp[0, 1], torch.tensor([7.0, 1.0, 1]))  # the input is not modified


def test_flipped_keypoint_lands_on_the_flipped_pixel():
    image = torch.zeros(1, 3, 8, 12)
    image[0, :, 2, 9] = 1.0  # pixel centre (x=9, y=2)
    kp = torch.tensor([[[9.0, 2.0, 2]]])
    fx, fy, _ = flip_keypoints(kp, 12, [])[0, 0].tolist()
    assert image.flip(-1)[0, 0, int(fy), int(fx)] == 1.0


def test_flip_errors():
    with pytest.raises(ValueError, match=r"\(x, y, v\)"):
        flip_keypoints(torch.zeros(3, 2), 10, [])
    with pytest.raises(ValueError, match="outside"):
        flip_keypoints(torch.zeros(1, 2, 3), 10, [(0, 5)])


def dot_task(n=32, size=16, seed=0):
    """Images with one bright pixel; its centre is the keypoint."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.randint(2, size - 2, (n, 2), generator=g)
    images = torch.zeros(n, 3, size, size, dtype=torch.uint8)
    images[torch.arange(n), :, xy[:, 1], xy[:, 0]] = 255
    keypoints = torch.cat([xy.float(), torch.full((n, 1), 2.0)], dim=1)[:, None]  # (n, 1, 3)
    return images, keypoints


class DotNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Conv2d(3, 4, 1)
        self.head = nn.Conv2d(4, 1, 1)

    def forward(self, x):
        return self.head(torch.relu(self.encoder(x)))


def loss_fn(heat, kp):
    return (soft_argmax(heat, beta=20.0) - kp[..., :2]).abs().mean()


def test_training_learns_the_dot_deterministically_and_leaves_eval_mode():
    images, keypoints = dot_task()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = DotNet()
        losses = train_keypoints(
            model, images, keypoints, loss_fn=loss_fn, steps=60, batch_size=8, lr=0.05, flip_pairs=[], progress=False
        )
        runs.append(losses)
        assert not model.training and len(losses) == 60
    assert runs[0] == runs[1]
    assert sum(runs[0][-10:]) / 10 < 0.5 * sum(runs[0][:10]) / 10


def test_encoder_lr_zero_keeps_the_encoder():
    images, keypoints = dot_task()
    torch.manual_seed(0)
    model = DotNet()
    before = model.encoder.weight.clone()
    head = model.head.weight.clone()
    train_keypoints(model, images, keypoints, loss_fn=loss_fn, steps=5, lr=0.05, encoder_lr=0.0, progress=False)
    assert torch.equal(model.encoder.weight, before) and not torch.equal(model.head.weight, head)


def test_training_errors():
    images, keypoints = dot_task(4)
    with pytest.raises(ValueError, match="one keypoint set per image"):
        train_keypoints(DotNet(), images, keypoints[:2], loss_fn=loss_fn, steps=1)
    with pytest.raises(ValueError, match=r"\(N, K, 3\)"):
        train_keypoints(DotNet(), images, keypoints[..., :2], loss_fn=loss_fn, steps=1)
    with pytest.raises(ValueError, match="steps"):
        train_keypoints(DotNet(), images, keypoints, loss_fn=loss_fn, steps=0)
    with pytest.raises(FloatingPointError):
        train_keypoints(
            DotNet(), images, keypoints, loss_fn=lambda h, k: h.sum() * float("nan"), steps=1, progress=False
        )


def test_forward_batches_matches_one_pass_and_restores_the_mode():
    images, _ = dot_task(10)
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Dropout(0.9)).train()
    out = forward_batches(model, images, batch_size=3)
    model.eval()
    with torch.no_grad():
        direct = model(images.float() / 255)
    assert torch.allclose(out, direct) and out.shape == (10, 2, 16, 16)
    model.train()
    forward_batches(model, images)
    assert model.training
    with pytest.raises(ValueError, match=r"\(N >= 1, 3, H, W\)"):
        forward_batches(model, images[:0])
