"""One clear line for every bad image batch (cvlib.validate), at the public entry points that take images."""

import pytest
import skimage.data
import torch

from cvlib.attacks import accuracy_under_attack, fgsm
from cvlib.explain import grad_cam
from cvlib.models.classic import SmallVGG
from cvlib.models.pretrained import load_pretrained
from cvlib.train import predict, train_one_epoch
from cvlib.validate import check_images

GOOD = torch.rand(2, 3, 8, 8)


@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        ([[0.0]], {}, r"must be a torch.Tensor of shape \(B, C, H, W\), got list"),
        (torch.rand(3, 8, 8), {}, r"one image of shape \(3, 8, 8\): add the batch dimension with x.unsqueeze\(0\)"),
        (torch.rand(8, 8), {}, r"must be a batch of shape \(B, C, H, W\), got shape \(8, 8\)"),
        (torch.rand(2, 8, 8, 3), {"channels": 3}, r"must have 3 channel.*channels last\? use x.permute\(0, 3, 1, 2\)"),
        (torch.rand(2, 1, 8, 8), {"channels": 3}, r"must have 3 channel.*in_channels=1"),
        (torch.rand(0, 3, 8, 8), {}, "empty batch"),
        (torch.rand(2, 3, 4, 4), {"min_size": 8}, "at least 8x8 pixels"),
        (
            torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
            {},
            r"must be float, got torch.uint8: convert with x.float\(\) / 255",
        ),
        (GOOD * 255, {"unit_range": True}, "looks like 0-255 pixels, divide by 255"),
        (GOOD - 0.5, {"unit_range": True}, r"must be pixels in \[0, 1\].*before normalisation"),
        (GOOD * 1.5, {"unit_range": True}, r"must be pixels in \[0, 1\]"),
    ],
)
def test_each_bad_batch_has_its_own_one_line_error(x, kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message) as err:
        check_images(x, **kwargs)
    assert "\n" not in str(err.value)


def test_nan_and_inf_are_named_with_their_count():
    x = GOOD.clone()
    x[0, 0, 0, :2] = float("nan")
    x[1, 2, 3, 4] = float("inf")
    with pytest.raises(ValueError, match=r"contain 3 NaN or infinite value"):
        check_images(x)
    check_images(x, finite=False)  # shape and dtype only: accepted


def test_a_good_batch_passes_and_the_argument_is_named():
    check_images(GOOD, channels=3, unit_range=True, min_size=8)
    with pytest.raises(ValueError, match="^the photos must be float"):
        check_images(GOOD.double().to(torch.int32), what="the photos")


def test_a_uint8_photo_into_the_pretrained_classifier_is_an_error_not_a_wrong_class():
    backbone = load_pretrained("efficientnet_lite0")
    photo = torch.from_numpy(skimage.data.chelsea()).permute(2, 0, 1)[None]  # (1, 3, H, W) uint8
    with pytest.raises(ValueError, match=r"pretrained classifier must be float, got torch.uint8"):
        backbone.model(photo)
    with pytest.raises(ValueError, match="looks like 0-255 pixels, divide by 255"):
        backbone.model(photo.float())
    assert backbone.model(photo.float() / 255).shape == (1, 1000)


def test_a_nan_pixel_is_an_error_for_grad_cam_not_an_all_zero_map():
    model = SmallVGG(in_channels=3, num_classes=2, widths=(4, 8))
    x = torch.rand(1, 3, 16, 16)
    x[0, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="images to explain contain 1 NaN"):
        grad_cam(model, x, layer="features")


def test_attack_epsilon_above_one_suggests_dividing_by_255():
    model = SmallVGG(in_channels=1, num_classes=2, widths=(4, 8))
    x, y = torch.rand(2, 1, 16, 16), torch.tensor([0, 1])
    with pytest.raises(ValueError, match=r"epsilon 8 is larger than the whole \[0, 1\] pixel range.*8/255"):
        fgsm(model, x, y, 8)
    assert fgsm(model, x, y, 8 / 255).shape == x.shape


def test_a_single_epsilon_is_accepted_where_a_list_is_expected():
    model = SmallVGG(in_channels=1, num_classes=2, widths=(4, 8))
    loader = [(torch.rand(4, 1, 16, 16), torch.tensor([0, 1, 0, 1]))]
    scalar = accuracy_under_attack(model, loader, fgsm, 0.1, progress=False)
    assert list(scalar) == [0.1]
    assert scalar == accuracy_under_attack(model, loader, fgsm, [0.1], progress=False)


def test_an_empty_loader_is_an_error_in_training_and_prediction():
    model = SmallVGG(in_channels=1, num_classes=2, widths=(4, 8))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="training loader gave no batch"):
        train_one_epoch(model, [], optimizer, progress=False)
    model.train()
    with pytest.raises(ValueError, match="nothing to predict"):
        predict(model, [])
    assert model.training, "predict puts the model's mode back, also when it raises"
